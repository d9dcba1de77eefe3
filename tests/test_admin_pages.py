"""Every model's admin changelist, add form and change form render for a superuser."""

import pytest
from django.contrib import admin
from django.urls import reverse

from stories.models import AuditEntry, Correction, PreviewLink, Source, Story, StoryRevision, Topic
from tests.factories import CorrectionFactory, published_issue

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
