"""The reader's site in Chromium at phone and desktop widths: screenshots into
test-artifacts/ and an axe-core accessibility check of each page.

axe-core comes bundled with the axe-playwright-python package (a dev
dependency), so no npm is needed.
"""

import json
from importlib import resources
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.reader_helpers import ensure_editorial_groups, load_demo_newsroom

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"
PAGES = {
    "home": "/",
    "issue": "/newsletters/the-newsroom/issues/2/",
    "story": "/stories/ais-sputnik-moment/",
    "radar": "/newsletters/weekly-radar/issues/4/",  # an essay
    "post": "/newsletters/reels-thrills-and-bills/issues/1/",
    "archive": "/issues/",
    "newsletter": "/newsletters/weekly-radar/",
    "topics": "/topics/",
    "topic": "/topics/training-efficiency/",
    "sources": "/sources/",
    "source": "/sources/the-new-york-times/",
    "author": "/authors/writer/",
    # A search with a filter: results with highlighted snippets, an open
    # filter form and a removable chip.
    "search": "/search/?q=distillation&topic=training-efficiency",
    # An archive filter that applies (a chip) and one that does not (a notice).
    "archive-filtered": "/issues/?topic=deepseek&source=no-such-outlet",
    "not-found": "/stories/not-a-story/",
}
SCREENSHOTS = {"home", "issue", "story", "archive", "search", "archive-filtered"}
BLOCKING = {"serious", "critical"}
# The narrowest phone the site is designed for.
NARROWEST = 360


@pytest.fixture(scope="session")
def axe_source(browser) -> str:
    return resources.files("axe_playwright_python").joinpath("axe.min.js").read_text()


@pytest.fixture
def demo_site(live_server, settings, tmp_path):
    ensure_editorial_groups()  # an earlier transactional test's flush removed them
    load_demo_newsroom(settings, tmp_path)
    return live_server.url, tmp_path


def reader_page(browser, width: int, scheme: str, media_root: Path):
    # bypass_csp: axe is injected as a script, which a strict policy forbids.
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, bypass_csp=True
    )
    page = context.new_page()

    def serve_media(route):
        # The live server does not serve uploads; hand the browser the files.
        relative = route.request.url.split("/media/", 1)[1]
        path = media_root / relative
        if path.is_file():
            route.fulfill(path=str(path))
        else:
            route.fulfill(status=404)

    page.route("**/media/**", serve_media)
    return context, page


def axe_violations(page, axe_source: str) -> list[dict]:
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                             "best-practice"]}
        })"""
    )
    return result["violations"]


@pytest.mark.parametrize(("width", "scheme"), [(375, "light"), (1280, "light"), (375, "dark")])
def test_reader_pages_have_no_serious_accessibility_violations(
    browser, axe_source, demo_site, width, scheme
):
    base_url, media_root = demo_site
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = reader_page(browser, width, scheme, media_root)
    problems = {}
    try:
        for name, path in PAGES.items():
            page.goto(base_url + path)
            assert page.locator("html").get_attribute("lang") == "en"
            assert page.locator("main#main").count() == 1
            assert sideways_overflow(page) <= 0, f"{path} scrolls sideways at {width}px"
            if name in SCREENSHOTS:
                page.screenshot(
                    path=ARTIFACTS / f"reader-{name}-{width}-{scheme}.png", full_page=True
                )
            blocking = [v for v in axe_violations(page, axe_source) if v["impact"] in BLOCKING]
            if blocking:
                problems[path] = [
                    {
                        "rule": v["id"],
                        "impact": v["impact"],
                        "nodes": [n["html"] for n in v["nodes"]],
                    }
                    for v in blocking
                ]
    finally:
        context.close()
    assert not problems, json.dumps(problems, indent=2)
    for name in SCREENSHOTS:
        assert (ARTIFACTS / f"reader-{name}-{width}-{scheme}.png").stat().st_size > 0


def sideways_overflow(page) -> int:
    """How far the page reaches past the viewport's right edge, in CSS pixels."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_the_search_page_shows_what_the_accessibility_check_must_see(browser, demo_site):
    # Otherwise the checks above would pass on an empty results page.
    base_url, media_root = demo_site
    context, page = reader_page(browser, 1280, "light", media_root)
    try:
        page.goto(base_url + PAGES["search"])
        assert page.locator(".search-result").count() >= 1
        assert page.locator(".snippet mark").count() >= 1
        assert page.locator(".filter-chips .chip").count() == 1
    finally:
        context.close()


