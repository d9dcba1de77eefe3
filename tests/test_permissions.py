"""Who may do what, tried through the admin with real POSTs, role by role."""

import pytest
from django.urls import reverse

from stories.editorial import workflow
from stories.models import AuditEntry, Story
from tests.factories import StoryFactory, published_issue, scheduled_issue
from tests.story_admin import change_url, messages_of, story_form_data, transition_url

pytestmark = pytest.mark.django_db

S = Story.Status


@pytest.fixture
def roles(writer, editor, publisher):
    return {"writer": writer, "editor": editor, "publisher": publisher, "anonymous": None}


def story_ready_for(transition: str, writer) -> Story:
    """A story by writer in the state where transition is legal."""
    story = StoryFactory(created_by=writer)
    if transition == "submit":
        return story
    workflow.submit_for_review(writer, story)
    if transition in ("approve", "request_changes"):
        return Story.objects.get(pk=story.pk)
    issue = published_issue(stories=[workflow.approve(_reviewer(), story)])
    if transition == "reinstate":
        return workflow.withdraw_story(_reviewer(), issue.stories.get(), "Figures in doubt.")
    return issue.stories.get()


def _reviewer():
    from tests.factories import user_in

    return user_in("Editors", username="second-editor")


ALLOWED = {
    # transition: (roles allowed, status it leads to)
    "submit": ({"writer", "editor"}, S.IN_REVIEW),
    "approve": ({"editor"}, S.APPROVED),
    "request_changes": ({"editor"}, S.CHANGES_REQUESTED),
    "withdraw": ({"editor"}, S.WITHDRAWN),
    "reinstate": ({"publisher"}, S.PUBLISHED),
}
REFUSALS = {
    ("submit", "publisher"): "You do not have permission to edit stories.",
    ("approve", "writer"): "You do not have permission to approve stories.",
    ("approve", "publisher"): "You do not have permission to approve stories.",
    ("request_changes", "writer"): "You do not have permission to send stories back",
    ("request_changes", "publisher"): "You do not have permission to send stories back",
    ("withdraw", "writer"): "You do not have permission to withdraw stories.",
    ("withdraw", "publisher"): "You do not have permission to withdraw stories.",
    ("reinstate", "writer"): "You do not have permission to put stories back on the site.",
    ("reinstate", "editor"): "You do not have permission to put stories back on the site.",
}


@pytest.mark.parametrize("transition", list(ALLOWED))
@pytest.mark.parametrize("role", ["writer", "editor", "publisher", "anonymous"])
def test_each_role_may_press_exactly_the_transitions_its_permissions_allow(
    client, roles, transition, role
):
    story = story_ready_for(transition, roles["writer"])
    before, audit_rows = story.status, AuditEntry.objects.filter(story=story).count()
    if roles[role] is not None:
        client.force_login(roles[role])

    response = client.post(
        transition_url(story, transition),
        {"comment": "Needs a second source.", "based_on_version": story.version},
        follow=True,
    )

    story.refresh_from_db()
    allowed, leads_to = ALLOWED[transition]
    if role == "anonymous":
        assert response.redirect_chain[-1][0].startswith(reverse("admin:login"))
        assert story.status == before
    elif role in allowed:
        assert story.status == leads_to
        assert AuditEntry.objects.filter(story=story).count() == audit_rows + 1
        assert response.redirect_chain[-1][0] == change_url(story)
    else:
        assert story.status == before
        assert AuditEntry.objects.filter(story=story).count() == audit_rows
        assert any(REFUSALS[transition, role] in m for m in messages_of(response))


def test_writer_forged_post_to_approve_is_refused_with_the_reason(client, writer):
    story = story_ready_for("approve", writer)
    client.force_login(writer)
    response = client.post(transition_url(story, "approve"), follow=True)
    story.refresh_from_db()
    assert story.status == S.IN_REVIEW
    assert "You do not have permission to approve stories." in messages_of(response)
    assert not AuditEntry.objects.filter(story=story, action="approved").exists()


def test_another_writer_cannot_submit_someone_elses_story(client, writer, other_writer):
    story = StoryFactory(created_by=writer)
    client.force_login(other_writer)
    response = client.post(transition_url(story, "submit"), follow=True)
    story.refresh_from_db()
    assert story.status == S.DRAFT
    assert "Only its authors and editors can edit this story." in messages_of(response)


def test_transition_views_refuse_get_requests(client, editor, writer):
    story = story_ready_for("approve", writer)
    client.force_login(editor)
    assert client.get(transition_url(story, "approve")).status_code == 405
    story.refresh_from_db()
    assert story.status == S.IN_REVIEW


def test_unknown_transition_is_not_found(client, editor, writer):
    story = StoryFactory(created_by=writer)
    client.force_login(editor)
    assert client.post(transition_url(story, "publish")).status_code == 404


