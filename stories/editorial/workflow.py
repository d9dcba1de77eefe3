"""Every change of state of a story or an issue, and the rules for it.

Each transition checks the actor's permission and the current state, changes
the row inside a transaction with the row locked, saves only the fields it
changes and writes an audit entry. Admin buttons and actions, views and
management commands call these functions; nothing else sets a status.

A story's steps are declared once, as the rows of STORY_TRANSITIONS: the
statuses each leaves from and leads to, its permission and further rules,
its comment and audit action, and the button the admin draws for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from stories import clock, timebounds
from stories.editorial import revisions
from stories.models import (
    AuditAction,
    AuditEntry,
    Citation,
    Issue,
    IssueItem,
    PreviewLink,
    Source,
    Story,
    StoryRevision,
)
from stories.people import display_name
from stories.publishing import changes

logger = logging.getLogger(__name__)

S = Story.Status
I = Issue.Status  # noqa: E741 - reads as the Issue's status namespace
A = AuditAction


class WorkflowError(Exception):
    """A transition that is not allowed, with a sentence a person can act on."""


# -- who may do what ---------------------------------------------------------

# Writers edit their own stories only while they are theirs to change; a
# withdrawn story is the desk's call, so only editors reopen it.
WRITER_EDITABLE = (S.DRAFT, S.CHANGES_REQUESTED)


@dataclass(frozen=True)
class CommentBox:
    """The text a transition's button posts with it."""

    label: str
    # The refusal when it is left blank; None: it may be.
    missing: str | None = None


@dataclass(frozen=True, kw_only=True)
class StoryTransition:
    """One step a story may take: the button the admin offers for it, who may
    press it and from which statuses, where it leads and what the audit trail
    calls it. STORY_TRANSITIONS (below the functions) holds every one."""

    name: str
    label: str
    from_statuses: tuple[str, ...]
    to_status: str
    audit_action: str
    # "Cannot {doing}: it is draft, and only in review items can be."
    doing: str
    # The permission it takes and "You do not have permission to {may}.";
    # None: whoever may edit the story, which its rules ask (story_edit_refusal).
    permission: str | None = None
    may: str = ""
    # Further refusals, rule(user, story) -> sentence or None, asked in order
    # once the permission and the status allow the step.
    rules: tuple[Callable[..., str | None], ...] = ()
    # The function that takes the step: perform(user, story, comment, ...).
    perform: Callable[..., Story]
    # What the person who pressed the button is told, with the headline.
    done: str
    # How the admin draws the button: "primary", "secondary" or "destructive".
    emphasis: str
    # The text posted with the button; None: the button posts none.
    comment: CommentBox | None = None
    # For a decision on what someone read: it is refused when taken on a page
    # showing an older version of the story, with a refusal beginning so.
    not_done: str | None = None


def story_edit_refusal(user, story: Story) -> str | None:
    """Why user may not edit story's content now, or None if they may."""
    if not user.has_perm("stories.change_story"):
        return "You do not have permission to edit stories."
    if story.pk is None:
        return None
    writer = not user.has_perm("stories.edit_any_story")
    if writer and not story.is_authored_by(user):
        return "Only its authors and editors can edit this story."
    # The lock comes before the writer's rule: it is the reason that holds
    # for everyone, and the one that says who can lift it.
    scheduled = scheduled_issue_holding(story)
    if scheduled is not None and scheduled.publish_at <= timezone.now():
        # Readers see it already; the scheduler records the publication within
        # the minute, and the story is then edited as any published story.
        return (
            f"This story went live with issue #{scheduled.number} at "
            f"{clock.format_time(scheduled.publish_at)}; it can be edited as a published "
            "story once that publication is recorded, within a minute."
        )
    if scheduled is not None:
        return (
            f"This story is in issue #{scheduled.number}, scheduled for publication; "
            "a publisher must unschedule the issue before it can be edited."
        )
    if writer and story.status not in WRITER_EDITABLE:
        if story.status == S.WITHDRAWN:
            return (
                "This story was withdrawn; only an editor can edit it or submit it for "
                "review again."
            )
        return (
            f"This story is {story.get_status_display().lower()}; writers can edit it "
            "again once an editor requests changes."
        )
    return None


def scheduled_issue_holding(story: Story) -> Issue | None:
    return Issue.objects.filter(items__story=story, status=I.SCHEDULED).first()


def upcoming_issue_holding(story: Story) -> Issue | None:
    """A scheduled issue holding story whose minute has not come yet."""
    return Issue.objects.upcoming().filter(items__story=story).order_by("publish_at").first()


