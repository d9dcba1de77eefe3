"""The issue admin's publication panel, its buttons and the contents lock, for every role."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from stories.editorial import workflow
from stories.models import AuditEntry, Issue, IssueItem
from tests.factories import (
    IssueFactory,
    StoryFactory,
    approved_story,
    issue_with_stories,
    published_issue,
    scheduled_issue,
)

pytestmark = pytest.mark.django_db

# A summer day: London is on BST (UTC+01:00).
SUMMER_NOON = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def london(settings):
    settings.TIME_ZONE = "Europe/London"
    with time_machine.travel(SUMMER_NOON, tick=False) as traveller:
        yield traveller


def change_url(issue):
    return reverse("admin:stories_issue_change", args=[issue.pk])


def action_url(issue, action):
    return reverse(f"admin:stories_issue_{action}", args=[issue.pk])


def publication_buttons(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'class="button publication-action">([^<]+)</button>', html)


def in_state(state: str) -> Issue:
    if state == "draft":
        return issue_with_stories(1)
    if state == "scheduled":
        return scheduled_issue(1, in_minutes=60)
    if state == "published":
        return published_issue(1)
    if state == "withdrawn":
        issue = published_issue(1)
        return workflow.withdraw_issue(issue_publisher(), issue, "Published by mistake.")
    raise AssertionError(state)


def issue_publisher():
    from tests.factories import user_in

    return user_in("Publishers", username="other-publisher")


# -- buttons -----------------------------------------------------------------


@pytest.mark.parametrize(
    "state, buttons",
    [
        ("draft", ["Schedule", "Publish now"]),
        ("scheduled", ["Schedule", "Unschedule", "Publish now"]),
        ("published", ["Withdraw"]),
        ("withdrawn", ["Schedule", "Publish now"]),
    ],
)
def test_publisher_sees_only_the_buttons_that_apply(client, publisher, state, buttons):
    issue = in_state(state)
    client.force_login(publisher)
    response = client.get(change_url(issue))
    assert response.status_code == 200
    assert publication_buttons(response) == buttons


def test_scheduled_issue_whose_minute_has_come_offers_only_withdraw(client, publisher):
    issue = scheduled_issue(1, in_minutes=5)
    client.force_login(publisher)
    with time_machine.travel(issue.publish_at + timedelta(seconds=1)):
        response = client.get(change_url(issue))
    assert publication_buttons(response) == ["Withdraw"]
    assert '<dd class="publication-state">Live</dd>' in response.content.decode()


@pytest.mark.parametrize("role", ["writer", "editor"])
@pytest.mark.parametrize("state", ["draft", "scheduled", "published"])
def test_writers_and_editors_see_the_state_but_no_publication_buttons(client, request, role, state):
    issue = in_state(state)
    client.force_login(request.getfixturevalue(role))
    response = client.get(change_url(issue))
    assert response.status_code == 200
    assert publication_buttons(response) == []
    assert 'id="publication"' in response.content.decode()


def test_the_change_form_keeps_the_preview_tools_slot(client, publisher, settings, tmp_path):
    snippet = tmp_path / "admin" / "stories" / "_preview_tools.html"
    snippet.parent.mkdir(parents=True)
    snippet.write_text('<li><a href="#preview" class="preview-marker">Preview</a></li>')
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    client.force_login(publisher)
    html = client.get(change_url(issue_with_stories(1))).content.decode()
    tools = html[html.index('class="object-tools"') : html.index('id="publication"')]
    assert "preview-marker" in tools


# -- who may act: every role -------------------------------------------------

ACTIONS = {
    # action: (state it applies to, POST data, status it would move the issue to)
    "schedule": ("draft", {"publish_at": "2025-06-02T09:00"}, "scheduled"),
    "unschedule": ("scheduled", {}, "draft"),
    "publish_now": ("draft", {}, "published"),
    "withdraw": ("published", {"reason": "A correction is due."}, "withdrawn"),
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ["writer", "editor"])
def test_writers_and_editors_cannot_change_publication(client, request, london, action, role):
    state, data, _ = ACTIONS[action]
    issue = in_state(state)
    client.force_login(request.getfixturevalue(role))
    audit_before = AuditEntry.objects.count()
    response = client.post(action_url(issue, action), data)
    assert response.status_code == 403
    issue.refresh_from_db()
    assert issue.status == state
    assert AuditEntry.objects.count() == audit_before


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_visitors_are_sent_to_log_in(client, london, action):
    state, data, _ = ACTIONS[action]
    issue = in_state(state)
    response = client.post(action_url(issue, action), data)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    issue.refresh_from_db()
    assert issue.status == state


@pytest.mark.parametrize("action", ACTIONS)
def test_publishers_can_take_every_publication_action(client, publisher, london, action):
    state, data, target = ACTIONS[action]
    issue = in_state(state)
    client.force_login(publisher)
    response = client.post(action_url(issue, action), data)
    assert response.status_code == 302 and response.url == change_url(issue)
    issue.refresh_from_db()
    assert issue.status == target
    assert AuditEntry.objects.filter(issue=issue, actor=publisher).exists()


# -- the schedule form -------------------------------------------------------


def test_time_picker_names_the_newsroom_zone_and_offers_its_local_time(client, publisher, london):
    issue = issue_with_stories(1)
    client.force_login(publisher)
    for url in (change_url(issue), action_url(issue, "schedule")):
        html = client.get(url).content.decode()
        assert "Publish at (Europe/London)" in html
        assert "Europe/London (BST, UTC+01:00)" in html
        # 12:00 UTC is 13:00 in London; the picker offers the next full hour, local.
        assert re.search(r'type="datetime-local"[^>]*value="2025-06-01T14:00"', html) or re.search(
            r'value="2025-06-01T14:00"[^>]*type="datetime-local"', html
        )


def test_typed_time_is_read_in_the_newsroom_zone(client, publisher, london):
    issue = issue_with_stories(1)
    client.force_login(publisher)
    response = client.post(
        action_url(issue, "schedule"), {"publish_at": "2025-06-02T09:00"}, follow=True
    )
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED
    assert issue.publish_at == datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
    assert "scheduled for Mon 2 Jun 2025, 09:00 BST" in response.content.decode()


def test_rescheduling_offers_the_current_time_and_replaces_it(client, publisher, london):
    issue = scheduled_issue(1, in_minutes=90)
    client.force_login(publisher)
    html = client.get(action_url(issue, "schedule")).content.decode()
    assert "Currently scheduled for <strong>Sun 1 Jun 2025, 14:30 BST</strong>" in html
    assert 'value="2025-06-01T14:30"' in html
    client.post(action_url(issue, "schedule"), {"publish_at": "2025-06-01T18:45"})
    issue.refresh_from_db()
    assert issue.publish_at == datetime(2025, 6, 1, 17, 45, tzinfo=UTC)
    assert AuditEntry.objects.filter(issue=issue, action="rescheduled").count() == 1


def test_a_past_time_is_refused_with_a_pointer_to_publish_now(client, publisher, london):
    issue = issue_with_stories(1)
    client.force_login(publisher)
    response = client.post(action_url(issue, "schedule"), {"publish_at": "2025-06-01T12:59"})
    assert response.status_code == 200
    assert "That time has already passed" in response.content.decode()
    assert "Publish now" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT and issue.publish_at is None


def test_the_current_minute_already_counts_as_past(client, publisher, london):
    issue = issue_with_stories(1)
    client.force_login(publisher)
    with time_machine.travel(SUMMER_NOON + timedelta(seconds=20), tick=False):
        client.post(action_url(issue, "schedule"), {"publish_at": "2025-06-01T13:00"})
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_stories_that_block_scheduling_are_named(client, publisher, london):
    unready = StoryFactory(headline="Chip export rules, still in draft")
    issue = issue_with_stories(stories=[approved_story(), unready])
    client.force_login(publisher)
    page = client.get(action_url(issue, "schedule")).content.decode()
    assert "“Chip export rules, still in draft” is draft, not approved." in page
    assert "Chip export rules, still in draft" in client.get(change_url(issue)).content.decode()
    response = client.post(action_url(issue, "schedule"), {"publish_at": "2025-06-02T09:00"})
    assert "Cannot schedule this issue" in response.content.decode()
    assert "“Chip export rules, still in draft” is draft" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_an_empty_issue_cannot_be_scheduled(client, publisher, london):
    issue = IssueFactory()
    client.force_login(publisher)
    response = client.post(action_url(issue, "schedule"), {"publish_at": "2025-06-02T09:00"})
    assert "Add at least one story to the issue." in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_a_time_the_clocks_skip_is_refused(client, publisher, settings):
    settings.TIME_ZONE = "Europe/London"
    issue = issue_with_stories(1)
    client.force_login(publisher)
    with time_machine.travel(datetime(2025, 3, 29, 12, 0, tzinfo=UTC)):
        response = client.post(action_url(issue, "schedule"), {"publish_at": "2025-03-30T01:30"})
    assert "01:30 does not exist on 30 Mar 2025 in Europe/London" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


# -- publish now, unschedule, withdraw ---------------------------------------


def test_publish_now_asks_for_confirmation_listing_the_stories(client, publisher):
    issue = issue_with_stories(2)
    client.force_login(publisher)
    html = client.get(action_url(issue, "publish_now")).content.decode()
    for item in issue.items.all():
        assert item.story.headline in html
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    client.post(action_url(issue, "publish_now"))
    issue.refresh_from_db()
    assert issue.status == Issue.Status.PUBLISHED
    assert set(issue.stories.values_list("status", flat=True)) == {"published"}


def test_publish_now_refuses_an_issue_with_unapproved_stories(client, publisher):
    issue = issue_with_stories(stories=[StoryFactory(headline="Unfinished draft")])
    client.force_login(publisher)
    response = client.post(action_url(issue, "publish_now"))
    assert "“Unfinished draft” is draft, not approved." in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_unschedule_only_answers_posts(client, publisher):
    issue = scheduled_issue(1)
    client.force_login(publisher)
    assert client.get(action_url(issue, "unschedule")).status_code == 405
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED


def test_unscheduling_a_live_issue_is_refused_with_a_message(client, publisher):
    issue = scheduled_issue(1, in_minutes=5)
    client.force_login(publisher)
    with time_machine.travel(issue.publish_at + timedelta(minutes=1)):
        response = client.post(action_url(issue, "unschedule"), follow=True)
    assert "already live; withdraw it instead" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED


def test_withdraw_asks_for_a_reason_and_records_it(client, publisher):
    issue = published_issue(1)
    client.force_login(publisher)
    page = client.get(action_url(issue, "withdraw")).content.decode()
    assert 'name="reason"' in page
    refused = client.post(action_url(issue, "withdraw"), {"reason": "  "})
    assert "This field is required." in refused.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.PUBLISHED
    client.post(action_url(issue, "withdraw"), {"reason": "The lead story was wrong."})
    issue.refresh_from_db()
    assert issue.status == Issue.Status.WITHDRAWN
    entry = AuditEntry.objects.get(issue=issue, action="withdrawn")
    assert entry.comment == "The lead story was wrong." and entry.actor == publisher
    assert not Issue.objects.published().filter(pk=issue.pk).exists()


# -- the contents lock -------------------------------------------------------


def change_form_data(issue, **changes):
    items = list(issue.items.all())
    data = {
        "newsletter": issue.newsletter_id,
        "number": issue.number,
        "headline": issue.headline,
        "slug": issue.slug,
        "intro": issue.intro,
        "closing_tldr": issue.closing_tldr,
        "format": issue.format,
        "based_on_version": issue.version,
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": str(len(items)),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for n, item in enumerate(items):
        data |= {
            f"items-{n}-id": item.pk,
            f"items-{n}-issue": issue.pk,
            f"items-{n}-position": item.position,
            f"items-{n}-story": item.story_id,
        }
    return data | changes


# -- two people assembling one issue -----------------------------------------


def opened_form(client, issue, **changes) -> dict:
    """What the change form posts, as it was when client opened it, with changes."""
    form = client.get(change_url(issue)).context["adminform"].form
    seen = {name: form[name].value() for name in ("based_on_version", "opened_at")}
    return change_form_data(issue, **seen, **changes)


@pytest.fixture
def second_editor(db):
    from tests.factories import user_in

    return user_in("Editors", username="second-editor", first_name="Sam", last_name="Second")


def test_second_save_of_an_issue_from_the_same_version_is_refused_naming_who_saved(
    client, editor, second_editor, london
):
    from django.test import Client

    issue = issue_with_stories(2, headline="Original headline", intro="Original intro")
    other = Client()
    client.force_login(editor)
    other.force_login(second_editor)
    first = opened_form(other, issue, headline="Headline from the first tab")
    second = opened_form(client, issue, intro="Intro from the second tab")

    assert other.post(change_url(issue), first).status_code == 302
    refused = client.post(change_url(issue), second)

    assert refused.status_code == 200
    html = refused.content.decode()
    assert (
        "Your changes were not saved: Sam Second saved it at Sun 1 Jun 2025, 13:00 BST "
        "after you opened this issue" in html
    )
    assert refused.context["adminform"].form["intro"].value() == "Intro from the second tab"
    issue.refresh_from_db()
    assert (issue.headline, issue.intro) == ("Headline from the first tab", "Original intro")


def test_saving_the_issue_again_after_the_refusal_is_accepted(client, editor, second_editor):
    from django.test import Client

    issue = issue_with_stories(1, intro="Original intro")
    other = Client()
    client.force_login(editor)
    other.force_login(second_editor)
    first = opened_form(other, issue, headline="First tab's headline")
    second = opened_form(client, issue, intro="Second tab's intro")
    other.post(change_url(issue), first)
    refused = client.post(change_url(issue), second)
    form = refused.context["adminform"].form
    second |= {
        "based_on_version": form["based_on_version"].value(),
        "headline": "First tab's headline",  # kept after reading who changed it
    }

    assert client.post(change_url(issue), second).status_code == 302
    issue.refresh_from_db()
    assert (issue.headline, issue.intro) == ("First tab's headline", "Second tab's intro")


def test_a_publication_step_since_opening_also_refuses_the_issue_save(
    client, editor, publisher, london
):
    issue = issue_with_stories(1)
    client.force_login(editor)
    stale = opened_form(client, issue, headline="Edited while it was scheduled")
    workflow.schedule_issue(publisher, issue, SUMMER_NOON + timedelta(hours=2))
    workflow.unschedule_issue(publisher, issue)

    refused = client.post(change_url(issue), stale)

    html = refused.content.decode()
    who = publisher.get_full_name()
    assert f"{who} scheduled it at Sun 1 Jun 2025, 13:00 BST; {who} unscheduled it at" in html
    issue.refresh_from_db()
    assert issue.headline != "Edited while it was scheduled"


def test_an_issue_save_that_does_not_say_its_version_is_refused(client, editor):
    issue = issue_with_stories(1, headline="Kept")
    client.force_login(editor)
    data = change_form_data(issue, headline="From a form that forgot its version")
    del data["based_on_version"]
    response = client.post(change_url(issue), data)
    assert "did not say which version of the issue" in response.content.decode()
    issue.refresh_from_db()
    assert issue.headline == "Kept"


@pytest.mark.parametrize("role", ["editor", "publisher"])
def test_scheduled_issue_form_is_read_only_and_says_why(client, request, role):
    issue = scheduled_issue(2)
    client.force_login(request.getfixturevalue(role))
    html = client.get(change_url(issue)).content.decode()
    assert "Contents locked." in html
    assert "This issue is scheduled, so its contents are locked to what was approved." in html
    assert 'name="headline"' not in html
    assert 'name="items-0-story"' not in html
    # The inline shows the stories read-only and offers no room for another.
    assert 'name="items-MAX_NUM_FORMS" value="0"' in html


def test_editors_can_edit_a_draft_issue(client, editor):
    issue = issue_with_stories(1)
    client.force_login(editor)
    html = client.get(change_url(issue)).content.decode()
    assert 'name="headline"' in html and "Contents locked." not in html
    client.post(change_url(issue), change_form_data(issue, headline="A sharper headline"))
    issue.refresh_from_db()
    assert issue.headline == "A sharper headline"


@pytest.mark.parametrize("state", ["scheduled", "published"])
def test_editing_a_locked_issue_is_refused_on_the_server(client, editor, state):
    issue = in_state(state)
    extra = approved_story()
    data = change_form_data(
        issue,
        headline="Changed after approval",
        **{
            "items-TOTAL_FORMS": "2",
            "items-1-position": "2",
            "items-1-story": extra.pk,
            "items-1-issue": issue.pk,
        },
    )
    items_before = list(issue.items.values_list("pk", "position", "story"))
    client.force_login(editor)
    response = client.post(change_url(issue), data, follow=True)
    issue.refresh_from_db()
    assert issue.headline != "Changed after approval"
    assert list(issue.items.values_list("pk", "position", "story")) == items_before
    assert not IssueItem.objects.filter(issue=issue, story=extra).exists()
    assert workflow.issue_edit_refusal(editor, issue) in response.content.decode()


def test_superusers_cannot_delete_a_scheduled_issue_either(admin_client):
    issue = scheduled_issue(1)
    response = admin_client.post(
        reverse("admin:stories_issue_delete", args=[issue.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Issue.objects.filter(pk=issue.pk).exists()


def test_unscheduling_unlocks_the_contents(client, editor, publisher):
    issue = scheduled_issue(1)
    client.force_login(publisher)
    client.post(action_url(issue, "unschedule"))
    client.force_login(editor)
    assert 'name="headline"' in client.get(change_url(issue)).content.decode()


# -- every time says its zone ------------------------------------------------


def test_times_in_the_issue_admin_say_their_zone(client, publisher, admin_user, london):
    issue = scheduled_issue(1, in_minutes=90)
    client.force_login(publisher)
    listing = client.get(reverse("admin:stories_issue_changelist")).content.decode()
    assert "Sun 1 Jun 2025, 14:30 BST" in listing
    form = client.get(change_url(issue)).content.decode()
    assert "Sun 1 Jun 2025, 14:30 BST" in form
    client.force_login(admin_user)
    draft = issue_with_stories(1)
    client.post(change_url(draft), change_form_data(draft, headline="Renamed"))
    history = client.get(reverse("admin:stories_issue_history", args=[draft.pk])).content.decode()
    assert "Sun 1 Jun 2025, 13:00 BST" in history


def test_recorded_publication_time_says_its_zone(client, publisher, london):
    issue = published_issue(1)
    client.force_login(publisher)
    html = client.get(change_url(issue)).content.decode()
    assert "Publication recorded" in html
    assert html.count("Sun 1 Jun 2025, 13:00 BST") == 2  # readers see it from / recorded


# -- the issue's history -----------------------------------------------------


def history_url(issue):
    return reverse("admin:stories_issue_history", args=[issue.pk])


def test_history_page_shows_every_publication_step_with_its_comment(client, publisher, london):
    issue = issue_with_stories(1)
    workflow.schedule_issue(publisher, issue, SUMMER_NOON + timedelta(hours=3))
    workflow.schedule_issue(publisher, issue, SUMMER_NOON + timedelta(hours=5))
    workflow.unschedule_issue(publisher, issue)
    workflow.publish_issue_now(publisher, issue)
    workflow.withdraw_issue(publisher, issue, "The lead story's figures were wrong.")
    client.force_login(publisher)

    html = client.get(history_url(issue)).content.decode()

    trail = html[html.index('id="workflow-history"') : html.index('id="change-history"')]
    steps = [
        ("Scheduled", "Draft → Scheduled", "For Sun 1 Jun 2025, 16:00 BST"),
        (
            "Rescheduled",
            "Scheduled → Scheduled",
            "For Sun 1 Jun 2025, 18:00 BST (was Sun 1 Jun 2025, 16:00 BST)",
        ),
        ("Unscheduled", "Scheduled → Draft", ""),
        ("Published", "Draft → Published", "Published now"),
        ("Withdrawn", "Published → Withdrawn", "The lead story&#x27;s figures were wrong."),
    ]
    position = 0
    for action, statuses, comment in steps:
        row = trail.index(f"<td>{action}</td>", position)
        assert trail.index(statuses, row) < trail.index("</tr>", row)
        assert trail.index(comment, row) < trail.index("</tr>", row)
        position = row + 1
    assert "Sun 1 Jun 2025, 13:00 BST" in trail  # each step says when, in the newsroom's zone
    assert publisher.get_full_name() in trail


@pytest.mark.parametrize("object_id", ["abc", "1.5", "99999999999999999999999", "424242"])
def test_history_page_of_an_issue_that_does_not_exist_says_so(client, editor, object_id):
    client.force_login(editor)

    response = client.get(reverse("admin:stories_issue_history", args=[object_id]), follow=True)

    assert response.redirect_chain == [(reverse("admin:index"), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"issue with ID “{object_id}” doesn’t exist. Perhaps it was deleted?"
    ]


def test_history_page_of_an_issue_never_published_says_so(client, editor):
    issue = issue_with_stories(1)
    client.force_login(editor)
    html = client.get(history_url(issue)).content.decode()
    assert "No publication steps yet" in html


@pytest.mark.parametrize("rounds", [1, 10])
def test_issue_history_query_count_does_not_grow_with_its_trail(
    client, publisher, rounds, django_assert_num_queries
):
    issue = issue_with_stories(1)
    later = timezone.now() + timedelta(days=1)
    for n in range(rounds):
        workflow.schedule_issue(publisher, issue, later + timedelta(minutes=n))
        workflow.unschedule_issue(publisher, issue)
    client.force_login(publisher)
    client.get(history_url(issue))  # warm the content-type cache

    # session, user, issue, user's permissions and group permissions, admin
    # log count, audit entries with their actors
    with django_assert_num_queries(7):
        html = client.get(history_url(issue)).content.decode()
    assert html.count('class="audit-unscheduled"') == rounds
