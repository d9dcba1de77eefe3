"""Every time shown to staff names its zone: the newsroom's, whatever the
server's or the browser's (scheduling.format_time, through the staff_time
filter and the admin's time columns)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from stories.editorial import revisions, scheduling, workflow
from stories.models import AuditEntry, Story
from stories.reader import preview
from tests.factories import (
    CorrectionFactory,
    StoryFactory,
    issue_with_stories,
    published_issue,
    user_in,
)
from tests.story_admin import change_url, story_form_data

pytestmark = pytest.mark.django_db

# 12:00 UTC on a summer day is 13:00 in London (BST).
SUMMER_NOON = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SHOWN = "Sun 1 Jun 2025, 13:00 BST"


@pytest.fixture
def london(settings):
    settings.TIME_ZONE = "Europe/London"
    with time_machine.travel(SUMMER_NOON, tick=False):
        yield


def column(html: str, name: str) -> list[str]:
    """The cells of an admin list column (the first one is a link)."""
    return re.findall(rf'class="field-{name}">(?:<a [^>]*>)?([^<]*)<', html)


def page(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, url
    return response.content.decode()


# -- the one helper ------------------------------------------------------------


@pytest.mark.parametrize(
    "zone, shown",
    [
        ("Europe/London", "Sun 1 Jun 2025, 13:00 BST"),
        ("America/New_York", "Sun 1 Jun 2025, 08:00 EDT"),
        # Zones without an abbreviation are named by their offset, not a bare "+04".
        ("Asia/Dubai", "Sun 1 Jun 2025, 16:00 UTC+04:00"),
        ("Asia/Kathmandu", "Sun 1 Jun 2025, 17:45 UTC+05:45"),
    ],
)
def test_shown_times_name_their_zone_in_every_zone(settings, zone, shown):
    settings.TIME_ZONE = zone
    assert scheduling.format_time(SUMMER_NOON) == shown


def test_a_naive_time_is_read_in_the_newsroom_zone_not_the_servers(settings):
    settings.TIME_ZONE = "Europe/London"
    assert scheduling.format_time(datetime(2025, 6, 1, 13, 0)) == SHOWN


def test_the_template_filter_uses_the_helper(settings):
    settings.TIME_ZONE = "Europe/London"
    template = Template("{% load story_admin %}[{{ when|staff_time }}][{{ never|staff_time }}]")
    assert template.render(Context({"when": SUMMER_NOON, "never": None})) == f"[{SHOWN}][]"


# -- story pages ---------------------------------------------------------------


def test_story_workflow_pages_say_the_zone(client, editor, writer, london):
    story = StoryFactory(created_by=writer, headline="Zoned")
    workflow.submit_for_review(writer, story)
    client.force_login(editor)
    client.post(change_url(story), story_form_data(client, story, dek="Edited by the desk."))
    workflow.request_changes(editor, story, "Name the source.")

    panel = page(client, change_url(story))
    assert f"(Changes requested, {SHOWN}):" in panel
    history = page(client, reverse("admin:stories_story_history", args=[story.pk]))
    for section in ('id="workflow-history"', 'id="revisions"', 'id="change-history"'):
        block = history[history.index(section) :]
        assert SHOWN in block[: block.index("</table>")], section
    compare = page(
        client, reverse("admin:stories_story_revision_compare", args=[story.pk]), a=1, b=2
    )
    assert f"Revision 1: {SHOWN}" in compare and f"Revision 2: {SHOWN}" in compare


def test_review_queue_gives_the_submission_time_with_its_zone(client, editor, writer, london):
    story = StoryFactory(created_by=writer)
    workflow.submit_for_review(writer, story)
    client.force_login(editor)
    assert f'title="Submitted {SHOWN}"' in page(client, reverse("admin:stories_story_review_queue"))


def test_edit_conflict_says_when_in_the_newsroom_zone(editor, writer, london):
    story = StoryFactory(created_by=writer)
    revisions.record_revision(story, editor)
    seen = story.version
    Story.objects.get(pk=story.pk).save()
    revisions.record_revision(Story.objects.get(pk=story.pk), editor)
    conflict = revisions.describe_conflict(story.pk, seen)
    assert conflict.events == [f"{editor.get_full_name()} saved it at {SHOWN}"]


# -- the audit trail -----------------------------------------------------------


def test_publication_steps_in_the_audit_trail_name_a_zone_with_no_abbreviation(settings, publisher):
    settings.TIME_ZONE = "Asia/Dubai"
    with time_machine.travel(SUMMER_NOON, tick=False):
        issue = issue_with_stories(1)
        workflow.schedule_issue(publisher, issue, SUMMER_NOON + timedelta(hours=1))
        workflow.schedule_issue(publisher, issue, SUMMER_NOON + timedelta(hours=2))
    with time_machine.travel(SUMMER_NOON + timedelta(hours=2, seconds=30), tick=False):
        workflow.publish_due_issues()

    comments = list(
        AuditEntry.objects.filter(issue=issue).order_by("pk").values_list("comment", flat=True)
    )
    assert comments == [
        "For Sun 1 Jun 2025, 17:00 UTC+04:00",
        "For Sun 1 Jun 2025, 18:00 UTC+04:00 (was Sun 1 Jun 2025, 17:00 UTC+04:00)",
        "Scheduled for Sun 1 Jun 2025, 18:00 UTC+04:00; bookkeeping ran 30 s after.",
    ]


# -- admin list columns --------------------------------------------------------


def test_admin_lists_show_times_with_their_zone(editor, writer, london):
    story = published_issue(1).stories.get()
    CorrectionFactory(story=story)
    link = preview.create_share_link(editor, story, days=3)
    type(link).objects.filter(pk=link.pk).revoke()
    admin = Client()
    admin.force_login(user_in("Editors", username="lister"))

    audit = page(admin, reverse("admin:stories_auditentry_changelist"))
    stories = page(admin, reverse("admin:stories_story_changelist"))
    corrections = page(admin, reverse("admin:stories_correction_changelist"))
    links = page(admin, reverse("admin:stories_previewlink_changelist"))
    link_form = page(admin, reverse("admin:stories_previewlink_change", args=[link.pk]))

    assert set(column(audit, "created_at_zoned")) == {SHOWN}
    assert column(stories, "updated_at_zoned") == [SHOWN]
    assert column(corrections, "created_at_zoned") == [SHOWN]
    in_three_days = scheduling.format_time(SUMMER_NOON + timedelta(days=3))
    assert column(links, "created_at_zoned") == [SHOWN]
    assert column(links, "expires_at_zoned") == [in_three_days]
    assert column(links, "revoked_at_zoned") == [SHOWN]
    assert SHOWN in link_form and in_three_days in link_form  # read-only, zone named


# -- share links ----------------------------------------------------------------


def test_share_link_expiry_names_its_zone_in_the_admin_and_on_the_preview(client, editor, london):
    story = StoryFactory(headline="Under embargo")
    client.force_login(editor)
    response = client.post(
        reverse("stories:share_preview", args=["story", story.pk]), {"days": "7"}, follow=True
    )
    in_a_week = "Sun 8 Jun 2025, 13:00 BST"
    assert f"it works until {in_a_week} unless revoked" in response.content.decode()

    link = story.preview_links.get()
    banner = Client().get(f"/p/{link.token}/").content.decode()
    assert re.search(rf'This link works until <time datetime="[^"]+">{in_a_week}</time>', banner)