def test_filter_chips_are_pills_and_their_remove_link_shows_keyboard_focus(browser, demo_site):
    base_url, media_root = demo_site
    context, page = reader_page(browser, NARROWEST, "light", media_root)
    try:
        page.goto(base_url + PAGES["search"])
        chip = page.locator(".filter-chips .chip").first
        assert chip.evaluate("el => getComputedStyle(el).display") != "list-item"  # no bullet
        assert chip.evaluate("el => parseFloat(getComputedStyle(el).borderTopLeftRadius)") >= 12
        remove = chip.locator("a")
        box = remove.bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24  # WCAG 2.2 target size
        for _ in range(40):  # Tab through the page to the remove link, as a keyboard user does
            page.keyboard.press("Tab")
            if remove.evaluate("el => el === document.activeElement"):
                break
        assert remove.evaluate("el => el.matches(':focus-visible')")
        assert remove.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
        assert remove.evaluate("el => parseFloat(getComputedStyle(el).outlineWidth)") >= 2
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_page_scrolls_sideways_on_the_narrowest_phone(browser, demo_site, scheme):
    base_url, media_root = demo_site
    context, page = reader_page(browser, NARROWEST, scheme, media_root)
    wide = {}
    try:
        for path in PAGES.values():
            page.goto(base_url + path)
            # With the filter form open too: its fields are the widest thing.
            for details in page.locator("details.filters").all():
                details.evaluate("el => { el.open = true; }")
            overflow = sideways_overflow(page)
            if overflow > 0:
                wide[path] = page.evaluate(
                    """() => [...document.querySelectorAll("body *")]
                        .filter(el => el.getBoundingClientRect().right > window.innerWidth)
                        .slice(0, 5).map(el => el.outerHTML.slice(0, 120))"""
                )
    finally:
        context.close()
    assert not wide, json.dumps(wide, indent=2)


def test_the_overflow_check_does_catch_a_page_wider_than_the_phone(browser):
    context = browser.new_context(viewport={"width": NARROWEST, "height": 800})
    page = context.new_page()
    try:
        page.set_content('<html><body><div style="width: 400px">wide</div></body></html>')
        assert sideways_overflow(page) > 0
    finally:
        context.close()


def test_lead_image_loads_from_a_width_appropriate_rendition(browser, demo_site):
    base_url, media_root = demo_site
    context, page = reader_page(browser, 375, "light", media_root)
    try:
        page.goto(base_url + "/stories/ais-sputnik-moment/")
        image = page.locator(".lead-image img")
        image.wait_for()
        page.wait_for_function("document.querySelector('.lead-image img').complete")
        current = image.evaluate("img => img.currentSrc")
        assert image.evaluate("img => img.naturalWidth") > 0
        assert "/renditions/" in current and current.endswith(".webp")
        assert page.locator("figcaption").inner_text().endswith("Credit: Grok | DeepSeek Satellite")
    finally:
        context.close()


def test_keyboard_user_can_skip_to_the_content_and_sees_where_focus_is(browser, demo_site):
    base_url, media_root = demo_site
    context, page = reader_page(browser, 1280, "light", media_root)
    try:
        page.goto(base_url + "/newsletters/the-newsroom/issues/2/")
        page.keyboard.press("Tab")
        skip = page.locator(".skip-link")
        assert skip.evaluate("el => el === document.activeElement")
        assert skip.is_visible() and skip.bounding_box()["y"] >= 0
        assert skip.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == "#main"
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.closest('main') !== null")
        assert focused, "the next Tab after skipping lands inside the main content"
    finally:
        context.close()


def test_the_accessibility_check_does_catch_a_serious_problem(browser, axe_source):
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.set_content('<html><body><main><img src="x.png"></main></body></html>')
        rules = {v["id"]: v["impact"] for v in axe_violations(page, axe_source)}
    finally:
        context.close()
    assert rules.get("image-alt") in BLOCKING
    assert "html-has-lang" in rules
