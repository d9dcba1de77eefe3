"""The story admin: the edit form that refuses stale saves, who may edit what,
revisions on every save, and the workflow buttons, actions and pages
(stories/admin/story_views.py)."""

from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import lookup_spawns_duplicates, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, F, Max, Min, OuterRef, Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from stories.admin.base import (
    CheckedAutocompletes,
    CheckedAutocompleteSelect,
    FreeSlugVariant,
    VersionCheckedForm,
    zoned_time,
)
from stories.admin.issues import is_issue_story_picker
from stories.admin.story_views import StoryWorkflowViews
from stories.editorial import revisions, scheduling, workflow
from stories.models import (
    AuditEntry,
    Citation,
    GuestByline,
    Section,
    Story,
    TaggedTopic,
    Topic,
)
from stories.people import display_name, person_label
from stories.publishing.changes import StoryChangesFollow, story_changed

TOPIC_NAME_LENGTH = Topic._meta.get_field("name").max_length


class StoryForm(FreeSlugVariant, VersionCheckedForm):
    """The story form refuses a save over a change made since it was opened,
    showing what changed (stories/revisions.py)."""

    class Meta:
        model = Story
        # The admin narrows this to its fieldsets; listed so a new model field
        # is never editable by accident.
        fields = [
            "headline",
            "slug",
            "dek",
            "newsletter",
            "section",
            "authors",
            "tldr",
            "body",
            "why_it_matters",
            "key_points",
            "lead_image",
            "lead_image_alt",
            "lead_image_caption",
            "lead_image_credit",
        ]

    new_topics = forms.CharField(
        label="Propose new topics",
        required=False,
        max_length=1000,
        help_text="Comma-separated, for topics not yet in the Topics list: they are created with "
        "the story, and editors can rename or merge them later.",
    )

    conflict = None  # what changed in between, once a save was refused as stale
    # After a refusal, the labels of the fields whose changes made in between
    # the form took in (its user had left them alone), those changed on both
    # sides (the user's version is kept, shown against theirs), and those a
    # form cannot take in (topic and citation rows, the image): the form must
    # then be reloaded before it can be saved.
    taken_in, changed_on_both_sides, unmergeable = (), (), ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "body" in self.fields:
            # static/js/markdown-preview.js shows the body as readers will
            # read it, beside the text, from this address.
            self.fields["body"].widget.attrs["data-markdown-preview"] = reverse(
                "admin:stories_story_markdown_preview"
            )

    def clean_new_topics(self):
        names = []
        for name in (self.cleaned_data.get("new_topics") or "").split(","):
            name = " ".join(name.split())
            if not name:
                continue
            if len(name) > TOPIC_NAME_LENGTH:
                raise forms.ValidationError(
                    f"“{name[:40]}…” is longer than {TOPIC_NAME_LENGTH} characters; "
                    "a topic is a short name."
                )
            if name.casefold() not in {n.casefold() for n in names}:
                names.append(name)
        return names

    def full_clean(self):
        super().full_clean()
        self._say_when_an_upload_is_dropped()

    def _say_when_an_upload_is_dropped(self, refused_elsewhere: bool = False):
        """A browser cannot put a chosen file back into a form shown again, so
        a form refused for any other field (or for a row of its citations,
        bylines or topics: refused_elsewhere) would silently lose the image
        the writer picked. Say so beside the field, naming the file."""
        if not self.is_bound or not (self._errors or refused_elsewhere):
            return
        name = self.add_prefix("lead_image")
        upload = self.files.get(name) if self.files else None
        if upload is None or "lead_image" in self._errors:
            return
        self._errors["lead_image"] = self.error_class(
            [
                f"The image you chose ({upload.name}) was not saved because the form has "
                "other errors; choose it again before saving."
            ]
        )

    def stale_message(self, seen, opened_at):
        self.conflict = revisions.describe_conflict(self.instance.pk, seen, opened_at)
        return self.conflict.message

    def take_in_changes(self, data) -> bool:
        taken, kept, unmergeable = [], [], []
        before, after = self.conflict.before, self.conflict.after
        for change in self.conflict.changes:
            name = self.add_prefix(change.key)
            if change.key in revisions.TEXT_FIELDS:
                if (data.get(name) or "").replace("\r\n", "\n") == change.before:
                    data[name] = change.after  # untouched here: take theirs
                    taken.append(change.label)
                else:
                    kept.append(change.label)  # changed on both sides: shown above
            elif change.key == "authors":
                posted = sorted(int(pk) for pk in data.getlist(name) if pk.isdigit())
                if posted == revisions.people_ids(before.get("authors", [])):
                    data.setlist(
                        name, [str(pk) for pk in revisions.people_ids(after.get("authors", []))]
                    )
                    taken.append(change.label)
                else:
                    kept.append(change.label)
            else:
                unmergeable.append(change.label)
        self.taken_in, self.changed_on_both_sides, self.unmergeable = taken, kept, unmergeable
        return not unmergeable