def test_request_changes_without_a_comment_is_refused(client, editor, writer):
    story = story_ready_for("request_changes", writer)
    client.force_login(editor)
    response = client.post(
        transition_url(story, "request_changes"),
        {"comment": "  ", "based_on_version": story.version},
        follow=True,
    )
    story.refresh_from_db()
    assert story.status == S.IN_REVIEW
    assert "Say what needs to change: a comment is required." in messages_of(response)


def test_withdraw_without_a_reason_is_refused(client, editor, writer):
    story = story_ready_for("withdraw", writer)
    client.force_login(editor)
    response = client.post(transition_url(story, "withdraw"), {"comment": ""}, follow=True)
    story.refresh_from_db()
    assert story.status == S.PUBLISHED
    assert any("Give a reason for withdrawing" in m for m in messages_of(response))


def test_nobody_approves_their_own_story_by_default(client, editor):
    story = StoryFactory(created_by=editor)
    workflow.submit_for_review(editor, story)
    client.force_login(editor)
    page = client.get(change_url(story)).content.decode()
    assert ">Approve</button>" not in page
    response = client.post(transition_url(story, "approve"), follow=True)
    story.refresh_from_db()
    assert story.status == S.IN_REVIEW
    assert "You cannot approve your own story; ask another editor." in messages_of(response)


def test_a_one_person_newsroom_can_allow_self_approval(client, editor, settings):
    settings.NEWSROOM_ALLOW_SELF_APPROVAL = True
    story = workflow.submit_for_review(editor, StoryFactory(created_by=editor))
    client.force_login(editor)
    assert ">Approve</button>" in client.get(change_url(story)).content.decode()
    client.post(transition_url(story, "approve"), {"based_on_version": story.version})
    story.refresh_from_db()
    assert story.status == S.APPROVED


# -- which buttons are shown ------------------------------------------------

BUTTONS = ["Submit for review", "Approve", "Request changes", "Withdraw"]


@pytest.mark.parametrize(
    ("role", "state", "expected"),
    [
        ("writer", "submit", ["Submit for review"]),
        ("writer", "approve", []),
        ("writer", "withdraw", []),
        ("editor", "submit", ["Submit for review"]),
        ("editor", "approve", ["Approve", "Request changes"]),
        ("editor", "withdraw", ["Withdraw"]),
        ("publisher", "submit", []),
        ("publisher", "approve", []),
        ("publisher", "withdraw", []),
    ],
)
def test_change_form_shows_only_the_buttons_the_user_may_press(
    client, roles, role, state, expected
):
    story = story_ready_for(state, roles["writer"])
    client.force_login(roles[role])
    page = client.get(change_url(story)).content.decode()
    shown = [label for label in BUTTONS if f">{label}</button>" in page]
    assert shown == expected


# -- editing -----------------------------------------------------------------


def test_writer_edits_own_draft_through_the_admin(client, writer):
    story = StoryFactory(created_by=writer)
    client.force_login(writer)
    data = story_form_data(client, story, headline="A sharper headline")
    response = client.post(change_url(story), data)
    assert response.status_code == 302
    story.refresh_from_db()
    assert story.headline == "A sharper headline"


def test_writer_forged_post_editing_someone_elses_story_is_refused(
    admin_client, client, writer, other_writer
):
    story = StoryFactory(created_by=other_writer, headline="Theirs")
    data = story_form_data(admin_client, story, headline="Hijacked")
    client.force_login(writer)
    refused = client.post(change_url(story), data, follow=True)
    assert messages_of(refused) == ["Not saved: Only its authors and editors can edit this story."]
    story.refresh_from_db()
    assert story.headline == "Theirs"


def test_writer_cannot_edit_own_story_while_it_is_in_review(admin_client, client, writer):
    story = story_ready_for("approve", writer)
    data = story_form_data(admin_client, story, headline="Sneaked in after submission")
    client.force_login(writer)
    refused = client.post(change_url(story), data, follow=True)
    assert messages_of(refused) == [
        "Not saved: This story is in review; writers can edit it again once an editor "
        "requests changes."
    ]
    story.refresh_from_db()
    assert story.headline != "Sneaked in after submission"


def test_writer_may_edit_again_once_changes_are_requested(client, writer, editor):
    story = story_ready_for("request_changes", writer)
    workflow.request_changes(editor, story, "Tighten the lede.")
    client.force_login(writer)
    data = story_form_data(client, story, headline="Tighter")
    assert client.post(change_url(story), data).status_code == 302
    story.refresh_from_db()
    assert story.headline == "Tighter"


def test_read_only_view_explains_why_the_story_cannot_be_edited(client, writer, other_writer):
    story = StoryFactory(created_by=other_writer)
    client.force_login(writer)
    page = client.get(change_url(story)).content.decode()
    assert "Read-only: Only its authors and editors can edit this story." in page
    assert 'name="_save"' not in page