def live_issue_holding(story: Story) -> Issue | None:
    """The earliest issue readers can see now that holds story."""
    return Issue.objects.published().filter(items__story=story).order_by("publish_at", "pk").first()


def issue_edit_refusal(user, issue: Issue) -> str | None:
    """Why user may not change issue's contents now, or None if they may.

    The state comes first so that everyone looking at a locked issue, including
    publishers who never edit contents, reads why it is locked."""
    if issue.status == I.SCHEDULED and issue.publish_at and issue.publish_at <= timezone.now():
        return "This issue is live. Withdraw it before changing what it holds."
    if issue.status == I.SCHEDULED:
        return (
            "This issue is scheduled, so its contents are locked to what was approved. "
            "Unschedule it to make changes, then schedule it again."
        )
    if issue.status == I.PUBLISHED:
        return "This issue is published. Withdraw it before changing what it holds."
    if not user.has_perm("stories.change_issue"):
        return "You do not have permission to edit issues."
    return None


def story_transition(name: str) -> StoryTransition:
    """The row of STORY_TRANSITIONS called name."""
    for transition in STORY_TRANSITIONS:
        if transition.name == name:
            return transition
    raise ValueError(f"No story transition is called {name!r}.")


def story_transition_refusal(user, story: Story, name: str) -> str | None:
    """Why the transition called name may not be taken by user on story now,
    or None if it may.

    The one statement of each rule: the transition function enforces it
    under the row lock, and the admin offers a button only when it is None."""
    transition = story_transition(name)

    def refusals():
        # One at a time: a later rule may ask the database, and is not asked
        # once an earlier one has refused.
        if transition.permission:
            yield _permission_refusal(user, transition.permission, transition.may)
        yield _state_refusal(story, transition.from_statuses, transition.doing)
        for rule in transition.rules:
            yield rule(user, story)

    return next((refusal for refusal in refusals() if refusal), None)


def _withdrawn_from_a_live_issue(user, story: Story) -> str | None:
    return _publishers_to_return(user, story) if story.status == S.WITHDRAWN else None


def _own_story_refusal(user, story: Story) -> str | None:
    if _may_review_own(user, story):
        return None
    return "You cannot approve your own story; ask another editor."


def _reinstate_provenance_refusal(user, story: Story) -> str | None:
    return _provenance_refusal(story, "Before this story can go back on the site, ")


def _publishers_to_return(user, story: Story) -> str | None:
    # The published gate shows an approved story that any live issue holds,
    # so approving one taken off such an issue would put it straight back on
    # the site, unseen by any publisher: that is reinstate_story's to do.
    live = live_issue_holding(story)
    if live is None:
        return None
    return (
        f"This story was taken off issue #{live.number}, which readers can still see, so "
        "approving it again would put it straight back on the site. Only a publisher can "
        "return it (Reinstate, with a reason); editors can still correct it meanwhile."
    )


def _nothing_to_reinstate_refusal(user, story: Story) -> str | None:
    if live_issue_holding(story) is not None:
        return None
    return (
        "No issue readers can see holds this story, so there is nothing to put back: it "
        "returns through review and the next issue a publisher schedules."
    )


def _provenance_refusal(story: Story, before: str) -> str | None:
    problems = provenance_problems(story)
    return before + "; ".join(problems) + "." if problems else None


def _upcoming_issue_refusal(user, story: Story) -> str | None:
    # The published gate hides a withdrawn story, so withdrawing one that a
    # scheduled issue holds would send that issue out without it.
    upcoming = upcoming_issue_holding(story)
    if upcoming is None:
        return None
    return (
        f"This story is in issue #{upcoming.number}, which is scheduled to go out; "
        "withdrawing it now would let the issue go live without it. Ask a publisher "
        "to unschedule the issue first."
    )


def _unseen_refusal(user, story: Story) -> str | None:
    # Withdrawing is how a story comes off the site; one readers cannot see
    # is taken out of its issue instead.
    if Story.objects.published().filter(pk=story.pk).exists():
        return None
    return "Readers cannot see this story, so there is nothing to withdraw."


def check_offered_transition(
    user,
    story: Story,
    name: str,
    *,
    based_on_version: int | None = None,
    opened_at: datetime | None = None,
) -> None:
    """Raise WorkflowError unless the button for transition name is offered to
    user on story as it is now and the page pressing it showed this version.

    A story that moved on since the page was opened is explained first, by
    who moved it; then whatever else keeps the button from being offered.
    The transition function checks the same again under the row lock; asking
    first names the rule rather than, say, a missing comment."""
    not_done = story_transition(name).not_done
    if not_done:
        refuse_if_changed_since(story, based_on_version, opened_at, not_done)
    refusal = story_transition_refusal(user, story, name)
    if refusal:
        raise WorkflowError(refusal)