class CappedCountPaginator(Paginator):
    """Counts the changelist's stories only up to CAP: past it, an exact
    count of a large archive costs more than the page itself and tells an
    editor nothing a filter or search would not. Pages go up to the cap."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


class StoryChangeList(ChangeList):
    def get_filters(self, request, *args, **kwargs):
        specs, has_filters, remaining, _, active = super().get_filters(request, *args, **kwargs)
        # The topic and source filters filter by EXISTS (used_only), so only
        # other lookups in the address can repeat stories.
        duplicates = any(lookup_spawns_duplicates(self.lookup_opts, key) for key in remaining)
        return specs, has_filters, remaining, duplicates, active

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        # The date hierarchy's years from the first and last dates alone.
        queryset.__class__ = YearsFromRange
        return queryset


class YearsFromRange(type(Story.objects.all())):
    """The admin's date hierarchy reads the first and last dates of the
    listed stories with MIN and MAX, which the database, once a filter is
    applied, computes over every matching story; and it lists the years that
    hold stories with one DISTINCT over them all. Here both come from the
    first and the last story in date order (two walks of the date index that
    stop at the first match), and the years are those between them (a year
    without stories, if any, lists none). Months and days, read within one
    year, are left to Django."""

    def aggregate(self, *args, **kwargs):
        first, last = kwargs.get("first"), kwargs.get("last")
        if args or set(kwargs) != {"first", "last"} or not _bounds_of_one_field(first, last):
            return super().aggregate(*args, **kwargs)
        field = first.source_expressions[0].name
        known = self.__dict__.setdefault("_date_bounds", {})  # asked twice per page
        if field not in known:
            dates = self.order_by().values_list(field, flat=True)
            known[field] = {
                "first": dates.order_by(field).first(),
                "last": dates.order_by(f"-{field}").first(),
            }
        return dict(known[field])

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        if kind != "year":
            return super().datetimes(field_name, kind, order, tzinfo)
        bounds = self.aggregate(first=Min(field_name), last=Max(field_name))
        if bounds["first"] is None:
            return []
        zone = timezone.get_current_timezone()
        first, last = (timezone.localtime(bounds[k], zone).year for k in ("first", "last"))
        years = range(first, last + 1) if order == "ASC" else range(last, first - 1, -1)
        return [datetime(year, 1, 1, tzinfo=zone) for year in years]


def _bounds_of_one_field(first, last) -> bool:
    return (
        isinstance(first, Min)
        and isinstance(last, Max)
        and isinstance(first.source_expressions[0], F)
        and first.source_expressions[0] == last.source_expressions[0]
    )


def used_only(through, link: str, story: str, title: str):
    """A related filter offering only the topics or sources some story uses:
    one EXISTS per choice on the link table's index, rather than Django's
    RelatedOnlyFieldListFilter, which reads the link of every story. A
    chosen one filters by EXISTS too: a join would repeat stories, and the
    admin would then ask for DISTINCT over every matching story."""

    class UsedOnly(admin.RelatedFieldListFilter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

        def queryset(self, request, queryset):
            values = self.used_parameters.get(self.lookup_kwarg)
            if values is None:
                return super().queryset(request, queryset)
            values = [values] if isinstance(values, str) else list(values)
            if not all(str(v).isascii() and str(v).isdigit() and len(str(v)) < 19 for v in values):
                # Ids only, within what the database's integers hold.
                raise IncorrectLookupParameters(f"Not an id: {values}")
            try:
                rows = through.objects.filter(**{f"{link}__in": values, story: OuterRef("pk")})
                return queryset.filter(Exists(rows))
            except (ValueError, ValidationError) as error:
                raise IncorrectLookupParameters(error) from error

        def field_choices(self, field, request, model_admin):
            used = Q(Exists(through.objects.filter(**{link: OuterRef("pk")})))
            ordering = self.field_admin_ordering(field, request, model_admin)
            return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=used)

    return UsedOnly


class FollowsStoryPermission:
    """Inline mixin: the story's rows are editable exactly when the story is."""

    def _story_editable(self, request, obj):
        return obj is None or self.admin_site._registry[Story].story_editable(request, obj)

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and self._story_editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._story_editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._story_editable(request, obj)


