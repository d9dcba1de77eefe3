"""The editorial journey in a real browser, through the admin's own pages:
a writer drafts and submits, an editor asks for changes with a comment, the
writer fixes the story and resubmits, the editor approves."""

import re

import pytest
from playwright.sync_api import expect

from stories.models import AuditEntry, Story
from tests.factories import SourceFactory, ensure_editorial_groups, user_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


@pytest.fixture
def log_in(browser, live_server):
    """Sign in through the admin's login form, each person in their own browser context."""
    contexts = []

    def sign_in(username):
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.goto(live_server.url + "/admin/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#site-name")).to_be_visible()
        return page

    yield sign_in
    for context in contexts:
        context.close()


def test_writer_and_editor_take_a_story_from_draft_to_approved(live_server, log_in):
    ensure_editorial_groups()
    user_in("Writers", username="wren", first_name="Wren", last_name="Writer")
    user_in("Editors", username="eddie", first_name="Eddie", last_name="Editor")
    SourceFactory(name="Reuters")
    writer = log_in("wren")
    editor = log_in("eddie")

    # The writer drafts a story and submits it.
    writer.get_by_role("link", name="My drafts").click()
    writer.get_by_role("link", name="Write a new story").click()
    # The admin autofocuses the first field; on a busy machine that can land
    # after a later field was focused, taking its typing. Wait for it first.
    expect(writer.get_by_label("Headline")).to_be_focused()
    writer.get_by_label("Headline").fill("DeepSeek cuts its prices again")
    writer.get_by_label("Body").fill("DeepSeek lowered its API prices by half.")
    writer.get_by_role("button", name="Save and continue editing").click()
    expect(writer.locator("#workflow h2")).to_have_text("Status: Draft")
    writer.get_by_role("button", name="Submit for review").click()
    expect(writer.locator(".messagelist")).to_contain_text("is now in review")
    expect(writer.locator("#readonly-reason")).to_contain_text("writers can edit it again")

    # The editor finds it in the review queue and sends it back with a comment.
    editor.goto(live_server.url + "/admin/")
    editor.get_by_role("link", name="Review queue").click()
    editor.get_by_role("link", name="DeepSeek cuts its prices again").click()
    expect(editor.get_by_role("button", name="Approve")).to_be_visible()
    editor.get_by_label("What needs to change (required)").fill(
        "Cite the Reuters report for the price figures."
    )
    editor.get_by_role("button", name="Request changes").click()
    expect(editor.locator(".messagelist")).to_contain_text("Sent “DeepSeek cuts its prices again”")
    expect(editor.locator("#workflow h2")).to_have_text("Status: Changes requested")

    # The writer sees the comment, adds the citation and resubmits.
    writer.goto(live_server.url + "/admin/")
    writer.get_by_role("link", name="My drafts").click()
    expect(writer.locator("#my-drafts")).to_contain_text("Cite the Reuters report")
    writer.get_by_role("link", name="DeepSeek cuts its prices again").click()
    expect(writer.locator("#latest-note")).to_contain_text("Cite the Reuters report")
    writer.get_by_role("button", name="Add another Citation").click()
    writer.locator("#citations-0 .select2-selection").click()
    writer.locator(".select2-container--open .select2-search__field").fill("Reut")
    writer.locator(".select2-results__option", has_text="Reuters").click()
    writer.locator("#id_citations-0-title").fill("DeepSeek halves API prices")
    writer.get_by_role("button", name="Save and continue editing").click()
    expect(writer.locator(".messagelist")).to_contain_text("was changed successfully")
    writer.get_by_role("button", name="Submit for review").click()
    expect(writer.locator("#workflow h2")).to_have_text("Status: In review")

    # The editor approves it.
    editor.reload()
    editor.get_by_role("button", name="Approve").click()
    expect(editor.locator(".messagelist")).to_contain_text(
        "Approved “DeepSeek cuts its prices again”"
    )
    expect(editor.locator("#workflow h2")).to_have_text("Status: Approved")

    # The history page tells the whole story, with the comment.
    editor.get_by_role("link", name=re.compile("History and")).click()
    history = editor.locator("#workflow-history")
    expect(history).to_contain_text("Cite the Reuters report for the price figures.")
    expect(history.locator("tbody tr")).to_have_count(4)

    story = Story.objects.get(headline="DeepSeek cuts its prices again")
    assert story.status == Story.Status.APPROVED
    assert list(
        AuditEntry.objects.filter(story=story).order_by("pk").values_list("action", flat=True)
    ) == ["submitted", "changes_requested", "submitted", "approved"]
    assert [c.source.name for c in story.citations.all()] == ["Reuters"]