def offered_story_transitions(user, story: Story) -> list[StoryTransition]:
    """The transitions user may take on story now, in the table's order: the
    admin's buttons."""
    return [t for t in STORY_TRANSITIONS if story_transition_refusal(user, story, t.name) is None]


def allowed_story_transitions(user, story: Story) -> list[str]:
    """Names of the transitions user may take on story now."""
    return [t.name for t in offered_story_transitions(user, story)]


def allowed_issue_transitions(user, issue: Issue) -> list[str]:
    if not user.has_perm("stories.publish_issue"):
        return []
    now = timezone.now()
    live = issue.status == I.PUBLISHED or (
        issue.status == I.SCHEDULED and issue.publish_at and issue.publish_at <= now
    )
    names = []
    if issue.status in (I.DRAFT, I.WITHDRAWN) or (issue.status == I.SCHEDULED and not live):
        names += ["schedule", "publish_now"]
    if issue.status == I.SCHEDULED and not live:
        names.append("unschedule")
    if live:
        names.append("withdraw")
    return names


def _may_review_own(user, story: Story) -> bool:
    return settings.NEWSROOM_ALLOW_SELF_APPROVAL or not story.is_authored_by(user)


def _permission_refusal(user, perm: str, doing: str) -> str | None:
    if user.has_perm(perm):
        return None
    return f"You do not have permission to {doing}."


def _state_refusal(obj, allowed, doing: str) -> str | None:
    if obj.status in allowed:
        return None
    return (
        f"Cannot {doing}: it is {obj.get_status_display().lower()}, and only "
        f"{_or(obj, allowed)} items can be."
    )


def _require(user, perm: str, doing: str) -> None:
    refusal = _permission_refusal(user, perm, doing)
    if refusal:
        raise WorkflowError(refusal)


def _require_state(obj, allowed, doing: str) -> None:
    refusal = _state_refusal(obj, allowed, doing)
    if refusal:
        raise WorkflowError(refusal)


def _require_story_rule(user, story: Story, name: str) -> None:
    _require_none(story_transition_refusal(user, story, name))


def _require_permission_for(user, transition: StoryTransition) -> None:
    """Refuse a user without the transition's permission before any row is
    locked or any input is looked at."""
    if transition.permission:
        _require(user, transition.permission, transition.may)


def _require_comment(transition: StoryTransition, comment: str) -> None:
    if transition.comment and transition.comment.missing and not (comment or "").strip():
        raise WorkflowError(transition.comment.missing)


def _require_none(refusal: str | None) -> None:
    if refusal:
        raise WorkflowError(refusal)


def _require_in_span(moment: datetime, doing: str) -> None:
    # Checked before anything is stored: an instant outside the span could not
    # be read back by every page that shows it (stories/timebounds.py).
    if not timebounds.within(moment):
        raise WorkflowError(f"Cannot {doing} then. {timebounds.OUT_OF_RANGE}")


def _or(obj, statuses) -> str:
    labels = [type(obj).Status(s).label.lower() for s in statuses]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


# -- audit and side effects --------------------------------------------------


def _audit(actor, action: AuditAction, obj, from_status: str, to_status: str, comment: str = ""):
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        story=obj if isinstance(obj, Story) else None,
        issue=obj if isinstance(obj, Issue) else None,
        object_repr=str(obj)[:300],
        from_status=from_status,
        to_status=to_status,
        comment=comment,
    )


def _notify(recipients, subject: str, body: str) -> None:
    emails = sorted({u.email for u in recipients if u.email})
    if not emails:
        return
    # A headline may hold a line break, which a mail header cannot.
    subject = " ".join(subject.split())

    def send():
        try:
            send_mail(subject, body, None, emails)
        except Exception:  # A mail outage must not undo an editorial decision.
            logger.exception("Could not send workflow notification %r", subject)

    transaction.on_commit(send)


def _reviewers():
    User = get_user_model()
    perm = Q(user_permissions__codename="review_story") | Q(
        groups__permissions__codename="review_story"
    )
    return User.objects.filter(is_active=True).filter(perm | Q(is_superuser=True)).distinct()


def _story_people(story: Story):
    return {story.created_by, *story.authors.all()}


