"""The story workflow's rules: every illegal transition, provenance before
approval, the audit trail and the notifications."""

import contextlib
from datetime import timedelta

import pytest
import time_machine
from django.core import mail

from stories.editorial import workflow
from stories.editorial.workflow import WorkflowError
from stories.models import AuditEntry, SearchDocument, Story
from tests.factories import (
    StoryFactory,
    issue_with_stories,
    published_issue,
    scheduled_issue,
    user_in,
)
from tests.story_admin import change_url, messages_of, transition_url

pytestmark = pytest.mark.django_db

S = Story.Status


def story_in(status: str, writer, editor) -> Story:
    """A story by writer brought to status through the workflow, as in production."""
    story = StoryFactory(created_by=writer)
    if status == S.DRAFT:
        return story
    workflow.submit_for_review(writer, story)
    if status == S.CHANGES_REQUESTED:
        workflow.request_changes(editor, story, "More detail.")
    if status in (S.APPROVED, S.PUBLISHED, S.WITHDRAWN):
        workflow.approve(editor, story)
    if status in (S.PUBLISHED, S.WITHDRAWN):
        published_issue(stories=[Story.objects.get(pk=story.pk)])
    if status == S.WITHDRAWN:
        workflow.withdraw_story(editor, story, "Legal asked us to.")
    story.refresh_from_db()
    assert story.status == status
    return story


TRANSITIONS = {
    "submit": lambda user, story: workflow.submit_for_review(user, story),
    "approve": lambda user, story: workflow.approve(user, story),
    "request_changes": lambda user, story: workflow.request_changes(user, story, "Fix it."),
    "withdraw": lambda user, story: workflow.withdraw_story(user, story, "Wrong."),
}
LEGAL_FROM = {
    "submit": {S.DRAFT, S.CHANGES_REQUESTED, S.WITHDRAWN},
    "approve": {S.IN_REVIEW},
    "request_changes": {S.IN_REVIEW},
    "withdraw": {S.APPROVED, S.PUBLISHED},
}
ILLEGAL = [
    (name, status) for name in TRANSITIONS for status in S.values if status not in LEGAL_FROM[name]
]


@pytest.mark.parametrize(("transition", "status"), ILLEGAL)
def test_illegal_transition_is_refused_with_a_sentence_and_changes_nothing(
    writer, editor, transition, status
):
    story = story_in(status, writer, editor)
    version, audit_rows = story.version, AuditEntry.objects.count()

    with pytest.raises(WorkflowError) as refusal:
        TRANSITIONS[transition](editor, story)

    message = str(refusal.value)
    assert message.startswith("Cannot ")
    assert f"it is {S(status).label.lower()}" in message
    story.refresh_from_db()
    assert (story.status, story.version) == (status, version)
    assert AuditEntry.objects.count() == audit_rows


def test_illegal_transition_through_the_admin_shows_the_sentence(client, writer, editor):
    story = story_in(S.DRAFT, writer, editor)
    client.force_login(editor)
    response = client.post(transition_url(story, "approve"), follow=True)
    assert messages_of(response) == [
        "Cannot approve this story: it is draft, and only in review items can be."
    ]


@pytest.mark.parametrize(
    ("transition", "status"), [(t, s) for t in LEGAL_FROM for s in LEGAL_FROM[t]]
)
def test_every_legal_transition_succeeds_for_an_editor(
    writer, editor, publisher, transition, status
):
    story = story_in(status, writer, editor)
    if status == S.WITHDRAWN:
        # Its issue is gone too: one readers still see would need a publisher.
        workflow.withdraw_issue(publisher, story.issues.get(), "Pulled whole.")
    clock = contextlib.nullcontext()
    if (transition, status) == ("withdraw", S.APPROVED):
        # Only what readers see is withdrawn: an approved story is seen once
        # its issue's minute has come, before the bookkeeping runs.
        issue = scheduled_issue(stories=[story], in_minutes=60)
        clock = time_machine.travel(issue.publish_at + timedelta(minutes=1))
    with clock:
        TRANSITIONS[transition](editor, story)
    assert AuditEntry.objects.filter(story=story).latest("pk").from_status == status


# -- provenance --------------------------------------------------------------


def test_story_without_a_source_cannot_be_approved(writer, editor):
    story = StoryFactory(created_by=writer, cited=False)
    workflow.submit_for_review(writer, story)
    with pytest.raises(WorkflowError, match=r"^Before this story can be approved, cite at least"):
        workflow.approve(editor, story)


