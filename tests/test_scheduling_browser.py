"""A publisher schedules an issue in a real browser; a reader sees it at its minute."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from stories.editorial import scheduling
from stories.models import AuditEntry, Issue

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("editorial_groups"),
]

PASSWORD = "demo-password-for-browser-tests"


@pytest.fixture
def demo(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSROOM_DEMO_PASSWORD", PASSWORD)
    settings.MEDIA_ROOT = tmp_path
    settings.TIME_ZONE = "America/New_York"
    call_command("load_demo", stdout=StringIO())
    return Issue.objects.get(status=Issue.Status.SCHEDULED)


def test_publisher_schedules_the_demo_issue_a_minute_ahead_and_a_reader_sees_it_then(
    live_server, browser, page, demo
):
    issue = demo
    start = (timezone.now() + timedelta(minutes=1)).replace(second=0, microsecond=0)
    minute = start + timedelta(minutes=1)
    # time-machine moves the clock for the whole process, live_server's thread
    # included; nobody waits for the minute to come.
    with time_machine.travel(start + timedelta(seconds=1), tick=True) as clock:
        page.goto(live_server.url + reverse("admin:login"))
        page.get_by_label("Username").fill("publisher")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(live_server.url + reverse("admin:stories_issue_change", args=[issue.pk]))

        picker = page.get_by_label("Publish at (America/New_York)")
        assert picker.get_attribute("type") == "datetime-local"
        assert "America/New_York (E" in page.locator("#publication").inner_text()
        picker.fill(scheduling.picker_value(minute))
        page.get_by_role("button", name="Schedule", exact=True).click()
        notice = page.locator(".messagelist").inner_text()
        assert f"scheduled for {scheduling.format_time(minute)}" in notice
        assert page.get_by_role("button", name="Unschedule", exact=True).is_visible()

        reader = browser.new_context().new_page()
        reader.goto(live_server.url + "/")
        assert reader.locator("h1").first.inner_text() != issue.headline
        assert reader.goto(live_server.url + issue.get_absolute_url()).status == 404

        clock.move_to(minute)
        reader.goto(live_server.url + "/")
        assert reader.locator("h1").first.inner_text() == issue.headline
        response = reader.goto(live_server.url + issue.get_absolute_url())
        assert response.status == 200
        assert reader.locator("h1").first.inner_text() == issue.headline
        reader.context.close()

    issue.refresh_from_db()
    assert issue.publish_at == minute
    assert issue.status == Issue.Status.SCHEDULED  # no job ran: the gate let readers in
    assert AuditEntry.objects.filter(issue=issue, action="rescheduled").count() == 1
