"""The story admin's workflow: transition buttons and bulk actions (which only
call stories/workflow.py), the review queue, "My drafts", the history page
with the audit trail, and revision comparison and restore."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from stories.admin.base import AuditTrailHistory, parse_opened_at
from stories.editorial import revisions, workflow
from stories.models import AuditEntry, Story, StoryRevision
from stories.rendering import render_markdown

S = Story.Status

# A preview is asked for as the writer types: more than a long read's text
# is not a story being written.
MAX_PREVIEW_CHARACTERS = 200_000
NO_SEEN_VERSION = (
    "This page did not say which version of the story it showed, so nothing was done. "
    "Reload the story and try again."
)


def approval_list(needs: list[str]) -> str:
    """["cite a source", "credit the image"] as "cite a source and credit the image"."""
    return needs[0] if len(needs) == 1 else "; ".join(needs[:-1]) + " and " + needs[-1]


def seen_version(request) -> dict | None:
    """The version of the story a posted page showed, and when it was opened,
    as keyword arguments for the workflow; None if the page did not say."""
    try:
        # A number the version column holds, as the edit form requires.
        version = Story._meta.get_field("version").clean(request.POST["based_on_version"], None)
    except (KeyError, ValidationError):
        return None
    return {
        "based_on_version": version,
        "opened_at": parse_opened_at(request.POST.get("opened_at")),
    }


class StoryWorkflowViews(AuditTrailHistory):
    """ModelAdmin mixin for Story; see the module docstring."""

    def get_urls(self):
        def view(fn):
            return self.admin_site.admin_view(fn)

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("review-queue/", view(self.review_queue_view), name=f"{name}_review_queue"),
            path("my-drafts/", view(self.my_drafts_view), name=f"{name}_my_drafts"),
            path(
                "markdown-preview/",
                view(self.markdown_preview_view),
                name=f"{name}_markdown_preview",
            ),
            path(
                "<path:object_id>/workflow/<str:transition>/",
                view(self.transition_view),
                name=f"{name}_transition",
            ),
            path(
                "<path:object_id>/revisions/compare/",
                view(self.revision_compare_view),
                name=f"{name}_revision_compare",
            ),
            path(
                "<path:object_id>/revisions/<int:number>/restore/",
                view(self.revision_restore_view),
                name=f"{name}_revision_restore",
            ),
            *super().get_urls(),
        ]

    def _story_or_404(self, request, object_id) -> Story:
        story = self.get_object(request, unquote(object_id))
        if story is None:
            raise Http404("No such story.")
        if not self.has_view_or_change_permission(request, story):
            raise PermissionDenied
        return story

    def _change_url(self, story) -> str:
        return reverse("admin:stories_story_change", args=[story.pk])

    # -- the body's live preview -------------------------------------------

    def markdown_preview_view(self, request):
        """The posted Markdown as readers will get it: the same renderer the
        story's save uses (stories/rendering.py), for the preview beside the
        body. Writes nothing."""
        if request.method != "POST":
            return JsonResponse({"error": "Send the text to preview with POST."}, status=405)
        if not (
            request.user.has_perm("stories.add_story")
            or request.user.has_perm("stories.change_story")
        ):
            raise PermissionDenied
        text = request.POST.get("text", "")
        if len(text) > MAX_PREVIEW_CHARACTERS:
            return JsonResponse(
                {
                    "error": f"The text is longer than {MAX_PREVIEW_CHARACTERS:,} characters; "
                    "save the story to see it."
                },
                status=413,
            )
        return JsonResponse({"html": render_markdown(text)})

    # -- transitions ---------------------------------------------------------

    def transition_view(self, request, object_id, transition):
        return require_POST(self._transition)(request, object_id, transition)

    def _transition(self, request, object_id, transition):
        try:
            step = workflow.story_transition(transition)
        except ValueError:
            raise Http404("No such step in the workflow.") from None
        story = self._story_or_404(request, object_id)
        comment = request.POST.get("comment", "")
        try:
            # Decisions on what a reviewer read: the page posts the version it showed.
            seen = seen_version(request) if step.not_done else {}
            # Only what the buttons offer is accepted, whatever else the
            # transition function would allow.
            workflow.check_offered_transition(request.user, story, step.name, **(seen or {}))
            if seen is None:
                raise workflow.WorkflowError(NO_SEEN_VERSION)
            step.perform(request.user, story, comment, **seen)
        except workflow.WorkflowError as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
            if comment.strip():
                self.message_user(
                    request,
                    f"Your comment was not recorded; here it is to copy: {comment.strip()}",
                    messages.WARNING,
                )
        else:
            self.message_user(request, step.done.format(story.headline), messages.SUCCESS)
            if step.name == "submit":
                self._say_what_approval_needs(request, story)
        return HttpResponseRedirect(self._change_url(story))

    def _say_what_approval_needs(self, request, story) -> None:
        needs = workflow.provenance_problems(story)
        if needs:
            self.message_user(
                request,
                f"An editor cannot approve “{story.headline}” until its authors "
                f"{approval_list(needs)}; ask an editor to send it back if you cannot.",
                messages.WARNING,
            )

    def _bulk(self, request, queryset, function, done: str):
        succeeded = []
        for story in queryset.order_by("pk"):
            try:
                function(request.user, story)
            except workflow.WorkflowError as refusal:
                self.message_user(request, f"“{story.headline}”: {refusal}", messages.ERROR)
            else:
                succeeded.append(f"“{story.headline}”")
        if succeeded:
            self.message_user(request, f"{done}: {', '.join(succeeded)}.", messages.SUCCESS)

    @admin.action(description="Submit selected stories for review", permissions=["change"])
    def submit_selected(self, request, queryset):
        self._bulk(request, queryset, workflow.submit_for_review, "Submitted for review")

    @admin.action(description="Approve selected stories", permissions=["review"])
    def approve_selected(self, request, queryset):
        self._bulk(request, queryset, workflow.approve, "Approved")

    # -- desk pages ----------------------------------------------------------

    def _desk_page(self, request, template, title, stories, **extra):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "stories": stories,
            **extra,
        }
        return TemplateResponse(request, f"admin/stories/story/{template}", context)

    def review_queue_view(self, request):
        """Stories waiting for an editor, the longest-waiting first."""
        if not self.has_review_permission(request):
            raise PermissionDenied
        stories = (
            Story.objects.filter(status=S.IN_REVIEW)
            .order_by("submitted_at", "pk")
            .prefetch_related("authors", "topics")
        )
        return self._desk_page(request, "review_queue.html", "Review queue", stories)

    def my_drafts_view(self, request):
        """The signed-in person's stories that are not yet approved."""
        mine = Q(created_by=request.user) | Q(
            pk__in=Story.authors.through.objects.filter(user=request.user).values("story")
        )
        stories = (
            Story.objects.filter(mine)
            .filter(status__in=[S.DRAFT, S.CHANGES_REQUESTED, S.IN_REVIEW, S.WITHDRAWN])
            .order_by("-status_changed_at", "-pk")
            .prefetch_related(
                "topics",
                Prefetch(
                    "audit_entries",
                    queryset=AuditEntry.objects.filter(action="changes_requested")
                    .select_related("actor")
                    .order_by("-created_at", "-pk"),
                    to_attr="change_requests",
                ),
            )
        )
        return self._desk_page(request, "my_drafts.html", "My drafts", stories)

    # -- history and revisions -----------------------------------------------

    def history_context(self, pk) -> dict:
        revisions = StoryRevision.objects.filter(story_id=pk).select_related("created_by")
        return {**super().history_context(pk), "revisions": revisions.defer("data")}

    def revision_compare_view(self, request, object_id):
        story = self._story_or_404(request, object_id)
        try:
            numbers = int(request.GET["a"]), int(request.GET["b"])
        except (KeyError, ValueError):
            self.message_user(request, "Pick two revisions to compare.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:stories_story_history", args=[story.pk]))
        found = StoryRevision.objects.select_related("created_by").filter(story=story)
        older, newer = (get_object_or_404(found, number=n) for n in sorted(numbers))
        return self._desk_page(
            request,
            "revision_compare.html",
            f"Revision {older.number} compared with revision {newer.number}",
            [],
            story=story,
            original=story,
            older=older,
            newer=newer,
            older_label=f"Revision {older.number}",
            newer_label=f"Revision {newer.number}",
            changes=revisions.diff(older.data, newer.data),
            can_restore=self.has_change_permission(request, story),
            opened_at=timezone.now().isoformat(),
            latest_number=story.revisions.order_by("-number").values_list("number", flat=True)[0],
        )

    def revision_restore_view(self, request, object_id, number):
        return require_POST(self._restore)(request, object_id, number)

    def _restore(self, request, object_id, number):
        story = self._story_or_404(request, object_id)
        revision = get_object_or_404(StoryRevision, story=story, number=number)
        try:
            seen = seen_version(request)
            if seen is None:
                raise workflow.WorkflowError(
                    workflow.story_edit_refusal(request.user, story) or NO_SEEN_VERSION
                )
            new = workflow.restore_revision(request.user, story, revision, **seen)
        except workflow.WorkflowError as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
        else:
            self.message_user(
                request,
                f"Restored revision {number}; it is saved as revision {new.number}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(self._change_url(story))
