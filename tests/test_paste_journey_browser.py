"""A writer pastes the brief's pieces into the story form in Chromium, as text
arrives from a web page or a Google Doc (single line breaks between
paragraphs), sees the live preview, and the reader's page shows every
paragraph as its own."""

import pytest
from playwright.sync_api import expect

from devtools.demo_content import ISSUES
from stories.editorial import workflow
from stories.models import Story
from tests.factories import SourceFactory, ensure_editorial_groups, issue_with_stories, user_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


def piece(slug: str) -> dict:
    return next(s for issue in ISSUES[:4] for s in issue["stories"] if s["slug"] == slug)


def paragraphs_as_typed(browser, html: str) -> list[str]:
    """The paragraphs of html as a browser shows them."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(f"<body>{html}</body>")
        return page.locator("p").all_inner_texts()
    finally:
        context.close()


@pytest.mark.parametrize("slug", ["deepseek-sequel-china-open-source", "ais-sputnik-moment"])
def test_pasted_pieces_keep_every_paragraph_on_the_readers_page(live_server, browser, page, slug):
    from stories.rendering import render_markdown

    ensure_editorial_groups()
    user_in("Writers", username="wren")
    editor = user_in("Editors", username="eddie")
    publisher = user_in("Publishers", username="pat")
    SourceFactory(name="The New York Times")
    fields = piece(slug)
    violations = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )

    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Username").fill("wren")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + "/admin/stories/story/add/")
    expect(page.get_by_label("Headline")).to_be_focused()
    page.get_by_label("Headline").fill(fields["headline"])
    body = page.get_by_label("Body")
    body.click()
    # As a paste arrives: the whole text at once, one line per paragraph.
    page.keyboard.insert_text(fields["body"].replace("\n\n", "\n"))
    expected = paragraphs_as_typed(browser, render_markdown(fields["body"]))
    preview = page.get_by_role("region", name="Preview: how readers will see it")
    expect(preview.locator("p")).to_have_count(len(expected))
    if fields.get("why_it_matters"):
        page.get_by_label("Why it matters").fill(fields["why_it_matters"].replace("\n\n", "\n"))
    page.get_by_role("button", name="Add another Citation").click()
    page.locator("#citations-0 .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill("New York")
    page.locator(".select2-results__option", has_text="The New York Times").click()
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator("#workflow h2")).to_have_text("Status: Draft")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".messagelist")).to_contain_text("is now in review")

    story = Story.objects.get(headline=fields["headline"])
    workflow.approve(editor, story)
    workflow.publish_issue_now(publisher, issue_with_stories(stories=[story]))

    page.goto(live_server.url + story.get_absolute_url())
    assert page.locator(".body p").all_inner_texts() == expected
    if fields.get("why_it_matters"):
        assert page.locator(".why-it-matters p").all_inner_texts() == paragraphs_as_typed(
            browser, render_markdown(fields["why_it_matters"])
        )
    assert violations == []