def _admin_url(obj) -> str:
    model = type(obj)._meta.model_name
    return f"{settings.SITE_URL}/admin/stories/{model}/{obj.pk}/change/"


def _locked_story(story: Story) -> Story:
    return Story.objects.select_for_update().get(pk=story.pk)


# Every path that locks issues and stories takes them in one order: issues by
# id, then stories by id. A schedule locks its issue, then its stories, before
# it checks them; an edit locks the story's issues, then the story, before it
# checks that none is scheduled. So the check and the change of each happen
# under the same locks, and of an edit and a schedule crossing, the second
# waits for the first to commit and then checks what it did.


def lock_story_and_its_issues(story: Story) -> Story:
    """Lock the issues holding story, then story; return the story as it is now.

    Callers that change what a story shows (the admin's save) then ask
    story_edit_refusal again: an issue scheduled while the form was open has
    locked the story's contents since."""
    list(
        Issue.objects.filter(items__story=story)
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", flat=True)
    )
    return _locked_story(story)


def _lock_stories_of(issue: Issue) -> None:
    """Lock issue's stories (issue's own row is already held), in id order."""
    list(
        Story.objects.filter(issue_items__issue=issue)
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", flat=True)
    )


def _locked_issue(issue: Issue) -> Issue:
    return Issue.objects.select_for_update().get(pk=issue.pk)


def _set_story_status(story: Story, to: str, now: datetime, extra_fields=()) -> str:
    before = story.status
    story.status = to
    story.status_changed_at = now
    story.save(update_fields=["status", "status_changed_at", *extra_fields])
    return before


# -- story transitions -------------------------------------------------------


def refuse_if_changed_since(
    story: Story, based_on_version: int | None, opened_at: datetime | None, not_done: str
) -> None:
    """Refuse a decision taken on a page that showed story at based_on_version
    when it has changed since, naming who changed it (not_done: "Not approved").

    None means the caller showed no particular version (bulk actions, commands)."""
    if based_on_version is None or based_on_version == story.version:
        return
    conflict = revisions.describe_conflict(story.pk, based_on_version, opened_at)
    raise WorkflowError(conflict.refusal(not_done))


@transaction.atomic
def submit_for_review(user, story: Story, comment: str = "") -> Story:
    step = story_transition("submit")
    story = _locked_story(story)
    _require_story_rule(user, story, step.name)
    now = timezone.now()
    story.submitted_at = now
    before = _set_story_status(story, step.to_status, now, ["submitted_at"])
    _audit(user, step.audit_action, story, before, step.to_status, comment)
    changes.story_changed(story, ["status"], previous_status=before)
    _notify(
        _reviewers().exclude(pk=user.pk),
        f"For review: {story.headline}",
        f"{display_name(user)} submitted “{story.headline}” for review.\n\n{_admin_url(story)}\n",
    )
    return story


def provenance_problems(story: Story, cited: bool | None = None) -> list[str]:
    """What a story lacks before an editor may approve it, or an issue carry it.

    cited: whether the story has a citation, when the caller already read it
    (see items_for_blockers)."""
    problems = []
    if settings.NEWSROOM_REQUIRE_SOURCE:
        if cited is None:
            cited = story.citations.exists()
        if not cited:
            problems.append("cite at least one source")
    if story.lead_image:
        if not story.lead_image_alt.strip():
            problems.append("add alt text to the lead image")
        if not story.lead_image_credit.strip():
            problems.append("credit the lead image")
    return problems


@transaction.atomic
def approve(
    user,
    story: Story,
    comment: str = "",
    *,
    based_on_version: int | None = None,
    opened_at: datetime | None = None,
) -> Story:
    """Approve story; based_on_version is the version the reviewer read."""
    step = story_transition("approve")
    _require_permission_for(user, step)
    story = _locked_story(story)
    refuse_if_changed_since(story, based_on_version, opened_at, step.not_done)
    _require_story_rule(user, story, step.name)
    _require_none(_provenance_refusal(story, "Before this story can be approved, "))
    before = _set_story_status(story, step.to_status, timezone.now())
    _audit(user, step.audit_action, story, before, step.to_status, comment)
    changes.story_changed(story, ["status"], previous_status=before)
    _notify(
        _story_people(story) - {user},
        f"Approved: {story.headline}",
        f"“{story.headline}” was approved by {user.get_username()}."
        + (f"\n\nComment: {comment}" if comment else "")
        + f"\n\n{_admin_url(story)}\n",
    )
    return story


