"""Story HTML rendered once and kept (stories/prerender.py): every change a
reader could see in it reaches the public pages, and nothing else re-renders."""

import re
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone

from stories.editorial import workflow
from stories.models import Citation, Issue, IssueItem, RenderedIssue, RenderedStory, Story
from stories.publishing import prerender
from tests.factories import (
    CitationFactory,
    CorrectionFactory,
    SourceFactory,
    TopicFactory,
    approved_story,
    ensure_editorial_groups,
    issue_with_stories,
    published_issue,
    user_in,
)
from tests.reader_helpers import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def story():
    story = published_issue(1).stories.get()
    story.topics.add("Chips")
    return story


def pages(client, story) -> str:
    """The story page and its issue's page, as a reader gets them now."""
    issue = story.issues.get()
    return (
        client.get(story.get_absolute_url()).content.decode()
        + client.get(issue.get_absolute_url()).content.decode()
    )


def kept(story) -> bool:
    return RenderedStory.objects.filter(story=story).exists()


@contextmanager
def held_open(work):
    """Run work() in a transaction on another connection and keep that
    transaction open (its row locks, its uncommitted writes) until the block
    ends; then it commits."""
    started, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                work()
                started.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert started.wait(10)
        yield
    finally:
        release.set()
        thread.join()


def test_the_first_reader_renders_it_and_later_readers_reuse_it(client, story):
    assert not kept(story)
    first = pages(client, story)
    rendering = RenderedStory.objects.get(story=story)
    assert rendering.format_key == prerender.format_key()
    assert story.authors.get().get_full_name() in rendering.byline_html
    listed = RenderedIssue.objects.get(issue=story.issues.get())
    assert rendering.teaser_html in listed.stories_html
    assert pages(client, story) == first


def test_renaming_an_author_reaches_every_byline(client, story):
    author = story.authors.get()
    pages(client, story)
    author.first_name, author.last_name = "Renamed", "Writer"
    author.save()
    shown = pages(client, story)
    assert shown.count("Renamed Writer") >= 2  # story page and issue page
    assert '"name": "Renamed Writer"' in shown  # the story's JSON-LD


def test_bylines_added_and_removed_from_either_side_are_shown(client, story):
    pages(client, story)
    guest = user_in("Writers", username="guest", first_name="Guest", last_name="Author")
    story.authors.add(guest)
    assert "Guest Author" in pages(client, story)
    guest.stories.remove(story)
    assert "Guest Author" not in pages(client, story)
    guest.stories.add(story)
    assert "Guest Author" in pages(client, story)
    guest.stories.clear()
    assert "Guest Author" not in pages(client, story)
    story.authors.add(guest)
    pages(client, story)
    guest.delete()
    assert "Guest Author" not in pages(client, story)


def test_citations_added_changed_removed_and_sources_renamed_are_shown(client, story):
    pages(client, story)
    citation = CitationFactory(story=story, source=SourceFactory(name="Chip Weekly"))
    assert "Chip Weekly" in pages(client, story)
    citation.title = "The fab report"
    citation.save()
    assert "The fab report" in pages(client, story)
    source = citation.source
    source.name = "Chip Monthly"
    source.save()
    shown = pages(client, story)
    assert "Chip Monthly" in shown and "Chip Weekly" not in shown
    citation.delete()
    assert "Chip Monthly" not in pages(client, story)


def test_topics_added_removed_and_renamed_are_shown(client, story):
    pages(client, story)
    story.topics.add("Export controls")
    assert "Export controls" in pages(client, story)
    topic = TopicFactory(name="Export controls")
    topic.name = "Export rules"
    topic.save()
    shown = pages(client, story)
    assert "Export rules" in shown and "Export controls" not in shown
    story.topics.remove(topic)
    assert "Export rules" not in pages(client, story)
    story.topics.clear()
    assert 'rel="tag"' not in pages(client, story)


def test_an_edit_of_the_story_is_shown(client, story):
    pages(client, story)
    story.dek = "A sharper standfirst."
    story.why_it_matters = "- It changes **everything**."
    story.save()
    shown = pages(client, story)
    assert shown.count("A sharper standfirst.") >= 2
    assert "<strong>everything</strong>" in shown


def test_a_withdrawn_story_leaves_its_issue_list_at_once(client, story):
    issue = story.issues.get()
    other = published_issue(1).stories.get()
    IssueItem.objects.create(issue=issue, story=other, position=2)
    assert other.headline in pages(client, story)
    workflow.withdraw_story(user_in("Editors", username="ed"), other, "Wrong figures.")
    shown = client.get(issue.get_absolute_url()).content.decode()
    assert other.headline not in shown and story.headline in shown