def test_lead_image_needs_alt_text_and_credit_before_approval(writer, editor):
    story = StoryFactory(created_by=writer)
    Story.objects.filter(pk=story.pk).update(lead_image="lead-images/x.jpg")
    workflow.submit_for_review(writer, story)
    with pytest.raises(WorkflowError) as refusal:
        workflow.approve(editor, story)
    assert str(refusal.value) == (
        "Before this story can be approved, add alt text to the lead image; credit the lead image."
    )


def test_source_rule_can_be_relaxed(writer, editor, settings):
    settings.NEWSROOM_REQUIRE_SOURCE = False
    story = StoryFactory(created_by=writer, cited=False)
    workflow.submit_for_review(writer, story)
    assert workflow.approve(editor, story).status == S.APPROVED


# -- audit trail -------------------------------------------------------------


def test_every_step_of_a_story_is_in_the_audit_trail(writer, editor):
    story = StoryFactory(created_by=writer)
    workflow.submit_for_review(writer, story, "First draft")
    workflow.request_changes(editor, story, "Add the export-control angle.")
    workflow.submit_for_review(writer, story)
    workflow.approve(editor, story, "Good to go.")
    issue = published_issue(stories=[Story.objects.get(pk=story.pk)])
    workflow.withdraw_story(editor, story, "The figures were wrong.")

    trail = list(
        AuditEntry.objects.filter(story=story)
        .order_by("created_at", "pk")
        .values_list("actor__username", "action", "from_status", "to_status", "comment")
    )
    assert trail == [
        ("writer", "submitted", "draft", "in_review", "First draft"),
        (
            "editor",
            "changes_requested",
            "in_review",
            "changes_requested",
            "Add the export-control angle.",
        ),
        ("writer", "submitted", "changes_requested", "in_review", ""),
        ("editor", "approved", "in_review", "approved", "Good to go."),
        ("factory-publishers", "published", "approved", "published", f"With issue #{issue.number}"),
        ("editor", "withdrawn", "published", "withdrawn", "The figures were wrong."),
    ]


# -- notifications -----------------------------------------------------------


def test_reviewers_are_emailed_when_a_story_is_submitted(
    writer, editor, django_capture_on_commit_callbacks
):
    second = user_in("Editors", username="night-editor")
    user_in("Publishers", username="not-a-reviewer")
    story = StoryFactory(created_by=writer, headline="Chips and export rules")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.submit_for_review(writer, story)
    (message,) = mail.outbox
    assert message.subject == "For review: Chips and export rules"
    assert sorted(message.to) == sorted([editor.email, second.email])
    assert f"/admin/stories/story/{story.pk}/change/" in message.body


def test_submitting_editor_is_not_emailed_about_their_own_submission(
    editor, django_capture_on_commit_callbacks
):
    story = StoryFactory(created_by=editor)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.submit_for_review(editor, story)
    assert all(editor.email not in m.to for m in mail.outbox)


def test_author_is_emailed_the_comment_when_changes_are_requested(
    writer, editor, django_capture_on_commit_callbacks
):
    story = StoryFactory(created_by=writer, headline="DeepSeek's price cut")
    workflow.submit_for_review(writer, story)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.request_changes(editor, story, "Which model's prices exactly?")
    (message,) = mail.outbox
    assert message.to == [writer.email]
    assert message.subject == "Changes requested: DeepSeek's price cut"
    assert "Which model's prices exactly?" in message.body


def test_author_is_emailed_when_the_story_is_approved(
    writer, editor, django_capture_on_commit_callbacks
):
    story = StoryFactory(created_by=writer, headline="Sputnik moment")
    workflow.submit_for_review(writer, story)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.approve(editor, story, "Lovely.")
    (message,) = mail.outbox
    assert message.to == [writer.email]
    assert message.subject == "Approved: Sputnik moment"
    assert "Comment: Lovely." in message.body


def test_mail_is_sent_only_once_the_decision_is_committed(
    writer, editor, django_capture_on_commit_callbacks
):
    story = StoryFactory(created_by=writer)
    with django_capture_on_commit_callbacks() as callbacks:
        workflow.submit_for_review(writer, story)
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1


