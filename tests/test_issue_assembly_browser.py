"""An editor assembles an issue in Chromium: the number follows the chosen
newsletter, stories are picked by status and newsletter, and dragging them
reorders the positions without typing one, under the admin's CSP."""

import pytest
from playwright.sync_api import expect

from stories.models import Issue
from tests.factories import (
    IssueFactory,
    NewsletterFactory,
    approved_story,
    default_newsletter,
    ensure_editorial_groups,
    user_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


def pick_story(page, row: int, term: str, label: str) -> None:
    page.locator(f"#items-{row} .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(term)
    page.locator(".select2-results__option", has_text=label).click()


def test_an_editor_orders_an_issues_stories_by_dragging(live_server, page):
    ensure_editorial_groups()
    user_in("Editors", username="eddie")
    radar = NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    IssueFactory(newsletter=default_newsletter(), number=11)
    IssueFactory(newsletter=radar, number=3)
    approved_story(headline="Alpha report", newsletter=radar)
    approved_story(headline="Beta report", newsletter=radar)
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Username").fill("eddie")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + "/admin/stories/issue/add/")

    number = page.get_by_label("Number")
    expect(number).to_have_value("12")  # the default newsletter's next
    page.get_by_label("Newsletter").select_option(label="The Weekly Radar")
    expect(number).to_have_value("4")
    page.get_by_label("Headline").fill("Two reports")

    page.get_by_role("button", name="Add another Issue item").click()
    pick_story(page, 0, "Alpha", "Alpha report — approved")
    page.get_by_role("button", name="Add another Issue item").click()
    pick_story(page, 1, "Beta", "Beta report — approved")
    expect(page.locator("#items-0 input[name$='-position']")).to_have_value("1")
    expect(page.locator("#items-1 input[name$='-position']")).to_have_value("2")

    # Beta dragged above Alpha by its handle.
    page.locator("#items-1 .drag-handle").drag_to(page.locator("#items-0 .drag-handle"))
    rows = page.locator(".issue-items tbody tr.form-row:not(.empty-form)")
    expect(rows.nth(0)).to_contain_text("Beta report")
    expect(page.locator("#items-1 input[name$='-position']")).to_have_value("1")
    expect(page.locator("#items-0 input[name$='-position']")).to_have_value("2")
    # And Alpha moved back up with the keyboard-friendly button.
    page.locator("#items-0").get_by_role("button", name="Move up").click()
    expect(page.locator("#items-0 input[name$='-position']")).to_have_value("1")

    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    issue = Issue.objects.get(headline="Two reports")
    assert issue.newsletter == radar and issue.number == 4
    assert list(issue.items.values_list("story__headline", "position")) == [
        ("Alpha report", 1),
        ("Beta report", 2),
    ]
    assert violations == []