@transaction.atomic
def request_changes(
    user,
    story: Story,
    comment: str,
    *,
    based_on_version: int | None = None,
    opened_at: datetime | None = None,
) -> Story:
    """Send story back to its authors; based_on_version is the version the reviewer read."""
    step = story_transition("request_changes")
    _require_permission_for(user, step)
    _require_comment(step, comment)
    story = _locked_story(story)
    refuse_if_changed_since(story, based_on_version, opened_at, step.not_done)
    _require_story_rule(user, story, step.name)
    before = _set_story_status(story, step.to_status, timezone.now())
    _audit(user, step.audit_action, story, before, step.to_status, comment.strip())
    changes.story_changed(story, ["status"], previous_status=before)
    _notify(
        _story_people(story) - {user},
        f"Changes requested: {story.headline}",
        f"{user.get_username()} asked for changes to “{story.headline}”:\n\n"
        f"{comment.strip()}\n\n{_admin_url(story)}\n",
    )
    return story


@transaction.atomic
def withdraw_story(user, story: Story, reason: str) -> Story:
    step = story_transition("withdraw")
    _require_permission_for(user, step)
    _require_comment(step, reason)
    story = _locked_story(story)
    _require_story_rule(user, story, step.name)
    before = _set_story_status(story, step.to_status, timezone.now())
    _audit(user, step.audit_action, story, before, step.to_status, reason.strip())
    # Share links handed out before stay dead, even if the story comes back.
    PreviewLink.objects.filter(story=story).revoke()
    changes.story_changed(story, ["status"], previous_status=before)
    return story


@transaction.atomic
def reinstate_story(
    user,
    story: Story,
    reason: str,
    *,
    based_on_version: int | None = None,
    opened_at: datetime | None = None,
) -> Story:
    """Put a story taken off an issue readers still see back on the site: the
    only way it returns there (README, "Withdrawn stories and issues").
    based_on_version is the version the publisher read."""
    step = story_transition("reinstate")
    _require_permission_for(user, step)
    _require_comment(step, reason)
    story = lock_story_and_its_issues(story)
    refuse_if_changed_since(story, based_on_version, opened_at, step.not_done)
    _require_story_rule(user, story, step.name)
    story.published_at = story.published_at or live_issue_holding(story).publish_at
    before = _set_story_status(story, step.to_status, timezone.now(), ["published_at"])
    _audit(user, step.audit_action, story, before, step.to_status, reason.strip())
    changes.story_changed(story, ["status"], previous_status=before)
    return story


# -- the table of story transitions ------------------------------------------

# Every step a story takes through the desk, in the order the admin shows
# their buttons. story_transition_refusal checks a step against its row, the
# step's function takes its target status and audit action from it, and the
# admin draws its buttons from the rows offered_story_transitions returns.
STORY_TRANSITIONS: tuple[StoryTransition, ...] = (
    StoryTransition(
        name="submit",
        label="Submit for review",
        from_statuses=(S.DRAFT, S.CHANGES_REQUESTED, S.WITHDRAWN),
        to_status=S.IN_REVIEW,
        audit_action=A.SUBMITTED,
        doing="submit this story for review",
        rules=(story_edit_refusal, _withdrawn_from_a_live_issue),
        perform=submit_for_review,
        done="“{}” is now in review; editors have been told.",
        emphasis="primary",
    ),
    StoryTransition(
        name="approve",
        label="Approve",
        from_statuses=(S.IN_REVIEW,),
        to_status=S.APPROVED,
        audit_action=A.APPROVED,
        doing="approve this story",
        permission="stories.review_story",
        may="approve stories",
        rules=(_own_story_refusal, _publishers_to_return),
        perform=approve,
        done="Approved “{}”; it can go into an issue.",
        emphasis="primary",
        comment=CommentBox("Comment for the authors (optional)"),
        not_done="Not approved",
    ),
    StoryTransition(
        name="request_changes",
        label="Request changes",
        from_statuses=(S.IN_REVIEW,),
        to_status=S.CHANGES_REQUESTED,
        audit_action=A.CHANGES_REQUESTED,
        doing="request changes to this story",
        permission="stories.review_story",
        may="send stories back for changes",
        perform=request_changes,
        done="Sent “{}” back to its authors with your comment.",
        emphasis="secondary",
        comment=CommentBox(
            "What needs to change (required)",
            missing="Say what needs to change: a comment is required.",
        ),
        not_done="Changes were not requested",
    ),
    StoryTransition(
        name="withdraw",
        label="Withdraw",
        from_statuses=(S.PUBLISHED, S.APPROVED),
        to_status=S.WITHDRAWN,
        audit_action=A.WITHDRAWN,
        doing="withdraw this story",
        permission="stories.withdraw_story",
        may="withdraw stories",
        rules=(_upcoming_issue_refusal, _unseen_refusal),
        perform=withdraw_story,
        done="Withdrew “{}”; readers no longer see it.",
        emphasis="destructive",
        comment=CommentBox(
            "Reason for withdrawing (required; kept in the audit trail)",
            missing="Give a reason for withdrawing the story; readers' trust depends on it.",
        ),
    ),
    StoryTransition(
        name="reinstate",
        label="Reinstate",
        # A story taken off the site while an issue readers see still holds
        # it: withdrawn, or sent back into review.
        from_statuses=(S.WITHDRAWN, S.IN_REVIEW, S.CHANGES_REQUESTED),
        to_status=S.PUBLISHED,
        audit_action=A.REINSTATED,
        doing="reinstate this story",
        permission="stories.publish_issue",
        may="put stories back on the site",
        rules=(_nothing_to_reinstate_refusal, _reinstate_provenance_refusal),
        perform=reinstate_story,
        done="Reinstated “{}”; readers see it again.",
        emphasis="primary",
        comment=CommentBox(
            "Reason for putting it back on the site (required; kept in the audit trail)",
            missing="Give a reason for putting the story back on the site; it is kept in the "
            "audit trail.",
        ),
        not_done="Not reinstated",
    ),
)


