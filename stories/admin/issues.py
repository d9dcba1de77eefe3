"""The issue admin: assembling an issue, and the buttons that schedule,
unschedule, publish and withdraw it (each a call into stories.editorial.workflow)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from stories.admin.base import AuditTrailHistory, CheckedAutocompletes
from stories.admin.issue_forms import IssueForm, ScheduleForm, WithdrawForm, next_issue_numbers
from stories.editorial import scheduling, workflow
from stories.models import Issue, IssueItem, Newsletter, Story
from stories.publishing.changes import IssueChangesFollow


def is_issue_story_picker(request) -> bool:
    """Whether request is the issue form's story autocomplete."""
    return (
        request.GET.get("app_label") == "stories"
        and request.GET.get("model_name") == "issueitem"
        and request.GET.get("field_name") == "story"
    )


class IssueItemFormSet(forms.BaseInlineFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        # A new row need not be numbered by hand: it goes after the others.
        form.fields["position"].required = False
        form.fields["position"].initial = None

    def clean(self):
        super().clean()
        kept = [
            form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        seen = {}
        for form in kept:
            position = form.cleaned_data.get("position")
            if not position:
                continue
            if position in seen:
                raise forms.ValidationError(
                    f"Two stories are at position {position}; give each story its own number."
                )
            seen[position] = form
        # Rows left unnumbered (or at 0) follow the numbered ones, in the
        # order they were added.
        after = max(seen, default=0)
        for form in kept:
            if not form.cleaned_data.get("position"):
                after += 1
                form.cleaned_data["position"] = form.instance.position = after
        self._refuse_stories_that_cannot_go_in(kept)
        if self.instance.format == Issue.Format.POST and len(kept) > 1:
            raise forms.ValidationError(
                f"A post holds one story and this issue has {len(kept)}; remove the others "
                "or make the issue a digest or an essay."
            )

    def _refuse_stories_that_cannot_go_in(self, kept):
        """A story added to the issue must be approved: a draft or a story in
        review would only block the issue later, and one already published
        or withdrawn has had its run."""
        for form in kept:
            story = form.cleaned_data.get("story")
            if story is None or story.status == Story.Status.APPROVED:
                continue
            if form.instance.pk is not None and "story" not in form.changed_data:
                continue  # already in the issue; scheduling says what blocks it
            raise forms.ValidationError(
                f"“{story.headline}” is {story.get_status_display().lower()}; only approved "
                "stories can be added to an issue."
            )


def _contents_locked(request, issue) -> bool:
    return issue is not None and workflow.issue_edit_refusal(request.user, issue) is not None


class IssueItemInline(CheckedAutocompletes, admin.TabularInline):
    model = IssueItem
    formset = IssueItemFormSet
    extra = 0
    autocomplete_fields = ["story"]
    fields = ["position", "story"]
    classes = ["issue-items"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("story__newsletter")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "story":
            field.label_from_instance = Story.choice_label
        return field

    # A scheduled or published issue keeps the stories it was approved with.
    def has_add_permission(self, request, obj):
        return not _contents_locked(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _contents_locked(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _contents_locked(request, obj) and super().has_delete_permission(request, obj)


PUBLICATION_ACTIONS = {
    "schedule": "Schedule",
    "unschedule": "Unschedule",
    "publish_now": "Publish now",
    "withdraw": "Withdraw",
}


@admin.register(Issue)
class IssueAdmin(AuditTrailHistory, IssueChangesFollow, admin.ModelAdmin):
    form = IssueForm
    list_display = ["number", "headline", "newsletter", "state", "publication"]
    list_filter = ["status", "newsletter"]
    list_select_related = ["newsletter"]
    search_fields = ["headline", "intro", "=number"]
    date_hierarchy = "publish_at"
    prepopulated_fields = {"slug": ["headline"]}
    inlines = [IssueItemInline]
    fields = ["newsletter", "number", "format", "headline", "slug", "intro", "closing_tldr"]

    class Media:
        js = ["js/issue-form.js"]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if "newsletter" not in initial:
            default = Newsletter.objects.default()
            if default is not None:
                initial["newsletter"] = default.pk
        if "number" not in initial and str(initial.get("newsletter", "")).isdigit():
            initial["number"] = next_issue_numbers().get(int(initial["newsletter"]), 1)
        return initial

    @admin.display(description="status", ordering="status")
    def state(self, obj):
        return scheduling.state_label(obj)

    @admin.display(description="publication", ordering="publish_at")
    def publication(self, obj):
        return scheduling.format_time(obj.publish_at) or "—"

    # -- the contents lock -------------------------------------------------

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not _contents_locked(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not _contents_locked(request, obj)

    def get_actions(self, request):
        # Deleting a live or scheduled issue would bypass the audit trail;
        # issues are deleted one at a time, where the lock applies.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST" or object_id is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        issue = self.get_object(request, unquote(object_id))
        if issue is None or not self.has_view_permission(request, issue):
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic():
            # Hold the row so that scheduling, which takes the same lock, sees
            # either all of this edit or none of it.
            issue = Issue.objects.select_for_update().get(pk=issue.pk)
            refusal = workflow.issue_edit_refusal(request.user, issue)
            if refusal and request.user.has_perm("stories.change_issue"):
                messages.error(request, refusal)
                return redirect(self._change_url(issue))
            return super().changeform_view(request, object_id, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        issue = self.get_object(request, unquote(object_id))
        if issue is not None:
            extra_context = {**(extra_context or {}), **self._publication(request, issue)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _publication(self, request, issue, schedule_form=None) -> dict:
        """What the publication panel on the change form shows."""
        allowed = workflow.allowed_issue_transitions(request.user, issue)
        refusal = workflow.issue_edit_refusal(request.user, issue)
        return {
            "publication": {
                "state": scheduling.state_label(issue),
                "publish_at": scheduling.format_time(issue.publish_at),
                "published_at": scheduling.format_time(issue.published_at),
                "zone": scheduling.zone_description(),
                "actions": {name: PUBLICATION_ACTIONS[name] for name in allowed},
                "schedule_form": schedule_form
                or (ScheduleForm(issue=issue) if "schedule" in allowed else None),
                "blockers": workflow.scheduling_blockers(issue)
                if issue.status != Issue.Status.PUBLISHED
                else [],
                "lock": refusal if issue.is_locked else None,
            }
        }

    # -- publication views ---------------------------------------------------

    def get_urls(self):
        def view(func, suffix):
            return path(
                f"<path:object_id>/{suffix}/",
                self.admin_site.admin_view(func),
                name=f"stories_issue_{suffix.replace('-', '_')}",
            )

        return [
            path(
                "schedule/",
                self.admin_site.admin_view(self.agenda_view),
                name="stories_issue_agenda",
            ),
            view(self.schedule_view, "schedule"),
            view(self.unschedule_view, "unschedule"),
            view(self.publish_now_view, "publish-now"),
            view(self.withdraw_view, "withdraw"),
            *super().get_urls(),
        ]

    def _change_url(self, issue) -> str:
        return reverse("admin:stories_issue_change", args=[issue.pk])

    def _issue_for_publisher(self, request, object_id) -> Issue:
        issue = self.get_object(request, unquote(object_id))
        if issue is None:
            raise Http404("No such issue.")
        if not self.has_view_permission(request, issue) or not request.user.has_perm(
            "stories.publish_issue"
        ):
            raise PermissionDenied
        return issue

    def _page(self, request, issue, template: str, title: str, **context):
        return TemplateResponse(
            request,
            f"admin/stories/issue/{template}",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": issue,
                "title": title,
                "zone": scheduling.zone_description(),
                **context,
            },
        )

    def schedule_view(self, request, object_id):
        issue = self._issue_for_publisher(request, object_id)
        form = ScheduleForm(request.POST or None, issue=issue)
        if request.method == "POST" and form.is_valid():
            try:
                issue = workflow.schedule_issue(
                    request.user, issue, form.cleaned_data["publish_at"]
                )
            except workflow.WorkflowError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request,
                    f"Issue #{issue.number} is scheduled for "
                    f"{scheduling.format_time(issue.publish_at)}. Readers will see it from "
                    "that minute.",
                )
                return redirect(self._change_url(issue))
        return self._page(
            request,
            issue,
            "schedule.html",
            f"Schedule issue #{issue.number}",
            form=form,
            blockers=workflow.scheduling_blockers(issue),
            current=scheduling.format_time(issue.publish_at)
            if issue.status == Issue.Status.SCHEDULED
            else "",
        )

    def unschedule_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        issue = self._issue_for_publisher(request, object_id)
        try:
            workflow.unschedule_issue(request.user, issue)
        except workflow.WorkflowError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, f"Issue #{issue.number} is unscheduled; its contents can be edited again."
            )
        return redirect(self._change_url(issue))

    def publish_now_view(self, request, object_id):
        issue = self._issue_for_publisher(request, object_id)
        error = None
        if request.method == "POST":
            try:
                issue = workflow.publish_issue_now(request.user, issue)
            except workflow.WorkflowError as refused:
                error = str(refused)
            else:
                messages.success(request, f"Issue #{issue.number} is live.")
                return redirect(self._change_url(issue))
        return self._page(
            request,
            issue,
            "publish_now.html",
            f"Publish issue #{issue.number} now",
            error=error,
            blockers=workflow.scheduling_blockers(issue),
            items=issue.items.select_related("story"),
        )

    def withdraw_view(self, request, object_id):
        issue = self._issue_for_publisher(request, object_id)
        form = WithdrawForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                issue = workflow.withdraw_issue(request.user, issue, form.cleaned_data["reason"])
            except workflow.WorkflowError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Issue #{issue.number} is withdrawn from the site.")
                return redirect(self._change_url(issue))
        return self._page(
            request, issue, "withdraw.html", f"Withdraw issue #{issue.number}", form=form
        )

    def agenda_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/stories/issue/agenda.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Schedule",
                "agenda": scheduling.agenda(),
            },
        )