def test_an_issue_list_follows_its_stories_order_and_membership(client, story):
    issue = story.issues.get()
    second = published_issue(1).stories.get()
    item = IssueItem.objects.create(issue=issue, story=second, position=2)
    shown = client.get(issue.get_absolute_url()).content.decode()
    assert shown.index(story.headline) < shown.index(second.headline)
    item.position = 0
    item.save()
    shown = client.get(issue.get_absolute_url()).content.decode()
    assert shown.index(second.headline) < shown.index(story.headline)
    item.delete()
    assert second.headline not in client.get(issue.get_absolute_url()).content.decode()


def test_a_correction_added_or_removed_is_shown(client, story):
    pages(client, story)
    correction = CorrectionFactory(story=story, text="The figure was **$5m**, not $6m.")
    shown = client.get(story.get_absolute_url()).content.decode()
    assert "<strong>$5m</strong>" in shown and "Corrected on" in shown
    correction.delete()
    shown = client.get(story.get_absolute_url()).content.decode()
    assert "$5m" not in shown and "Corrected on" not in shown


def test_a_save_of_fields_readers_do_not_see_keeps_the_rendering(client, story):
    pages(client, story)
    story.save(update_fields=["submitted_at"])
    assert kept(story) and RenderedIssue.objects.filter(issue=story.issues.get()).exists()


def test_new_templates_render_every_story_again(client, story, monkeypatch):
    pages(client, story)
    RenderedStory.objects.filter(story=story).update(footer_html="<p>old templates</p>")
    RenderedIssue.objects.update(stories_html="<li>old templates</li>")
    assert pages(client, story).count("old templates") == 2
    monkeypatch.setattr(prerender, "CODE_MODULES", (*prerender.CODE_MODULES, "stories.reader.seo"))
    prerender.format_key.cache_clear()
    try:
        assert "old templates" not in pages(client, story)
        assert RenderedStory.objects.get(story=story).format_key == prerender.format_key()
        assert RenderedIssue.objects.get().format_key == prerender.format_key()
    finally:
        prerender.format_key.cache_clear()


def test_the_format_key_covers_every_template_the_kept_html_includes():
    included = set()
    for name in prerender.TEMPLATES:
        source = get_template(name).template.source
        included |= set(re.findall(r'{%\s*include\s+"([^"]+)"', source))
    assert included <= set(prerender.TEMPLATES)