# -- restoring a revision ------------------------------------------------


@transaction.atomic
def restore_revision(
    user,
    story: Story,
    revision: StoryRevision,
    *,
    based_on_version: int | None = None,
    opened_at: datetime | None = None,
) -> StoryRevision:
    """Put revision's content back as the story's newest revision.

    based_on_version is the version of the story the comparison page showed;
    a restore over a change made since then is refused, as an edit would be."""
    story = Story.objects.select_for_update().get(pk=story.pk)
    if revision.story_id != story.pk:
        raise WorkflowError("That revision belongs to another story.")
    refusal = story_edit_refusal(user, story)
    if refusal:
        raise WorkflowError(refusal)
    refuse_if_changed_since(
        story, based_on_version, opened_at, f"Revision {revision.number} was not restored"
    )
    data = revision.data
    slug = data.get("slug")
    taken = Story.objects.filter(slug=slug).exclude(pk=story.pk).first() if slug else None
    if taken is not None:
        # Addresses are unique; another story may have taken this one since.
        raise WorkflowError(
            f"Revision {revision.number} was not restored: its address ({slug}) now belongs "
            f"to the story “{taken.headline}”. Give one of the two another slug, then restore "
            "again."
        )
    for name in revisions.TEXT_FIELDS:
        if name in data:
            setattr(story, name, data[name])
    story.lead_image.name = data.get("lead_image") or ""
    story.save()
    story.authors.set(revisions.people(data.get("authors", [])))
    story.topics.set(data.get("topics", []))
    existing_sources = set(
        Source.objects.filter(
            pk__in=[c["source_id"] for c in data.get("citations", [])]
        ).values_list("pk", flat=True)
    )
    Citation.objects.filter(story=story).delete()
    Citation.objects.bulk_create(
        Citation(
            story=story,
            source_id=c["source_id"],
            url=c.get("url", ""),
            title=c.get("title", ""),
            note=c.get("note", ""),
            position=c.get("position", 0),
        )
        for c in data.get("citations", [])
        if c["source_id"] in existing_sources
    )
    changes.story_changed(story)
    return revisions.record_revision(story, user, note=f"Restored revision {revision.number}")


# -- issue transitions -------------------------------------------------------


def items_for_blockers(items: QuerySet[IssueItem]) -> QuerySet[IssueItem]:
    """items with everything scheduling_blockers reads, in the same query."""
    return items.select_related("story").annotate(
        story_is_cited=Exists(Citation.objects.filter(story=OuterRef("story_id")))
    )


def scheduling_blockers(issue: Issue, items=None) -> list[str]:
    """Sentences naming what stops issue from being scheduled or published.

    An approved story can still be edited until its issue is scheduled, so
    its provenance is checked again here, not only at approval.

    items: the issue's items as items_for_blockers loads them, for pages that
    list many issues with a fixed number of queries."""
    items = list(items_for_blockers(issue.items.all()) if items is None else items)
    if not items:
        return ["Add at least one story to the issue."]
    blockers = []
    for item in items:
        story = item.story
        if story.status not in (S.APPROVED, S.PUBLISHED):
            blockers.append(
                f"“{story.headline}” is {story.get_status_display().lower()}, not approved."
            )
            continue
        problems = provenance_problems(story, getattr(item, "story_is_cited", None))
        if problems:
            blockers.append(f"Before “{story.headline}” can go out, " + "; ".join(problems) + ".")
    return blockers


