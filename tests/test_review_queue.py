"""The editors' desk in the admin: review queue, "My drafts", bulk actions,
the history page with the audit trail, and pages whose query count stays flat."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from stories.editorial import revisions, workflow
from stories.models import AuditEntry, Story
from tests.factories import StoryFactory, user_in
from tests.story_admin import change_url, messages_of

pytestmark = pytest.mark.django_db

S = Story.Status
QUEUE = reverse("admin:stories_story_review_queue")
DRAFTS = reverse("admin:stories_story_my_drafts")


def submitted(writer, headline, days_ago, topics=()):
    story = StoryFactory(created_by=writer, headline=headline)
    story.topics.add(*topics)
    with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
        workflow.submit_for_review(writer, story)
    return story


def test_review_queue_lists_stories_in_review_oldest_first_with_author_age_and_topics(
    client, editor, writer
):
    submitted(writer, "Newest", 1, ["Chips"])
    submitted(writer, "Oldest", 5, ["DeepSeek", "Pricing"])
    submitted(writer, "Middle", 3)
    StoryFactory(created_by=writer, headline="Still a draft")
    client.force_login(editor)

    response = client.get(QUEUE)

    assert [s.headline for s in response.context["stories"]] == ["Oldest", "Middle", "Newest"]
    page = response.content.decode()
    assert "Still a draft" not in page
    assert writer.get_full_name() in page
    assert "5\xa0days" in page
    assert "DeepSeek, Pricing" in page


def test_review_queue_query_count_does_not_grow_with_the_queue(
    client, editor, writer, django_assert_num_queries
):
    client.force_login(editor)
    for size in (2, 12):
        for n in range(size - Story.objects.filter(status=S.IN_REVIEW).count()):
            submitted(writer, f"Queued {size}-{n}", n, [f"Topic {n}"])
        # session, user, user's permissions and group permissions (review
        # check; the view check reuses them), stories in review, their
        # authors, their topics
        with django_assert_num_queries(7):
            assert client.get(QUEUE).status_code == 200


def test_admin_index_links_the_review_queue_and_my_drafts(client, editor):
    client.force_login(editor)
    page = client.get(reverse("admin:index")).content.decode()
    assert f'href="{QUEUE}"' in page
    assert f'href="{DRAFTS}"' in page


def test_writers_see_my_drafts_but_not_the_review_queue_link(client, writer):
    client.force_login(writer)
    page = client.get(reverse("admin:index")).content.decode()
    assert f'href="{QUEUE}"' not in page
    assert f'href="{DRAFTS}"' in page


@pytest.mark.parametrize("role", ["writer", "publisher"])
def test_the_review_queue_itself_is_forbidden_to_those_who_do_not_review(
    client, request, writer, role
):
    submitted(writer, "Waiting for an editor", 1)
    client.force_login(request.getfixturevalue(role))
    response = client.get(QUEUE)
    assert response.status_code == 403
    assert "Waiting for an editor" not in response.content.decode()


def test_review_queue_needs_a_login(client):
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_my_drafts_lists_the_writers_unfinished_stories_with_the_editors_request(
    client, writer, other_writer, editor
):
    draft = StoryFactory(created_by=writer, headline="My draft")
    sent_back = StoryFactory(created_by=writer, headline="Sent back")
    workflow.submit_for_review(writer, sent_back)
    workflow.request_changes(editor, sent_back, "Name the second source.")
    co_written = StoryFactory(created_by=other_writer, authors=[other_writer, writer])
    StoryFactory(created_by=other_writer, headline="Someone else's")
    client.force_login(writer)

    response = client.get(DRAFTS)

    headlines = {s.headline for s in response.context["stories"]}
    assert headlines == {draft.headline, sent_back.headline, co_written.headline}
    assert "Name the second source." in response.content.decode()


# -- bulk actions ------------------------------------------------------------


def run_action(client, action, stories):
    return client.post(
        reverse("admin:stories_story_changelist"),
        {"action": action, "_selected_action": [s.pk for s in stories]},
        follow=True,
    )


def test_bulk_approve_reports_each_success_and_each_refusal(client, editor, writer):
    ready = submitted(writer, "Ready", 1)
    unsourced = StoryFactory(created_by=writer, headline="Unsourced", cited=False)
    workflow.submit_for_review(writer, unsourced)
    draft = StoryFactory(created_by=writer, headline="Draft")
    client.force_login(editor)

    response = run_action(client, "approve_selected", [ready, unsourced, draft])

    assert messages_of(response) == [
        "“Unsourced”: Before this story can be approved, cite at least one source.",
        "“Draft”: Cannot approve this story: it is draft, and only in review items can be.",
        "Approved: “Ready”.",
    ]
    statuses = dict(Story.objects.values_list("headline", "status"))
    assert statuses == {"Ready": S.APPROVED, "Unsourced": S.IN_REVIEW, "Draft": S.DRAFT}


def test_bulk_submit_refuses_a_writers_forged_selection_of_others_stories(
    client, writer, other_writer
):
    mine = StoryFactory(created_by=writer, headline="Mine")
    theirs = StoryFactory(created_by=other_writer, headline="Theirs")
    client.force_login(writer)

    response = run_action(client, "submit_selected", [mine, theirs])

    assert messages_of(response) == [
        "“Theirs”: Only its authors and editors can edit this story.",
        "Submitted for review: “Mine”.",
    ]
    theirs.refresh_from_db()
    assert theirs.status == S.DRAFT


def test_writers_are_not_offered_bulk_approval(client, writer):
    story = submitted(writer, "Mine", 1)
    client.force_login(writer)
    page = client.get(reverse("admin:stories_story_changelist")).content.decode()
    assert "approve_selected" not in page
    run_action(client, "approve_selected", [story])
    story.refresh_from_db()
    assert story.status == S.IN_REVIEW


# -- history and the audit trail ----------------------------------------------


def test_history_page_shows_every_workflow_step_with_its_comment(client, editor, writer):
    story = submitted(writer, "Under review", 1)
    workflow.request_changes(editor, story, "Add the chip export figures.")
    workflow.submit_for_review(writer, story, "Figures added.")
    workflow.approve(user_in("Editors", username="chief"), story, "Ship it.")
    client.force_login(writer)

    page = client.get(reverse("admin:stories_story_history", args=[story.pk])).content.decode()

    for text in [
        "Submitted for review",
        "Changes requested",
        "Add the chip export figures.",
        "Figures added.",
        "Approved",
        "Ship it.",
        "In review → Changes requested",
    ]:
        assert text in page
    assert page.index("Add the chip export figures.") < page.index("Ship it.")


def test_change_form_shows_the_latest_comment_to_the_writer(client, editor, writer):
    story = submitted(writer, "Under review", 1)
    workflow.request_changes(editor, story, "Cite the Reuters piece.")
    client.force_login(writer)
    page = client.get(change_url(story)).content.decode()
    assert "Cite the Reuters piece." in page
    assert "Status: Changes requested" in page


def test_audit_trail_list_filters_by_actor_action_and_date(client, editor, writer):
    story = submitted(writer, "Filtered", 1)
    workflow.approve(editor, story)
    client.force_login(editor)
    url = reverse("admin:stories_auditentry_changelist")

    by_action = client.get(url, {"action": "approved"})
    by_actor = client.get(url, {"actor__id__exact": writer.pk})
    today = timezone.localdate()
    by_date = client.get(url, {"created_at__year": today.year, "created_at__month": today.month})

    assert [e.action for e in by_action.context["cl"].result_list] == ["approved"]
    assert [e.action for e in by_actor.context["cl"].result_list] == ["submitted"]
    assert by_date.context["cl"].result_count == 2


def test_audit_entries_cannot_be_changed_or_deleted_by_an_editor(client, editor, writer):
    story = submitted(writer, "Audited", 1)
    entry = AuditEntry.objects.get(story=story)
    client.force_login(editor)
    change = client.post(
        reverse("admin:stories_auditentry_change", args=[entry.pk]), {"comment": "x"}
    )
    delete = client.post(
        reverse("admin:stories_auditentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert change.status_code == 403
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.comment == ""


# -- query counts ------------------------------------------------------------


def grow_history(story, editor, writer, size):
    """size revisions and about 2 x size audit entries on story."""
    for _ in range(size):
        revisions.record_revision(story, editor)
        workflow.submit_for_review(writer, story)
        workflow.request_changes(editor, story, "Again.")


@pytest.mark.parametrize("size", [2, 25])
def test_change_form_query_count_is_flat_with_many_revisions_and_audit_rows(
    client, editor, writer, size, django_assert_num_queries
):
    story = StoryFactory(created_by=writer)
    story.topics.add("DeepSeek")
    grow_history(story, editor, writer, size)
    client.force_login(editor)
    client.get(change_url(story))  # warm the content-type cache

    # session, user, story, its authors, user's permissions and group
    # permissions, scheduled issue holding it (edit check), citations with
    # their sources, topic rows with their topics, scheduled issue (buttons),
    # latest audit comment, revision count, whether readers can see it (View
    # on site), selected bylines, the newsletters to choose from
    with django_assert_num_queries(15):
        response = client.get(change_url(story))
    assert response.context["revision_count"] == size


@pytest.mark.parametrize("size", [2, 25])
def test_history_page_query_count_is_flat_with_many_revisions_and_audit_rows(
    client, editor, writer, size, django_assert_num_queries
):
    story = StoryFactory(created_by=writer)
    grow_history(story, editor, writer, size)
    client.force_login(editor)
    client.get(change_url(story))

    # session, user, story, its authors, user's permissions and group
    # permissions, admin log count, audit entries with actors, revisions
    # with authors
    with django_assert_num_queries(9):
        response = client.get(reverse("admin:stories_story_history", args=[story.pk]))
    assert response.content.decode().count('id="revision-') == size