def test_the_top_story_of_an_issue_loads_its_image_first(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    stories = [approved_story(headline=f"Pictured {n}") for n in range(2)]
    for story in stories:
        story.lead_image = SimpleUploadedFile("a.jpg", image_bytes(600, 400), "image/jpeg")
        story.lead_image_alt, story.lead_image_credit = "A chart", "Newsroom graphics"
        story.body = "![An inline chart](https://example.com/chart.png)"
        story.save()
    issue = published_issue(stories=stories)
    shown = client.get(issue.get_absolute_url()).content.decode()
    first, second = (
        re.search(r'<figure class="lead-image">.*?</figure>', part, re.S).group(0)
        for part in shown.split('class="story-in-issue"')[1:]
    )
    assert 'fetchpriority="high"' in first and 'loading="lazy"' not in first
    assert 'loading="lazy"' in second and "fetchpriority" not in second
    assert shown.count('loading="lazy"') == 3  # the second lead image and both inline ones


@pytest.mark.django_db(transaction=True)
def test_a_render_racing_an_edit_is_not_kept(on_postgres):
    """While an editor's transaction holds the story's row, a reader renders
    for its own page but keeps nothing; the edit's own forget() then has
    nothing stale to miss."""
    ensure_editorial_groups()  # an earlier transactional test's flush emptied them
    story = published_issue(1).stories.get()

    def edit():
        Story.objects.select_for_update().get(pk=story.pk)
        Citation.objects.filter(story=story).update(title="Changed while the reader renders")

    with held_open(edit):
        fresh = prerender.render_and_keep([story.pk])[story.pk]
        assert "Changed while the reader renders" not in fresh.footer_html  # not committed yet
        assert not kept(story)
    fresh = prerender.render_and_keep([story.pk])[story.pk]
    assert "Changed while the reader renders" in fresh.footer_html
    assert kept(story)


@pytest.mark.django_db(transaction=True)
def test_a_forget_waits_for_a_render_in_progress_then_drops_it(on_postgres):
    ensure_editorial_groups()
    story = published_issue(1).stories.get()
    author = story.authors.get()
    rendering, renamed = threading.Event(), threading.Event()

    def slow_reader():
        real_render = prerender.render

        def render_then_wait(s):
            rendered = real_render(s)
            rendering.set()
            renamed.wait(2)  # the rename below blocks on the lock meanwhile
            return rendered

        prerender.render = render_then_wait
        try:
            prerender.render_and_keep([story.pk])
        finally:
            prerender.render = real_render
            connection.close()

    reader = threading.Thread(target=slow_reader)
    reader.start()
    assert rendering.wait(10)
    author.first_name = "Mid-render"
    author.save()  # forget() waits for the reader's lock, then deletes its row
    renamed.set()
    reader.join()
    assert not kept(story)
    assert "Mid-render" in prerender.render_and_keep([story.pk])[story.pk].byline_html


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("held", ["issue", "story"])
def test_an_issue_list_rendered_while_its_rows_are_held_is_not_kept(on_postgres, held):
    """An editor's transaction holding the issue (its items changing) or one
    of its stories (say, a withdrawal) keeps readers from keeping a list
    rendered meanwhile."""
    ensure_editorial_groups()
    issue = published_issue(2)
    model = type(issue) if held == "issue" else Story
    row = issue.pk if held == "issue" else issue.stories.first().pk

    with held_open(lambda: model.objects.select_for_update().get(pk=row)):
        rendering = prerender.render_issue_and_keep(issue)
        assert rendering.stories_html.count('class="story-in-issue"') == 2
        assert not RenderedIssue.objects.filter(issue=issue).exists()
    prerender.render_issue_and_keep(issue)
    assert RenderedIssue.objects.filter(issue=issue).exists()


def test_a_correction_moved_to_another_story_leaves_the_first(client, admin_client):
    first = published_issue(1).stories.get()
    second = published_issue(1).stories.get()
    correction = CorrectionFactory(story=first, text="Misattributed **quote**.")
    assert "<strong>quote</strong>" in client.get(first.get_absolute_url()).content.decode()
    when = timezone.localtime(correction.created_at)
    response = admin_client.post(
        reverse("admin:stories_correction_change", args=[correction.pk]),
        {
            "story": second.pk,
            "text": correction.text,
            "created_at_0": when.strftime("%Y-%m-%d"),
            "created_at_1": when.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302
    assert "<strong>quote</strong>" in client.get(second.get_absolute_url()).content.decode()
    shown = client.get(first.get_absolute_url()).content.decode()
    assert "<strong>quote</strong>" not in shown and "Corrected on" not in shown


def test_a_password_change_or_a_new_source_description_renders_nothing_again(client, story):
    pages(client, story)
    author = story.authors.get()
    author.set_password("another correct horse")
    author.save()
    source = story.citations.get().source
    source.description = "A weekly digest."
    source.save()
    assert kept(story)


def test_a_list_rendered_as_its_issue_is_withdrawn_is_not_kept(client):
    """A reader that loaded the issue just before a withdrawal must not keep
    the (empty) list it then renders: it would be shown again once the issue
    is republished, its stories having stayed published for another issue."""
    issue = published_issue(1)
    story = issue.stories.get()
    later = issue_with_stories(0)
    IssueItem.objects.create(issue=later, story=story)
    publisher = user_in("Publishers", username="pub")
    workflow.schedule_issue(publisher, later, timezone.now() + timedelta(days=1))
    loaded = Issue.objects.published().get(pk=issue.pk)  # the reader's first query
    workflow.withdraw_issue(publisher, issue, "Legal hold")  # commits meanwhile
    prerender.ensure_issue_rendered(loaded)  # the same reader, a moment later
    assert not RenderedIssue.objects.filter(issue=issue).exists()
    workflow.publish_issue_now(publisher, issue)
    assert story.headline in client.get(issue.get_absolute_url()).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_rename_racing_a_new_byline_keeps_no_old_name(on_postgres):
    """The rename picks the person's stories before another editor's new
    byline commits; a reader renders that story with the old name in
    between. The rename forgets its stories again once it commits."""
    ensure_editorial_groups()
    story = published_issue(1).stories.get()
    guest = user_in("Writers", username="guest", first_name="Old", last_name="Name")

    def rename():
        guest.first_name = "New"
        guest.save()

    with held_open(rename):
        story.authors.add(guest)  # another editor's byline, committed at once
        assert "Old Name" in prerender.render_and_keep([story.pk])[story.pk].byline_html
        assert kept(story)
    assert not kept(story)
    assert "New Name" in prerender.render_and_keep([story.pk])[story.pk].byline_html