def test_read_only_view_tells_the_writer_when_they_can_edit_again(client, writer):
    story = story_ready_for("approve", writer)
    client.force_login(writer)
    page = client.get(change_url(story)).content.decode()
    assert "writers can edit it again once an editor requests changes" in page
    assert 'name="_save"' not in page


def test_editor_can_edit_any_story(client, editor, writer):
    story = story_ready_for("approve", writer)
    client.force_login(editor)
    data = story_form_data(client, story, dek="Edited by the desk.")
    assert client.post(change_url(story), data).status_code == 302
    story.refresh_from_db()
    assert story.dek == "Edited by the desk."


def test_publisher_sees_stories_but_cannot_edit_them(client, publisher, admin_client, writer):
    story = StoryFactory(created_by=writer, headline="Untouched")
    data = story_form_data(admin_client, story, headline="Publisher edit")
    client.force_login(publisher)
    assert client.get(change_url(story)).status_code == 200
    assert client.post(change_url(story), data).status_code == 403
    story.refresh_from_db()
    assert story.headline == "Untouched"


def test_anonymous_visitor_is_sent_to_the_login_page(client, writer):
    story = StoryFactory(created_by=writer)
    response = client.get(change_url(story))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# -- the lock of a scheduled issue ------------------------------------------


def story_in_scheduled_issue(writer) -> Story:
    story = workflow.approve(_reviewer(), story_ready_for("approve", writer))
    scheduled_issue(stories=[story], in_minutes=60)
    return Story.objects.get(pk=story.pk)


@pytest.mark.parametrize("role", ["writer", "editor"])
def test_a_story_in_a_scheduled_issue_is_locked_for_its_writer_and_for_editors(
    admin_client, client, roles, role
):
    story = story_in_scheduled_issue(roles["writer"])
    issue = story.issues.get()
    lock = (
        f"This story is in issue #{issue.number}, scheduled for publication; "
        "a publisher must unschedule the issue before it can be edited."
    )
    user = roles[role]
    assert workflow.story_edit_refusal(user, story) == lock

    data = story_form_data(admin_client, story, headline="Changed after scheduling")
    client.force_login(user)
    page = client.get(change_url(story)).content.decode()
    assert f"Read-only: {lock}" in page
    assert 'name="_save"' not in page
    assert messages_of(client.post(change_url(story), data, follow=True)) == [f"Not saved: {lock}"]
    story.refresh_from_db()
    assert story.headline != "Changed after scheduling"


def test_unscheduling_lifts_the_lock_for_editors(client, editor, writer, publisher):
    story = story_in_scheduled_issue(writer)
    workflow.unschedule_issue(publisher, story.issues.get())
    assert workflow.story_edit_refusal(editor, story) is None
    client.force_login(editor)
    data = story_form_data(client, story, dek="Fixed before it goes out.")
    assert client.post(change_url(story), data).status_code == 302


# -- withdrawn stories -------------------------------------------------------


def withdrawn_story_by(writer) -> Story:
    story = story_ready_for("withdraw", writer)
    return workflow.withdraw_story(_reviewer(), story, "The figures did not hold up.")


def test_a_writer_cannot_edit_or_resubmit_their_own_withdrawn_story(admin_client, client, writer):
    story = withdrawn_story_by(writer)
    data = story_form_data(admin_client, story, headline="Quietly fixed by the writer")
    client.force_login(writer)

    page = client.get(change_url(story)).content.decode()
    edit = client.post(change_url(story), data, follow=True)
    submit = client.post(transition_url(story, "submit"), follow=True)

    assert (
        "Read-only: This story was withdrawn; only an editor can edit it or submit it for "
        "review again." in page
    )
    assert ">Submit for review</button>" not in page
    assert messages_of(edit) == [
        "Not saved: This story was withdrawn; only an editor can edit it or submit it for "
        "review again."
    ]
    assert any("only an editor can edit it" in m for m in messages_of(submit))
    story.refresh_from_db()
    assert story.status == S.WITHDRAWN
    assert story.headline != "Quietly fixed by the writer"


def test_an_editor_can_edit_and_resubmit_a_story_withdrawn_with_its_issue(
    client, editor, writer, publisher
):
    story = withdrawn_story_by(writer)
    workflow.withdraw_issue(publisher, story.issues.get(), "Pulled whole.")
    client.force_login(editor)
    data = story_form_data(client, story, headline="Corrected figures")
    assert client.post(change_url(story), data).status_code == 302
    client.post(transition_url(story, "submit"))
    story.refresh_from_db()
    assert (story.headline, story.status) == ("Corrected figures", S.IN_REVIEW)
