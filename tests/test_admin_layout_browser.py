"""The story and issue change pages in Chromium at a laptop's width: the
workflow and publication buttons are readable in the light and the dark
admin theme, the object tools stay clear of the title, and a citation with
a long address does not push the page sideways."""

import pytest
from django.urls import reverse

from tests.factories import (
    CitationFactory,
    ensure_editorial_groups,
    published_issue,
    scheduled_issue,
    user_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
LAPTOP = {"width": 1280, "height": 900}

# The text's colour against the background it is painted on (the nearest
# ancestor, the element included, with an opaque background), by WCAG 2.1.
CONTRAST = """(element) => {
  const rgba = (value) => value.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  let painted = element;
  while (painted && (rgba(getComputedStyle(painted).backgroundColor)[3] ?? 1) < 1) {
    painted = painted.parentElement;
  }
  const background = painted ? rgba(getComputedStyle(painted).backgroundColor) : [255, 255, 255];
  const [light, dark] = [luminance(rgba(getComputedStyle(element).color)), luminance(background)]
    .sort((a, b) => b - a);
  return {
    ratio: (light + 0.05) / (dark + 0.05),
    ownBackground: (rgba(getComputedStyle(element).backgroundColor)[3] ?? 1) === 1,
  };
}"""


@pytest.fixture
def newsroom():
    """A published issue whose story has a long headline and cites a long
    address, a scheduled issue, and an editor and a publisher to open them."""
    ensure_editorial_groups()
    user_in("Editors", username="eddie")
    user_in("Publishers", username="pia")
    live = published_issue(
        1, headline="A week in which every lab cut its prices and nobody could keep up"
    )
    story = live.stories.get()
    story.headline = "DeepSeek cuts its prices again and the whole industry follows within a week"
    story.save()
    CitationFactory(
        story=story,
        url="https://example.com/research/2025/" + "a-very-long-slug-" * 8 + "report.pdf",
        title="The original report, with the long title such reports have",
        note="Reworked from their reporting",
    )
    return {"story": story, "live": live, "scheduled": scheduled_issue(1)}


@pytest.fixture
def sign_in(browser, live_server):
    contexts = []

    def open_as(username: str, scheme: str = "light"):
        context = browser.new_context(viewport=LAPTOP, color_scheme=scheme)
        contexts.append(context)
        page = context.new_page()
        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(live_server.url + "/admin/")
        return page

    yield open_as
    for context in contexts:
        context.close()


def assert_readable(button, name: str):
    assert button.is_visible(), f"{name} is hidden"
    assert button.inner_text().strip() == name
    seen = button.evaluate(CONTRAST)
    assert seen["ratio"] >= 4.5, f"{name}: contrast {seen['ratio']:.2f} is below 4.5"
    assert seen["ownBackground"], f"{name} paints no background of its own"
    box = button.bounding_box()
    assert box["width"] > 40 and box["height"] > 20, f"{name} is too small to read: {box}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_withdraw_and_publication_buttons_are_readable(live_server, sign_in, newsroom, scheme):
    editor = sign_in("eddie", scheme)
    editor.goto(f"{live_server.url}/admin/stories/story/{newsroom['story'].pk}/change/")
    assert_readable(editor.locator("#workflow button", has_text="Withdraw"), "Withdraw")

    publisher = sign_in("pia", scheme)
    publisher.goto(f"{live_server.url}/admin/stories/issue/{newsroom['live'].pk}/change/")
    assert_readable(publisher.locator("#publication button", has_text="Withdraw"), "Withdraw")
    publisher.locator("#publication button", has_text="Withdraw").click()
    assert_readable(publisher.locator("#content-main button", has_text="Withdraw"), "Withdraw")

    publisher.goto(f"{live_server.url}/admin/stories/issue/{newsroom['scheduled'].pk}/change/")
    for name in ("Schedule", "Unschedule", "Publish now"):
        assert_readable(publisher.get_by_role("button", name=name, exact=True), name)


def boxes_meet(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def assert_fits_and_tools_clear_the_title(page):
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"
    tools = page.locator("ul.object-tools").bounding_box()
    for title in ("#content > h1", "#content > h2"):
        box = page.locator(title).bounding_box()
        assert not boxes_meet(tools, box), f"the object tools {tools} cover {title} {box}"


def test_story_page_with_a_citation_fits_a_laptop_and_its_tools_clear_the_headline(
    live_server, sign_in, newsroom
):
    page = sign_in("eddie")
    page.goto(f"{live_server.url}/admin/stories/story/{newsroom['story'].pk}/change/")
    assert page.locator("#citations-0").is_visible()
    assert page.locator(".object-tools").get_by_text("Preview").is_visible()
    assert_fits_and_tools_clear_the_title(page)


def test_issue_page_fits_a_laptop_and_its_tools_clear_the_headline(live_server, sign_in, newsroom):
    page = sign_in("pia")
    for issue in (newsroom["live"], newsroom["scheduled"]):
        page.goto(f"{live_server.url}/admin/stories/issue/{issue.pk}/change/")
        assert_fits_and_tools_clear_the_title(page)


def test_the_mail_page_reviewers_box_fits_a_phone(live_server, sign_in, newsroom):
    page = sign_in("pia")
    page.set_viewport_size({"width": 375, "height": 800})
    issue = newsroom["scheduled"]
    page.goto(
        f"{live_server.url}{reverse('admin:newsletters_issue_mail_preview', args=[issue.pk])}"
    )
    reviewers = page.get_by_label("Reviewers' addresses")
    box = reviewers.bounding_box()
    assert box["width"] > 150, f"the box is too narrow to type in: {box}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375, f"it runs off the screen: {box}"