def test_a_mail_outage_does_not_undo_the_decision(
    writer, editor, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise ConnectionRefusedError("SMTP is down")

    monkeypatch.setattr(workflow, "send_mail", broken)
    story = StoryFactory(created_by=writer)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.submit_for_review(writer, story)
    story.refresh_from_db()
    assert story.status == S.IN_REVIEW


# -- withdrawing a story an issue is about to carry ---------------------------


def story_in_a_scheduled_issue(writer, editor) -> Story:
    story = story_in(S.APPROVED, writer, editor)
    scheduled_issue(stories=[story], in_minutes=60)
    return Story.objects.get(pk=story.pk)


def test_a_story_held_by_a_scheduled_issue_cannot_be_withdrawn(writer, editor):
    story = story_in_a_scheduled_issue(writer, editor)
    audit_rows = AuditEntry.objects.count()

    with pytest.raises(WorkflowError) as refusal:
        workflow.withdraw_story(editor, story, "Changed my mind.")

    issue = story.issues.get()
    assert str(refusal.value) == (
        f"This story is in issue #{issue.number}, which is scheduled to go out; withdrawing "
        "it now would let the issue go live without it. Ask a publisher to unschedule the "
        "issue first."
    )
    story.refresh_from_db()
    assert story.status == S.APPROVED
    assert AuditEntry.objects.count() == audit_rows


def test_once_the_issue_is_unscheduled_the_story_is_the_desks_to_edit_not_withdraw(
    writer, editor, publisher
):
    # Readers never saw it: it is edited, or taken out of the draft issue.
    story = story_in_a_scheduled_issue(writer, editor)
    workflow.unschedule_issue(publisher, story.issues.get())
    assert workflow.story_edit_refusal(editor, story) is None
    with pytest.raises(WorkflowError, match="^Readers cannot see this story"):
        workflow.withdraw_story(editor, story, "Legal asked us to.")


def test_a_forged_withdraw_of_a_story_in_a_scheduled_issue_is_refused_in_the_admin(
    client, writer, editor
):
    story = story_in_a_scheduled_issue(writer, editor)
    client.force_login(editor)
    assert ">Withdraw</button>" not in client.get(change_url(story)).content.decode()

    response = client.post(transition_url(story, "withdraw"), {"comment": "Pulled."}, follow=True)

    assert any("Ask a publisher to unschedule the issue first." in m for m in messages_of(response))
    story.refresh_from_db()
    assert story.status == S.APPROVED
    assert not AuditEntry.objects.filter(story=story, action="withdrawn").exists()


NOTHING_TO_WITHDRAW = "Readers cannot see this story, so there is nothing to withdraw."


@pytest.mark.parametrize("held_by", ["no issue", "a draft issue"])
def test_a_story_readers_cannot_see_is_not_withdrawn(writer, editor, held_by):
    # Withdrawing is how a story comes off the site; one readers cannot see
    # is taken out of its issue instead.
    story = story_in(S.APPROVED, writer, editor)
    if held_by == "a draft issue":
        issue_with_stories(stories=[story])
    audit_rows = AuditEntry.objects.count()
    assert "withdraw" not in workflow.allowed_story_transitions(editor, story)

    with pytest.raises(WorkflowError) as refusal:
        workflow.withdraw_story(editor, story, "Pulled.")

    assert str(refusal.value) == NOTHING_TO_WITHDRAW
    story.refresh_from_db()
    assert story.status == S.APPROVED
    assert AuditEntry.objects.count() == audit_rows


def test_the_admin_refuses_withdrawing_a_story_readers_cannot_see(client, writer, editor):
    story = story_in(S.APPROVED, writer, editor)
    client.force_login(editor)

    response = client.post(transition_url(story, "withdraw"), {"comment": "Pulled."}, follow=True)

    assert NOTHING_TO_WITHDRAW in messages_of(response)
    story.refresh_from_db()
    assert story.status == S.APPROVED


def test_an_approved_story_readers_already_see_can_be_withdrawn(writer, editor):
    # Readers see an approved story from its issue's minute on, before the
    # bookkeeping stamps it published.
    story = story_in(S.APPROVED, writer, editor)
    issue = scheduled_issue(stories=[story], in_minutes=60)
    with time_machine.travel(issue.publish_at + timedelta(minutes=1)):
        assert workflow.allowed_story_transitions(editor, story) == ["withdraw"]
        assert workflow.withdraw_story(editor, story, "Pulled.").status == S.WITHDRAWN
        assert not Story.objects.published().exists()


# -- withdrawn stories are the desk's -----------------------------------------


def test_a_writer_cannot_resubmit_their_own_withdrawn_story(writer, editor):
    story = story_in(S.WITHDRAWN, writer, editor)
    assert workflow.allowed_story_transitions(writer, story) == []
    with pytest.raises(WorkflowError, match="only an editor can edit it or submit it"):
        workflow.submit_for_review(writer, story)
    story.refresh_from_db()
    assert story.status == S.WITHDRAWN


def test_an_editor_can_resubmit_a_story_withdrawn_with_its_issue(writer, editor, publisher):
    story = story_in(S.WITHDRAWN, writer, editor)
    workflow.withdraw_issue(publisher, story.issues.get(), "Pulled whole.")
    assert "submit" in workflow.allowed_story_transitions(editor, story)
    assert workflow.submit_for_review(editor, story).status == S.IN_REVIEW


# -- only a publisher puts a withdrawn story back on the site -------------------


BACK_ONLY_THROUGH_A_PUBLISHER = (
    "This story was taken off issue #{}, which readers can still see, so approving it "
    "again would put it straight back on the site. Only a publisher can return it "
    "(Reinstate, with a reason); editors can still correct it meanwhile."
)


@pytest.fixture
def pulled(writer, editor):
    """A story withdrawn from an issue readers can still see."""
    return story_in(S.WITHDRAWN, writer, editor)


def second_editor():
    return user_in("Editors", username="second-editor")


def test_an_editor_cannot_send_a_story_withdrawn_from_a_live_issue_back_through_review(
    pulled, editor
):
    live = pulled.issues.get()
    assert "submit" not in workflow.allowed_story_transitions(editor, pulled)
    with pytest.raises(WorkflowError) as refusal:
        workflow.submit_for_review(editor, pulled)
    assert str(refusal.value) == BACK_ONLY_THROUGH_A_PUBLISHER.format(live.number)
    pulled.refresh_from_db()
    assert pulled.status == S.WITHDRAWN
    assert not Story.objects.published().exists()


def test_approving_a_story_a_live_issue_still_holds_does_not_put_it_back(pulled, editor):
    # As a database from before this rule may hold one: resubmitted already.
    Story.objects.filter(pk=pulled.pk).update(status=S.IN_REVIEW)
    pulled.refresh_from_db()
    reviewer = second_editor()

    assert "approve" not in workflow.allowed_story_transitions(reviewer, pulled)
    with pytest.raises(WorkflowError, match="^This story was taken off issue #"):
        workflow.approve(reviewer, pulled)
    pulled.refresh_from_db()
    assert pulled.status == S.IN_REVIEW
    assert not Story.objects.published().exists()


def test_a_publisher_reinstates_a_withdrawn_story_with_a_reason_in_the_audit_trail(
    pulled, publisher
):
    published_at = pulled.published_at
    assert workflow.allowed_story_transitions(publisher, pulled) == ["reinstate"]

    workflow.reinstate_story(publisher, pulled, "  Figures checked again with the lab.  ")

    pulled.refresh_from_db()
    assert (pulled.status, pulled.published_at) == (S.PUBLISHED, published_at)
    assert list(Story.objects.published()) == [pulled]
    assert SearchDocument.objects.filter(story=pulled).exists()
    entry = AuditEntry.objects.filter(story=pulled).latest("pk")
    assert (entry.actor, entry.action, entry.from_status, entry.to_status, entry.comment) == (
        publisher,
        "reinstated",
        S.WITHDRAWN,
        S.PUBLISHED,
        "Figures checked again with the lab.",
    )


@pytest.mark.page_cache
def test_reinstating_clears_the_page_cache(
    client, pulled, publisher, django_capture_on_commit_callbacks
):
    issue_page = pulled.issues.get().get_absolute_url()
    assert pulled.headline not in client.get(issue_page).content.decode()  # now cached

    with django_capture_on_commit_callbacks(execute=True):
        workflow.reinstate_story(publisher, pulled, "Figures checked again.")

    assert pulled.headline in client.get(issue_page).content.decode()
    assert client.get(pulled.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("reason", ["", "   "])
def test_reinstating_without_a_reason_is_refused(pulled, publisher, reason):
    with pytest.raises(WorkflowError, match="^Give a reason for putting the story back"):
        workflow.reinstate_story(publisher, pulled, reason)
    pulled.refresh_from_db()
    assert pulled.status == S.WITHDRAWN


def test_an_uncited_story_is_not_reinstated(pulled, editor, publisher):
    pulled.citations.all().delete()  # an editor's correction took the source out
    refusal = "Before this story can go back on the site, cite at least one source."
    assert workflow.story_transition_refusal(publisher, pulled, "reinstate") == refusal
    with pytest.raises(WorkflowError, match=refusal):
        workflow.reinstate_story(publisher, pulled, "Checked.")
    assert not Story.objects.published().exists()


def test_a_story_no_live_issue_holds_returns_through_review_not_reinstatement(
    pulled, editor, publisher
):
    workflow.withdraw_issue(publisher, pulled.issues.get(), "Pulled whole.")
    assert workflow.allowed_story_transitions(publisher, pulled) == []
    with pytest.raises(WorkflowError, match="^No issue readers can see holds this story"):
        workflow.reinstate_story(publisher, pulled, "Checked.")
    # Review brings it back to approved; it reaches readers only when a
    # publisher sends out an issue that holds it.
    workflow.submit_for_review(editor, pulled)
    workflow.approve(second_editor(), pulled)
    assert not Story.objects.published().exists()


def test_a_reinstatement_decided_on_an_older_version_is_refused(pulled, editor, publisher):
    seen = pulled.version
    Story.objects.get(pk=pulled.pk).save()  # an editor corrected it since
    with pytest.raises(WorkflowError, match="^Not reinstated: "):
        workflow.reinstate_story(publisher, pulled, "Checked.", based_on_version=seen)
    pulled.refresh_from_db()
    assert pulled.status == S.WITHDRAWN


def test_the_story_page_offers_reinstate_to_publishers_and_no_review_to_editors(
    client, pulled, editor, publisher
):
    client.force_login(editor)
    for_editor = client.get(change_url(pulled)).content.decode()
    client.force_login(publisher)
    for_publisher = client.get(change_url(pulled)).content.decode()

    assert ">Submit for review</button>" not in for_editor
    assert ">Reinstate</button>" not in for_editor
    assert ">Reinstate</button>" in for_publisher
    assert ">Submit for review</button>" not in for_publisher


def test_a_publisher_reinstates_through_the_admin_and_a_forged_editor_post_is_refused(
    client, pulled, editor, publisher
):
    page_data = {"based_on_version": pulled.version, "comment": "Figures checked again."}
    client.force_login(editor)
    forged = client.post(transition_url(pulled, "reinstate"), page_data, follow=True)
    assert "You do not have permission to put stories back on the site." in messages_of(forged)
    assert not Story.objects.published().exists()

    client.force_login(publisher)
    done = client.post(transition_url(pulled, "reinstate"), page_data, follow=True)
    assert f"Reinstated “{pulled.headline}”; readers see it again." in messages_of(done)
    assert list(Story.objects.published()) == [pulled]


# -- withdrawing an issue ------------------------------------------------------


def test_withdrawing_an_issue_spares_a_story_an_upcoming_issue_holds(publisher):
    live = published_issue(1)
    story = live.stories.get()
    upcoming = scheduled_issue(stories=[story], in_minutes=60)

    workflow.withdraw_issue(publisher, live, "The intro named the wrong lab.")

    story.refresh_from_db()
    assert story.status == S.PUBLISHED
    assert not AuditEntry.objects.filter(story=story, action="withdrawn").exists()
    assert SearchDocument.objects.filter(story=story).exists()
    assert not Story.objects.published().exists()  # until the upcoming issue's minute
    with time_machine.travel(upcoming.publish_at, tick=False):
        assert list(Story.objects.published()) == [story]


def test_withdrawing_an_issue_withdraws_a_story_no_other_issue_will_carry(publisher):
    live = published_issue(1)
    story = live.stories.get()
    draft = issue_with_stories(stories=[story])

    workflow.withdraw_issue(publisher, live, "The intro named the wrong lab.")

    story.refresh_from_db()
    assert story.status == S.WITHDRAWN
    assert AuditEntry.objects.get(story=story, action="withdrawn").comment == (
        f"With issue #{live.number}: The intro named the wrong lab."
    )
    assert not SearchDocument.objects.filter(story=story).exists()
    assert workflow.scheduling_blockers(draft) == [
        f"“{story.headline}” is withdrawn, not approved."
    ]
