"""What a reader sees in a real browser."""

import pytest

from tests.factories import published_issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reader_sees_latest_issue_and_can_open_an_issue_page(live_server, page, editorial_groups):
    # editorial_groups: an earlier transactional test's flush removed them.
    older = published_issue(1, headline="The numbered digest")
    latest = published_issue(3, headline="The AI Crucible: a week of news")
    page.goto(live_server.url + "/")
    assert page.locator("h1").first.inner_text() == "The AI Crucible: a week of news"
    headlines = page.locator(".issue-stories .story-headline a").all_inner_texts()
    assert headlines == [i.story.headline for i in latest.items.order_by("position")]
    assert page.locator("html").get_attribute("lang") == "en"

    page.get_by_role("link", name=f"#{older.number}: The numbered digest").click()
    page.wait_for_url(f"**{older.get_absolute_url()}")
    assert page.locator("h1").first.inner_text() == "The numbered digest"
    assert page.title().startswith(f"#{older.number}: The numbered digest")