def _check_publishable(issue: Issue, doing: str) -> None:
    """Refuse unless issue (locked) may go out, checked with its stories
    locked too, so that no edit or review step changes them in between."""
    _lock_stories_of(issue)
    blockers = scheduling_blockers(issue)
    if blockers:
        raise WorkflowError(f"Cannot {doing}: " + " ".join(blockers))


@transaction.atomic
def schedule_issue(user, issue: Issue, publish_at: datetime) -> Issue:
    """Schedule (or reschedule) issue to go live at publish_at."""
    _require(user, "stories.publish_issue", "schedule issues")
    if timezone.is_naive(publish_at):
        raise WorkflowError("The publication time needs a time zone.")
    _require_in_span(publish_at, "schedule this issue")
    now = timezone.now()
    # Readers see an issue from the start of its minute, so that is what must
    # still be ahead.
    publish_at = publish_at.replace(second=0, microsecond=0)
    if publish_at <= now:
        raise WorkflowError(
            "That time has already passed. Pick a future minute, or use “Publish now”."
        )
    issue = _locked_issue(issue)
    if issue.status == I.SCHEDULED and issue.publish_at <= now:
        raise WorkflowError("This issue is already live; withdraw it instead.")
    _require_state(issue, [I.DRAFT, I.SCHEDULED, I.WITHDRAWN], "schedule this issue")
    _check_publishable(issue, "schedule this issue")
    before, previous = issue.status, issue.publish_at
    issue.status, issue.publish_at = I.SCHEDULED, publish_at
    issue.save(update_fields=["status", "publish_at"])
    action = A.RESCHEDULED if before == I.SCHEDULED else A.SCHEDULED
    comment = f"For {clock.format_time(issue.publish_at)}" + (
        f" (was {clock.format_time(previous)})" if action == A.RESCHEDULED else ""
    )
    _audit(user, action, issue, before, I.SCHEDULED, comment)
    changes.issue_scheduled(issue, issue.publish_at)
    return issue


@transaction.atomic
def unschedule_issue(user, issue: Issue) -> Issue:
    _require(user, "stories.publish_issue", "unschedule issues")
    issue = _locked_issue(issue)
    _require_state(issue, [I.SCHEDULED], "unschedule this issue")
    if issue.publish_at <= timezone.now():
        raise WorkflowError("This issue is already live; withdraw it instead.")
    issue.status, issue.publish_at = I.DRAFT, None
    issue.save(update_fields=["status", "publish_at"])
    _audit(user, A.UNSCHEDULED, issue, I.SCHEDULED, I.DRAFT)
    changes.issue_scheduled(issue, None)
    return issue


def _mark_published(actor, issue: Issue, now: datetime, comment: str) -> None:
    """Bookkeeping once an issue is live: stamp it and its stories published."""
    before = issue.status
    issue.status, issue.published_at = I.PUBLISHED, now
    issue.save(update_fields=["status", "published_at", "publish_at"])
    _audit(actor, A.PUBLISHED, issue, before, I.PUBLISHED, comment)
    # Locked in id order, as every lock on several stories (stories/publishing/fragments.py).
    stories = (
        Story.objects.select_for_update(of=("self",))
        .filter(issue_items__issue=issue, status=S.APPROVED)
        .order_by("pk")
    )
    for story in stories:
        story.published_at = story.published_at or issue.publish_at
        prior = _set_story_status(story, S.PUBLISHED, now, ["published_at"])
        _audit(actor, A.PUBLISHED, story, prior, S.PUBLISHED, f"With issue #{issue.number}")
    changes.issue_changed(issue, readers_saw=True)


@transaction.atomic
def publish_issue_now(user, issue: Issue, as_of: datetime | None = None) -> Issue:
    """Put issue live now. as_of records a publication that happened earlier
    (content moved from another platform, demo content); never a future one."""
    _require(user, "stories.publish_issue", "publish issues")
    issue = _locked_issue(issue)
    now = timezone.now()
    if as_of is not None and as_of > now:
        raise WorkflowError("A publication cannot be dated in the future; schedule it instead.")
    if as_of is not None:
        _require_in_span(as_of, "date this publication")
    if issue.status == I.SCHEDULED and issue.publish_at <= now:
        raise WorkflowError("This issue is already live.")
    _require_state(issue, [I.DRAFT, I.SCHEDULED, I.WITHDRAWN], "publish this issue")
    _check_publishable(issue, "publish this issue")
    issue.publish_at = as_of or now
    _mark_published(
        user, issue, now, "Published now" if as_of is None else "Published (dated earlier)"
    )
    return issue


