"""Scheduling in the newsroom's zone: wall-clock times, daylight saving, the moment
an issue goes live, cache expiry at that moment, and the Schedule page."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from stories.editorial import scheduling, workflow
from stories.models import Issue, Story
from stories.publishing.cache import next_publication_time, page_cache_timeout
from tests.factories import (
    StoryFactory,
    approved_story,
    issue_with_stories,
    published_issue,
    scheduled_issue,
)
from tests.reader_helpers import image_bytes
from tests.story_admin import change_url, story_form_data

pytestmark = pytest.mark.django_db


# -- wall-clock times --------------------------------------------------------


@pytest.mark.parametrize(
    "zone, wall_clock, utc",
    [
        ("Europe/London", datetime(2025, 1, 15, 9, 0), datetime(2025, 1, 15, 9, 0, tzinfo=UTC)),
        ("Europe/London", datetime(2025, 7, 15, 9, 0), datetime(2025, 7, 15, 8, 0, tzinfo=UTC)),
        ("America/New_York", datetime(2025, 1, 15, 9, 0), datetime(2025, 1, 15, 14, 0, tzinfo=UTC)),
        ("Asia/Kolkata", datetime(2025, 7, 15, 9, 0), datetime(2025, 7, 15, 3, 30, tzinfo=UTC)),
    ],
)
def test_wall_clock_times_are_read_in_the_newsroom_zone(settings, zone, wall_clock, utc):
    settings.TIME_ZONE = zone
    assert scheduling.from_wall_clock(wall_clock) == utc


@pytest.mark.parametrize(
    "zone, skipped, repeated",
    [
        ("Europe/London", datetime(2025, 3, 30, 1, 30), datetime(2025, 10, 26, 1, 30)),
        ("America/New_York", datetime(2025, 3, 9, 2, 30), datetime(2025, 11, 2, 1, 30)),
    ],
)
def test_times_the_clocks_skip_or_repeat_are_refused_with_a_reason(
    settings, zone, skipped, repeated
):
    settings.TIME_ZONE = zone
    with pytest.raises(scheduling.NotAClockTime, match="does not exist .* clocks go forward"):
        scheduling.from_wall_clock(skipped)
    with pytest.raises(scheduling.NotAClockTime, match="happens twice .* clocks go back"):
        scheduling.from_wall_clock(repeated)


def test_shown_times_name_their_zone_as_it_is_on_that_date(settings):
    settings.TIME_ZONE = "America/New_York"
    winter = datetime(2025, 1, 15, 14, 0, tzinfo=UTC)
    summer = datetime(2025, 7, 15, 13, 0, tzinfo=UTC)
    assert scheduling.format_time(winter) == "Wed 15 Jan 2025, 09:00 EST"
    assert scheduling.format_time(summer) == "Tue 15 Jul 2025, 09:00 EDT"
    assert scheduling.zone_description(winter) == "America/New_York (EST, UTC-05:00)"
    assert scheduling.zone_description(summer) == "America/New_York (EDT, UTC-04:00)"


# -- daylight saving, end to end ---------------------------------------------

CLOCK_CHANGES = [
    # zone, day the clocks change, 09:00 local in UTC, zone abbreviation at 09:00
    ("Europe/London", date(2025, 3, 30), datetime(2025, 3, 30, 8, 0, tzinfo=UTC), "BST"),
    ("Europe/London", date(2025, 10, 26), datetime(2025, 10, 26, 9, 0, tzinfo=UTC), "GMT"),
    ("America/New_York", date(2025, 3, 9), datetime(2025, 3, 9, 13, 0, tzinfo=UTC), "EDT"),
    ("America/New_York", date(2025, 11, 2), datetime(2025, 11, 2, 14, 0, tzinfo=UTC), "EST"),
]


@pytest.mark.parametrize("zone, day, nine_local, abbreviation", CLOCK_CHANGES)
def test_nine_oclock_on_a_clock_change_day_publishes_at_nine_local(
    client, publisher, settings, capsys, zone, day, nine_local, abbreviation
):
    settings.TIME_ZONE = zone
    issue = issue_with_stories(2)
    client.force_login(publisher)
    # Scheduled the day before, when the zone still had the other offset.
    with time_machine.travel(nine_local - timedelta(days=1), tick=False):
        client.post(
            reverse("admin:stories_issue_schedule", args=[issue.pk]),
            {"publish_at": f"{day:%Y-%m-%d}T09:00"},
        )
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED
    assert issue.publish_at == nine_local  # stored in UTC

    with time_machine.travel(nine_local - timedelta(seconds=1), tick=False):
        assert not Issue.objects.published().filter(pk=issue.pk).exists()
        assert workflow.publish_due_issues().published == []
    with time_machine.travel(nine_local, tick=False):
        assert Issue.objects.published().filter(pk=issue.pk).exists()
        call_command("publish_scheduled")
    assert f"scheduled for {day:%a} {day.day} {day:%b %Y}, 09:00 {abbreviation}" in (
        capsys.readouterr().out
    )
    issue.refresh_from_db()
    assert issue.status == Issue.Status.PUBLISHED
    assert scheduling.local(issue.published_at).strftime("%H:%M %Z") == f"09:00 {abbreviation}"


# -- visibility at the minute ------------------------------------------------


def test_readers_see_a_scheduled_issue_from_its_minute_without_any_job(client):
    issue = scheduled_issue(2, in_minutes=10, headline="Open weights, closed doors")
    story = issue.items.first().story
    issue_page, story_page = issue.get_absolute_url(), story.get_absolute_url()

    with time_machine.travel(issue.publish_at - timedelta(seconds=1), tick=False):
        assert "Open weights, closed doors" not in client.get("/").content.decode()
        assert client.get(issue_page).status_code == 404
        assert client.get(story_page).status_code == 404

    with time_machine.travel(issue.publish_at, tick=False):
        assert "Open weights, closed doors" in client.get("/").content.decode()
        assert client.get(issue_page).status_code == 200
        assert client.get(story_page).status_code == 200
        assert set(Story.objects.published()) == set(issue.stories.all())
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED  # nothing ran; the gate did it


def test_unscheduled_issue_never_appears(client, publisher):
    issue = scheduled_issue(1, in_minutes=10, headline="Pulled before its minute")
    workflow.unschedule_issue(publisher, issue)
    with time_machine.travel(issue.publish_at + timedelta(minutes=1), tick=False):
        assert "Pulled before its minute" not in client.get("/").content.decode()
        assert not Issue.objects.published().exists()


def test_a_scheduled_issue_is_upcoming_until_its_minute_and_published_from_it(publisher):
    issue = scheduled_issue(1, in_minutes=10)
    live = published_issue(1)
    withdrawn = published_issue(1)
    workflow.withdraw_issue(publisher, withdrawn, "Published by mistake.")
    issue_with_stories(1)  # a draft

    with time_machine.travel(issue.publish_at - timedelta(seconds=1), tick=False):
        assert list(Issue.objects.upcoming()) == [issue]
        assert list(Issue.objects.published()) == [live]
        assert set(Issue.objects.published_or_upcoming()) == {issue, live}
    with time_machine.travel(issue.publish_at, tick=False):
        assert not Issue.objects.upcoming().exists()
        assert set(Issue.objects.published()) == {issue, live}
        assert set(Issue.objects.published_or_upcoming()) == {issue, live}
    assert not Issue.objects.upcoming(now=issue.publish_at).exists()
    assert list(Issue.objects.upcoming(now=issue.publish_at - timedelta(minutes=1))) == [issue]


# -- caches never outlive the next publication -------------------------------

T0 = datetime(2025, 6, 2, 7, 58, 30, tzinfo=UTC)


def test_page_cache_timeout_shrinks_to_the_next_publication(
    settings, django_capture_on_commit_callbacks
):
    settings.NEWSROOM_PAGE_CACHE_SECONDS = 300
    with time_machine.travel(T0, tick=False):
        assert page_cache_timeout() == 300
        with django_capture_on_commit_callbacks(execute=True):
            issue = scheduled_issue(1, in_minutes=2)  # 08:00:00 UTC, 90 s away
        assert next_publication_time() == issue.publish_at
        assert page_cache_timeout() == 90
        cache.set("page:/", "the home page before 08:00", page_cache_timeout())

    with time_machine.travel(issue.publish_at - timedelta(seconds=1), tick=False):
        assert cache.get("page:/") == "the home page before 08:00"
        assert page_cache_timeout() == 1
    with time_machine.travel(issue.publish_at, tick=False):
        assert cache.get("page:/") is None  # expired at the minute the issue went live
        assert page_cache_timeout() == 300  # nothing else is scheduled


def test_the_horizon_moves_to_the_following_publication(django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            first = scheduled_issue(1, in_minutes=2)
            second = scheduled_issue(1, in_minutes=62)
        assert next_publication_time() == first.publish_at
    with time_machine.travel(first.publish_at + timedelta(seconds=5), tick=False):
        assert next_publication_time() == second.publish_at
        assert page_cache_timeout() == 300  # the next one is an hour away


def test_scheduling_and_unscheduling_reset_the_cached_horizon(
    publisher, django_capture_on_commit_callbacks
):
    issue = issue_with_stories(1)
    with time_machine.travel(T0, tick=False):
        assert next_publication_time() is None  # now cached as "nothing scheduled"
        with django_capture_on_commit_callbacks(execute=True):
            workflow.schedule_issue(publisher, issue, T0 + timedelta(minutes=1, seconds=30))
        assert next_publication_time() == datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
        with django_capture_on_commit_callbacks(execute=True):
            workflow.unschedule_issue(publisher, issue)
        assert next_publication_time() is None


# -- the Schedule page -------------------------------------------------------


@pytest.fixture
def london_evening(settings):
    settings.TIME_ZONE = "Europe/London"
    with time_machine.travel(datetime(2025, 6, 1, 17, 0, tzinfo=UTC), tick=False):
        yield


def test_schedule_page_groups_issues_by_local_day(client, publisher, london_evening):
    # 22:30 and 23:30 UTC on 1 June are 23:30 on the 1st and 00:30 on the 2nd in London.
    late = issue_with_stories(1, headline="Late edition")
    after_midnight = issue_with_stories(1, headline="After midnight")
    workflow.schedule_issue(publisher, late, datetime(2025, 6, 1, 22, 30, tzinfo=UTC))
    workflow.schedule_issue(publisher, after_midnight, datetime(2025, 6, 1, 23, 30, tzinfo=UTC))
    earlier_today = published_issue(1, headline="Morning briefing")
    issue_with_stories(
        stories=[StoryFactory(headline="Draft on chip exports")], headline="Not ready"
    )
    client.force_login(publisher)
    html = client.get(reverse("admin:stories_issue_agenda")).content.decode()

    assert "Europe/London (BST, UTC+01:00)" in html
    today = html.index("Today, Sunday 1 June 2025")
    tomorrow = html.index("Tomorrow, Monday 2 June 2025")
    unscheduled = html.index("Not scheduled yet")
    assert today < html.index("Morning briefing") < html.index("Late edition") < tomorrow
    assert tomorrow < html.index("After midnight") < unscheduled
    assert "Sun 1 Jun 2025, 23:30 BST" in html and "Mon 2 Jun 2025, 00:30 BST" in html
    assert unscheduled < html.index("Not ready")
    assert "“Draft on chip exports” is draft, not approved." in html
    assert f"#{earlier_today.number}: Morning briefing" in html


def test_schedule_page_shows_a_live_issue_awaiting_bookkeeping(client, publisher, london_evening):
    live = scheduled_issue(1, in_minutes=5, headline="Already out")
    scheduled_issue(1, in_minutes=120, headline="Held back")
    client.force_login(publisher)
    with time_machine.travel(live.publish_at + timedelta(minutes=1), tick=False):
        html = client.get(reverse("admin:stories_issue_agenda")).content.decode()
    row = html[html.index(f'data-issue="{live.number}"') :]
    assert row.index(">Live<") < row.index("</tr>")
    assert "Held back" in html


def test_schedule_page_queries_do_not_grow_with_issues(django_assert_num_queries, publisher):
    def schedule(n):
        for _ in range(n):
            scheduled_issue(2, in_minutes=60)
            issue_with_stories(stories=[StoryFactory()])

    schedule(1)
    # 1. the issues from today on and the drafts; 2. their items with the stories
    with django_assert_num_queries(2):
        small = scheduling.agenda()
    schedule(5)
    with django_assert_num_queries(2):
        large = scheduling.agenda()
    assert sum(len(d.entries) for d in large.days) == 6 > sum(len(d.entries) for d in small.days)
    assert len(large.unscheduled) == 6


@pytest.mark.parametrize("role", ["writer", "editor", "publisher"])
def test_every_staff_role_can_read_the_schedule(client, request, role):
    scheduled_issue(1, headline="On the agenda")
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("admin:stories_issue_agenda"))
    assert response.status_code == 200
    assert "On the agenda" in response.content.decode()
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:stories_issue_agenda") in index


def test_anonymous_visitors_cannot_read_the_schedule(client):
    response = client.get(reverse("admin:stories_issue_agenda"))
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def test_staff_without_issue_access_cannot_read_the_schedule(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="intern"))
    assert client.get(reverse("admin:stories_issue_agenda")).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:stories_issue_agenda") not in index


def test_stories_are_stamped_with_their_issue_minute_when_publication_is_recorded(publisher):
    story = approved_story()
    issue = workflow.schedule_issue(
        publisher, issue_with_stories(stories=[story]), datetime.now(UTC) + timedelta(minutes=3)
    )
    with time_machine.travel(issue.publish_at + timedelta(minutes=1), tick=False):
        story.refresh_from_db()
        assert story.status == Story.Status.APPROVED  # visible, not yet recorded
        assert story in Story.objects.published()
        workflow.publish_due_issues()
    story.refresh_from_db()
    assert story.status == Story.Status.PUBLISHED
    assert story.published_at == issue.publish_at


# -- provenance is checked again when an issue goes out ----------------------


def _approved_then_edited(client, editor, **changes):
    """An approved story an editor then edits through the admin, as the desk may
    until its issue is scheduled."""
    story = approved_story(headline="Chip export rules")
    client.force_login(editor)
    data = story_form_data(client, story, **changes)
    response = client.post(change_url(story), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    story.refresh_from_db()
    assert story.status == Story.Status.APPROVED
    return story


def test_an_issue_cannot_be_scheduled_once_a_story_lost_its_citations(client, editor, publisher):
    story = _approved_then_edited(client, editor, **{"citations-0-DELETE": "on"})
    assert not story.citations.exists()
    issue = issue_with_stories(stories=[story])
    client.force_login(publisher)

    response = client.post(
        reverse("admin:stories_issue_schedule", args=[issue.pk]),
        {"publish_at": scheduling.picker_value(timezone.now() + timedelta(days=1))},
    )

    assert (
        "Cannot schedule this issue: Before “Chip export rules” can go out, cite at least "
        "one source." in response.content.decode()
    )
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_an_issue_cannot_be_published_now_with_an_uncredited_lead_image_added_after_approval(
    client, editor, publisher, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    story = _approved_then_edited(
        client,
        editor,
        lead_image=SimpleUploadedFile("chip.jpg", image_bytes(800, 450), "image/jpeg"),
        lead_image_alt="A wafer under a microscope",
    )
    assert story.lead_image and not story.lead_image_credit
    issue = issue_with_stories(stories=[story])
    client.force_login(publisher)

    response = client.post(reverse("admin:stories_issue_publish_now", args=[issue.pk]))

    assert (
        "Cannot publish this issue: Before “Chip export rules” can go out, credit the lead "
        "image." in response.content.decode()
    )
    issue.refresh_from_db()
    story.refresh_from_db()
    assert (issue.status, story.status) == (Issue.Status.DRAFT, Story.Status.APPROVED)


def test_each_story_missing_provenance_is_named(publisher):
    cited, uncited = approved_story(headline="Sourced"), approved_story(headline="Unsourced")
    uncited.citations.all().delete()
    Story.objects.filter(pk=cited.pk).update(lead_image="lead-images/x.jpg")
    issue = issue_with_stories(stories=[cited, uncited])

    assert workflow.scheduling_blockers(issue) == [
        "Before “Sourced” can go out, add alt text to the lead image; credit the lead image.",
        "Before “Unsourced” can go out, cite at least one source.",
    ]
    with pytest.raises(workflow.WorkflowError, match="^Cannot publish this issue: Before"):
        workflow.publish_issue_now(publisher, issue)


def test_schedule_page_names_a_scheduled_story_a_tightened_rule_now_blocks(
    client, publisher, settings, london_evening
):
    # Stories approved while the newsroom did not require a source, scheduled,
    # and then the rule came back: the desk must see what the issue now lacks.
    settings.NEWSROOM_REQUIRE_SOURCE = False
    story = approved_story(headline="Unsourced wire copy", cited=False)
    scheduled_issue(stories=[story], in_minutes=120, headline="Held back")
    settings.NEWSROOM_REQUIRE_SOURCE = True
    client.force_login(publisher)
    html = client.get(reverse("admin:stories_issue_agenda")).content.decode()
    assert "Before “Unsourced wire copy” can go out, cite at least one source." in html
