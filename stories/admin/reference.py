"""Reference data editors curate: sources, contributors, newsletter sections,
topics, corrections, preview links."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from stories.admin.base import (
    CheckedAutocompletes,
    FreeSlugVariant,
    TimesInTheNewsroomZone,
    zoned_time,
)
from stories.models import Contributor, Correction, PreviewLink, Section, Source, Topic
from stories.publishing.changes import ShownThingChangesFollow, StoryRowChangesFollow
from stories.reader.preview import share_url

# The story list's "cited source" filter (StoryAdmin.list_filter), by source id.
CITED_SOURCE_PARAM = "sources__id__exact"


@admin.register(Source)
class SourceAdmin(ShownThingChangesFollow, admin.ModelAdmin):
    list_display = ["name", "url", "story_count"]
    search_fields = ["name", "description", "url"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_stories=Count("citations__story", distinct=True))
            .order_by("name")  # Meta.ordering does not apply to aggregate queries
        )

    @admin.display(description="stories", ordering="n_stories")
    def story_count(self, obj):
        """How many stories cite the source, linked to the list of them."""
        url = reverse("admin:stories_story_changelist")
        return format_html(
            '<a href="{}?{}">{}</a>', url, urlencode({CITED_SOURCE_PARAM: obj.pk}), obj.n_stories
        )


class ContributorForm(FreeSlugVariant, forms.ModelForm):
    slug_source = "name"  # two people may share a name; each gets an address


@admin.register(Contributor)
class ContributorAdmin(ShownThingChangesFollow, admin.ModelAdmin):
    """Contributors without a staff account. Whoever writes stories may add
    and edit them (a guest author is usually added by the writer who
    commissioned the piece); removing one is for editors."""

    list_display = ["name", "url", "story_count"]
    search_fields = ["name", "bio"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "bio", "url"]
    form = ContributorForm

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_stories=Count("bylines")).order_by("name")

    @admin.display(description="stories", ordering="n_stories")
    def story_count(self, obj):
        return obj.n_stories

    def _writes(self, request) -> bool:
        return request.user.has_perm("stories.add_story")

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self._writes(request)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or self._writes(request)

    def has_add_permission(self, request):
        return super().has_add_permission(request) or self._writes(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self._writes(request)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) or request.user.has_perm(
            "stories.edit_any_story"
        )


@admin.register(Section)
class SectionAdmin(ShownThingChangesFollow, admin.ModelAdmin):
    """The sections of each newsletter ("Posts"), kept by editors."""

    list_display = ["name", "newsletter", "position"]
    list_filter = ["newsletter"]
    list_select_related = ["newsletter"]
    search_fields = ["name", "newsletter__name"]
    fields = ["newsletter", "name", "position"]

    def _edits(self, request) -> bool:
        return request.user.has_perm("stories.edit_any_story")

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self._edits(request)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or self._edits(request)

    def has_add_permission(self, request):
        return super().has_add_permission(request) or self._edits(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self._edits(request)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) or self._edits(request)


@admin.register(Topic)
class TopicAdmin(ShownThingChangesFollow, admin.ModelAdmin):
    list_display = ["name", "slug", "story_count"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_stories=Count("tagged_stories"))
            .order_by("name")  # Meta.ordering does not apply to aggregate queries
        )

    @admin.display(description="stories", ordering="n_stories")
    def story_count(self, obj):
        return obj.n_stories


@admin.register(Correction)
class CorrectionAdmin(
    CheckedAutocompletes, TimesInTheNewsroomZone, StoryRowChangesFollow, admin.ModelAdmin
):
    list_display = ["story", "created_at_zoned", "created_by"]
    list_select_related = ["story", "created_by"]
    search_fields = ["text", "story__headline"]
    autocomplete_fields = ["story"]
    date_hierarchy = "created_at"

    created_at_zoned = zoned_time("created_at", "created at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(PreviewLink)
class PreviewLinkAdmin(CheckedAutocompletes, TimesInTheNewsroomZone, admin.ModelAdmin):
    """Links are made only by a story's or an issue's "Create share link" tool
    (stories/preview.py), within its limits; here they are listed, opened and
    revoked, and nothing else. Nobody adds, edits or deletes one here, so no
    link outlives its chosen days, comes back once expired or revoked, or
    hands its token to other content. The "change" permission on links is the
    permission to revoke them."""

    list_display = [
        "__str__",
        "state",
        "created_by",
        "created_at_zoned",
        "expires_at_zoned",
        "revoked_at_zoned",
    ]
    list_select_related = ["story", "issue", "created_by"]
    list_filter = ["revoked_at"]
    date_hierarchy = "created_at"
    fields = readonly_fields = [
        "address",
        "story",
        "issue",
        "created_by",
        "created_at_zoned",
        "expires_at_zoned",
        "revoked_at_zoned",
    ]

    created_at_zoned = zoned_time("created_at", "created at")
    expires_at_zoned = zoned_time("expires_at", "expires at")
    revoked_at_zoned = zoned_time("revoked_at", "revoked at")
    actions = ["revoke"]

    @admin.display(description="address")
    def address(self, obj):
        return format_html('<a href="{0}">{0}</a>', share_url(obj))

    @admin.display(description="state")
    def state(self, obj):
        if obj.revoked_at:
            return "revoked"
        return "active" if obj.is_active else "expired"

    # -- list, view and revoke only ----------------------------------------------

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request, obj=None):
        return request.user.has_perm("stories.change_previewlink")

    @admin.action(description="Revoke the selected links", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = queryset.revoke()
        self.message_user(
            request,
            f"Revoked {revoked} link{pluralize(revoked)}; they no longer open anything.",
            messages.SUCCESS,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_revoke": self.has_revoke_permission(request)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    # -- the "Revoke" button on a link's own page --------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(require_POST(self.revoke_view)),
                name="stories_previewlink_revoke",
            ),
            *super().get_urls(),
        ]

    def revoke_view(self, request, object_id):
        link = self.get_object(request, unquote(object_id))
        if link is None:
            raise Http404("No such share link.")
        if not self.has_revoke_permission(request, link):
            raise PermissionDenied
        if PreviewLink.objects.filter(pk=link.pk).revoke():
            self.message_user(
                request, "Revoked this link; it no longer opens anything.", messages.SUCCESS
            )
        else:
            self.message_user(request, "This link was already revoked.", messages.INFO)
        return redirect(reverse("admin:stories_previewlink_change", args=[link.pk]))