@transaction.atomic
def withdraw_issue(user, issue: Issue, reason: str) -> Issue:
    """Take a live issue off the site, with the stories no other issue that is
    live or scheduled to go out holds."""
    _require(user, "stories.publish_issue", "withdraw issues")
    if not reason or not reason.strip():
        raise WorkflowError("Give a reason for withdrawing the issue.")
    issue = _locked_issue(issue)
    if not Issue.objects.published().filter(pk=issue.pk).exists():
        raise WorkflowError(
            "Only a live issue can be withdrawn; unschedule a scheduled one instead."
        )
    before = issue.status
    issue.status = I.WITHDRAWN
    issue.save(update_fields=["status"])
    _audit(user, A.WITHDRAWN, issue, before, I.WITHDRAWN, reason.strip())
    # A story another issue is scheduled to carry stays, or that issue would
    # go out without it.
    still_wanted = IssueItem.objects.filter(
        issue__in=Issue.objects.published_or_upcoming().exclude(pk=issue.pk)
    ).values("story")
    stories = (
        Story.objects.select_for_update(of=("self",))
        .filter(issue_items__issue=issue, status__in=[S.APPROVED, S.PUBLISHED])
        .exclude(pk__in=still_wanted)
        .order_by("pk")
    )
    now = timezone.now()
    withdrawn = []
    for story in stories:
        prior = _set_story_status(story, S.WITHDRAWN, now)
        _audit(
            user,
            A.WITHDRAWN,
            story,
            prior,
            S.WITHDRAWN,
            f"With issue #{issue.number}: {reason.strip()}",
        )
        withdrawn.append(story.pk)
    # Share links handed out before stay dead, even if the issue comes back.
    PreviewLink.objects.filter(Q(issue=issue) | Q(story__in=withdrawn)).revoke()
    # Stories another scheduled or published issue holds stay indexed.
    changes.issue_changed(issue, readers_saw=True)
    return issue


@dataclass
class PublishRun:
    """What one pass of publish_due_issues did."""

    issues: list[Issue] = field(default_factory=list)

    @property
    def published(self) -> list[int]:
        return [issue.number for issue in self.issues]


def _next_due_issue(now: datetime) -> Issue | None:
    """The earliest due issue no other runner holds (PostgreSQL skips rows
    locked by a concurrent run; SQLite has no row locks and ignores this)."""
    return (
        Issue.objects.select_for_update(skip_locked=True)
        .filter(status=I.SCHEDULED, publish_at__lte=now)
        .order_by("publish_at", "pk")
        .first()
    )


def _claim_due_issue(issue: Issue) -> bool:
    """Move issue out of SCHEDULED unless another runner already did.

    The status guard in the UPDATE is what makes publication exactly-once on
    every database: of two runners that read the same scheduled row, only one
    UPDATE matches it.
    """
    return bool(Issue.objects.filter(pk=issue.pk, status=I.SCHEDULED).update(status=I.PUBLISHED))


def publish_due_issues(now: datetime | None = None) -> PublishRun:
    """Do the bookkeeping for scheduled issues whose time has come.

    Readers already see a due issue (the published gate compares with now);
    this stamps it and its stories published and writes the audit trail.
    Safe to run on many servers at once: each issue is taken under a row lock
    that other runners skip (PostgreSQL), and the status guard on the update
    makes a second pass over the same issue a no-op on any database. Each
    issue commits on its own, so one failure does not undo the others.
    """
    now = now or timezone.now()
    run = PublishRun()
    while True:
        with transaction.atomic():
            issue = _next_due_issue(now)
            if issue is None:
                break
            if not _claim_due_issue(issue):
                continue
            issue.refresh_from_db()
            issue.status = I.SCHEDULED  # so the audit row records where it came from
            ran_at = timezone.now()
            late = int((ran_at - issue.publish_at).total_seconds())
            _mark_published(
                None,
                issue,
                ran_at,
                f"Scheduled for {clock.format_time(issue.publish_at)}; "
                f"bookkeeping ran {late} s after.",
            )
            run.issues.append(issue)
    return run