class RowAutocompleteSelect(CheckedAutocompleteSelect):
    """An autocomplete whose selected option is its row's own related object,
    loaded with the row, rather than read again by one query per row."""

    selected_object = None

    def optgroups(self, name, value, attr=None):
        selected = self.selected_object
        if selected is None or [str(v) for v in value if v] != [str(selected.pk)]:
            return super().optgroups(name, value, attr)  # the user chose another one
        options = [] if self.is_required else [self.create_option(name, "", "", False, 0)]
        label = self.choices.field.label_from_instance(selected)
        options.append(self.create_option(name, selected.pk, label, True, len(options)))
        return [(None, options, 0)]


class RelatedRowInline(FollowsStoryPermission, admin.TabularInline):
    """A story's rows (topics, citations) with their one related object
    (``related``) loaded in the same query and reused by its autocomplete, so
    the form costs the same whatever the number of rows."""

    related: str
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(self.related)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == self.related:
            kwargs["widget"] = RowAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        related = self.related

        class RowForm(formset.form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if self.instance.pk is not None and related in self.fields:
                    widget = self.fields[related].widget
                    # Inside the admin's add/change links wrapper when it has one.
                    widget = getattr(widget, "widget", widget)
                    widget.selected_object = getattr(self.instance, related)

        formset.form = RowForm
        return formset


class CitationInline(RelatedRowInline):
    model = Citation
    related = "source"
    autocomplete_fields = ["source"]
    fields = ["position", "source", "url", "title", "note"]


class GuestBylineInline(RelatedRowInline):
    """Bylines of contributors who have no staff account (a guest, a columnist)."""

    model = GuestByline
    related = "contributor"
    autocomplete_fields = ["contributor"]
    fields = ["position", "contributor"]
    verbose_name = "guest byline"
    verbose_name_plural = "guest bylines (contributors without an account)"

    # A byline is part of the story: whoever may edit the story may edit its
    # guest bylines, without a permission of their own to hand out.
    def _writes(self, request) -> bool:
        user = request.user
        return user.has_perm("stories.add_story") or user.has_perm("stories.change_story")

    def has_view_permission(self, request, obj=None):
        return self._writes(request) or request.user.has_perm("stories.view_story")

    def has_add_permission(self, request, obj=None):
        return self._writes(request) and self._story_editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._writes(request) and self._story_editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._writes(request) and self._story_editable(request, obj)


class TopicFormSet(forms.BaseInlineFormSet):
    @classmethod
    def get_default_prefix(cls):
        # TaggedTopic's link to Story has no reverse name to derive one from.
        return "topics"


class TopicInline(RelatedRowInline):
    model = TaggedTopic
    related = "tag"
    formset = TopicFormSet
    autocomplete_fields = ["tag"]
    verbose_name = "topic"
    verbose_name_plural = "topics"


@admin.register(Story)
class StoryAdmin(StoryWorkflowViews, CheckedAutocompletes, StoryChangesFollow, admin.ModelAdmin):
    form = StoryForm
    list_display = ["headline", "state", "bylines", "updated_at_zoned"]
    list_filter = [
        "status",
        ("topics", used_only(TaggedTopic, "tag", "content_object", "topic")),
        # Every story that leans on an outlet; only sources some story cites.
        ("sources", used_only(Citation, "source", "story", "cited source")),
    ]
    # Served on PostgreSQL by trigram indexes (migration 0016_archive_admin).
    search_fields = ["headline", "dek", "slug"]
    date_hierarchy = "created_at"
    # An archive of hundreds of thousands of stories: no second count of
    # them all on every page, and the page's own count capped.
    show_full_result_count = False
    paginator = CappedCountPaginator
    prepopulated_fields = {"slug": ["headline"]}
    autocomplete_fields = ["authors"]
    inlines = [GuestBylineInline, CitationInline, TopicInline]
    exclude = ["topics"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "headline",
                    "slug",
                    "dek",
                    "newsletter",
                    "section",
                    "authors",
                    "new_topics",
                ]
            },
        ),
        ("Story", {"fields": ["tldr", "body", "why_it_matters", "key_points"]}),
        (
            "Lead image",
            {"fields": ["lead_image", "lead_image_alt", "lead_image_caption", "lead_image_credit"]},
        ),
    ]
    actions = ["submit_selected", "approve_selected"]

    class Media:
        js = ["js/markdown-preview.js"]

    def get_queryset(self, request):
        # Whether readers see each story, read with the rows, for its status column.
        readers_see_it = Exists(Story.objects.published().filter(pk=OuterRef("pk")))
        return (
            super()
            .get_queryset(request)
            .prefetch_related("authors")
            .annotate(readers_see_it=readers_see_it)
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "section":
            # Each offered as "Newsletter — Section", read in the same query.
            kwargs["queryset"] = Section.objects.select_related("newsletter")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changelist(self, request, **kwargs):
        return StoryChangeList

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "authors":
            # The chosen bylines show as the picker offers them: by name.
            field.label_from_instance = person_label
        return field

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if request.GET.get("model_name") == "correction":
            # The correction form's story picker offers what readers can see.
            queryset = queryset.filter(pk__in=Story.objects.published().values("pk"))
        elif is_issue_story_picker(request):
            # The issue form's picker offers what can go into an issue, the
            # latest approved first, with what tells namesakes apart.
            queryset = (
                queryset.filter(status=Story.Status.APPROVED)
                .select_related("newsletter")
                .order_by("-status_changed_at", "-pk")
            )
        return queryset, may_have_duplicates

    updated_at_zoned = zoned_time("updated_at", "updated")

    @admin.display(description="status", ordering="status")
    def state(self, obj):
        return scheduling.story_state_label(obj, obj.readers_see_it)

    @admin.display(description="bylines")
    def bylines(self, obj):
        return ", ".join(display_name(a) for a in obj.authors.all())

    # -- who may edit --------------------------------------------------------

    def edit_refusal(self, request, obj) -> str | None:
        """workflow.story_edit_refusal, asked once per story per request: the
        admin asks for the same story many times while drawing one page."""
        asked = request.__dict__.setdefault("_story_edit_refusals", {})
        key = (obj.pk, obj.status)
        if key not in asked:
            asked[key] = workflow.story_edit_refusal(request.user, obj)
        return asked[key]

    def story_editable(self, request, obj) -> bool:
        return self.edit_refusal(request, obj) is None

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or self.story_editable(request, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        # Read-only: nothing to propose, and no model field to show.
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "new_topics"]})
            for name, options in fieldsets
        ]

    def has_review_permission(self, request):
        return request.user.has_perm("stories.review_story")

    # -- saving --------------------------------------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST" or object_id is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        story = self.get_object(request, unquote(object_id))
        if story is None or not request.user.has_perm("stories.change_story"):
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic():
            # Held until the save commits: an issue being scheduled meanwhile
            # waits for this edit and then checks it, or was scheduled first
            # and is seen here (stories/workflow.py, lock order).
            story = workflow.lock_story_and_its_issues(story)
            request.__dict__.pop("_story_edit_refusals", None)
            refusal = self.edit_refusal(request, story)
            if refusal:
                self.message_user(request, f"Not saved: {refusal}", messages.ERROR)
                return HttpResponseRedirect(reverse("admin:stories_story_change", args=[story.pk]))
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            revisions.ensure_baseline(obj, request.user)
        else:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if form.slug_taken:
            self.message_user(
                request,
                f"Another story already uses the address “{form.slug_taken}”, so this one "
                f"is at “{obj.slug}”. Change it under Slug if you prefer another.",
                messages.WARNING,
            )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if self._add_proposed_topics(request, form.instance, form.cleaned_data.get("new_topics")):
            # Tagged after the inlines, and so after the story_changed that
            # followed them: what follows a change (the search row, the
            # listings of the story's topics) follows these topics too.
            story_changed(form.instance)
        # After the inlines, so the revision holds the topics and citations too.
        revisions.record_revision(form.instance, request.user)

    def _add_proposed_topics(self, request, story, names) -> bool:
        """Topics a writer proposed on the form: an existing one of the same
        name (in any case) is used, any other is created. Whether the story
        was tagged with any it did not carry."""
        created, tagged = [], False
        for name in names or ():
            topic = Topic.objects.filter(name__iexact=name).first()
            if topic is None:
                topic = Topic.objects.create(name=name)
                created.append(name)
            tagged |= TaggedTopic.objects.get_or_create(content_object=story, tag=topic)[1]
        if created:
            listed = ", ".join(f"“{name}”" for name in created)
            self.message_user(
                request,
                f"New topic{'s' if len(created) > 1 else ''} {listed} added; editors can rename "
                "or merge topics from the Topics page.",
                messages.INFO,
            )
        return tagged

    # -- the change form -----------------------------------------------------

    @staticmethod
    def _cited(context, obj) -> bool | None:
        """Whether the story has a citation, read from the citation rows the
        form already loaded (None: ask the database)."""
        for inline in context.get("inline_admin_formsets", ()):
            if inline.formset.model is Citation:
                return any(form.instance.pk for form in inline.formset.initial_forms)
        return None

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if request.method == "POST" and context.get("errors"):
            # Shown again for the errors of a row below the story's own fields.
            context["adminform"].form._say_when_an_upload_is_dropped(refused_elsewhere=True)
        if obj is not None and obj.pk is not None:
            transitions = workflow.offered_story_transitions(request.user, obj)
            context.update(
                transitions=transitions,
                # Said beside "Submit for review", not one round trip later
                # when an editor's approval is refused.
                approval_needs=workflow.provenance_problems(obj, self._cited(context, obj))
                if any(step.name == "submit" for step in transitions)
                else [],
                status_label=scheduling.story_state_label(
                    obj, getattr(obj, "readers_see_it", None)
                ),
                edit_refusal=None
                if self.story_editable(request, obj)
                else self.edit_refusal(request, obj),
                latest_note=AuditEntry.objects.filter(story=obj)
                .exclude(comment="")
                .select_related("actor")
                .order_by("-created_at", "-pk")
                .first(),
                revision_count=obj.revisions.count(),
                opened_at=timezone.now().isoformat(),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)
