"""Every model's admin changelist, add form and change form render for a
superuser; the story changelist and change form cost a fixed number of queries."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stories.editorial import workflow
from stories.models import AuditEntry, Correction, PreviewLink, Source, Story, StoryRevision, Topic
from tests.factories import (
    CitationFactory,
    CorrectionFactory,
    StoryFactory,
    published_issue,
    user_in,
)
from tests.story_admin import change_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def content(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    issue = published_issue(2)
    story = issue.stories.first()
    story.topics.add("DeepSeek")
    CorrectionFactory(story=story)
    return issue


def registered_models():
    return [m for m in admin.site._registry if m._meta.app_label == "stories"]


def test_every_stories_model_is_in_the_admin():
    names = {m.__name__ for m in registered_models()}
    assert {"Story", "Issue", "Source", "Topic", "Correction", "AuditEntry", "PreviewLink"} <= names


@pytest.mark.parametrize(
    "model",
    [m.__name__ for m in [Story, Source, Topic, Correction, AuditEntry, PreviewLink]] + ["Issue"],
)
def test_changelist_renders_for_superuser(admin_client, content, model):
    meta = next(m for m in registered_models() if m.__name__ == model)._meta
    response = admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", ["Story", "Issue", "Source", "Topic", "Correction"])
def test_add_and_change_forms_render_for_superuser(admin_client, content, model):
    model_class = next(m for m in registered_models() if m.__name__ == model)
    meta = model_class._meta
    add = admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    assert add.status_code == 200
    obj = model_class.objects.first()
    change = admin_client.get(
        reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    )
    assert change.status_code == 200


def test_audit_entries_are_read_only(admin_client, content):
    entry = AuditEntry.objects.first()
    change_url = reverse("admin:stories_auditentry_change", args=[entry.pk])
    response = admin_client.post(change_url, {"comment": "rewritten"})
    entry.refresh_from_db()
    assert entry.comment != "rewritten"
    delete = admin_client.post(
        reverse("admin:stories_auditentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    assert response.status_code in (200, 403)


def test_issue_inline_refuses_two_stories_at_one_position(admin_client, content):
    from tests.factories import IssueFactory, approved_story

    issue = IssueFactory()
    a, b = approved_story(), approved_story()
    data = {
        "newsletter": issue.newsletter_id,
        "number": issue.number,
        "headline": issue.headline,
        "slug": "x",
        "intro": "",
        "closing_tldr": "",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-position": "1",
        "items-0-story": a.pk,
        "items-1-position": "1",
        "items-1-story": b.pk,
    }
    response = admin_client.post(reverse("admin:stories_issue_change", args=[issue.pk]), data)
    assert response.status_code == 200
    assert "Two stories are at position 1" in response.content.decode()
    assert issue.items.count() == 0


def test_storyrevision_model_exists_for_the_history():
    assert StoryRevision._meta.get_field("data")


# -- query counts ------------------------------------------------------------


def stories_with_everything(n: int) -> list[Story]:
    """n stories, a third of them published, each with two bylines, topics and a citation."""
    writer = user_in("Writers", username="count-writer")
    co_author = user_in(
        "Writers", username="count-co-author", first_name="Ada", last_name="Coauthor"
    )
    stories = [
        StoryFactory(created_by=writer, authors=[writer, co_author], headline=f"Story {i}")
        for i in range(n)
    ]
    published_issue(stories=[approved_story_of(story) for story in stories[: n // 3]])
    for i, story in enumerate(stories):
        story.topics.add(f"Topic {i % 4}", "DeepSeek")
    return stories


def approved_story_of(story: Story) -> Story:
    workflow.submit_for_review(story.created_by, story)
    return workflow.approve(user_in("Editors", username="count-approver"), story)


def user_for(role: str):
    if role == "superuser":
        return get_user_model().objects.create_superuser("count-root", "root@example.com", "pw")
    return user_in(role, username=f"count-{role.lower()}")


CHANGELIST_QUERIES = {
    # session, user, the topics for the topic filter, the cited sources for
    # the source filter, the filtered count (capped; no total count beside
    # it: tests/test_admin_scale.py), one page of stories, their bylines, the
    # first and the last creation date (one query each, each stopping at its
    # first story) and the days with stories (date hierarchy)
    "superuser": 10,
    # the same, and the user's own and group permissions
    "Writers": 12,
    "Editors": 12,
    "Publishers": 12,
}


@pytest.mark.parametrize("role", CHANGELIST_QUERIES)
@pytest.mark.parametrize("n_stories", [3, 30])
def test_story_changelist_query_count_does_not_grow_with_stories(
    client, django_assert_num_queries, role, n_stories
):
    stories_with_everything(n_stories)
    client.force_login(user_for(role))
    client.get(reverse("admin:stories_story_changelist"))  # warm the content-type cache

    with django_assert_num_queries(CHANGELIST_QUERIES[role]):
        response = client.get(reverse("admin:stories_story_changelist"))
    assert response.context["cl"].result_count == n_stories
    assert response.content.decode().count("Ada Coauthor") == n_stories  # every row's bylines


@pytest.mark.parametrize("n_stories", [3, 30])
def test_story_change_form_query_count_for_a_superuser_does_not_grow_with_stories(
    client, django_assert_num_queries, n_stories
):
    stories = stories_with_everything(n_stories)
    story = stories[-1]  # a draft, so every field and inline is editable
    story.topics.set(["DeepSeek"])
    client.force_login(user_for("superuser"))
    client.get(change_url(story))  # warm the content-type cache

    # session, user, story, its bylines, scheduled issue holding it (edit
    # check), citations with their sources, topic rows with their topics,
    # scheduled issue (buttons), latest audit comment, revision count,
    # whether readers can see it (View on site), selected bylines, the
    # newsletters and the sections (with their newsletters) to choose from,
    # guest byline rows with their contributors; the rows' autocompletes and
    # labels reuse what the rows loaded
    with django_assert_num_queries(15):
        response = client.get(change_url(story))
    assert response.status_code == 200
    assert response.context["original"] == story


def test_story_change_form_query_count_does_not_grow_with_its_topics_and_citations(client):
    client.force_login(user_for("superuser"))
    counts = []
    for n in (1, 6):
        story = StoryFactory(headline=f"Story with {n} of each", cited=False)
        for i in range(n):
            story.topics.add(f"Topic {i}")
            CitationFactory(story=story, title=f"Report {i}")
        client.get(change_url(story))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(change_url(story)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("role", ["Writers", "Editors", "Publishers"])
def test_a_story_the_scheduler_published_opens_in_the_admin(client, role):
    """The scheduler's audit entries name nobody; a story whose latest entry
    is one still opens, saying the newsroom did it."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import scheduled_issue, user_in

    issue = scheduled_issue(1, in_minutes=1)
    story = issue.stories.get()
    workflow.publish_due_issues(now=timezone.now() + timedelta(minutes=2))
    assert AuditEntry.objects.filter(actor=None, action="published").exists()
    user = story.created_by if role == "Writers" else user_in(role)
    client.force_login(user)
    response = client.get(change_url(story))
    assert response.status_code == 200
    assert "The newsroom" in response.content.decode()
