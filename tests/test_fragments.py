"""Story HTML rendered once and kept in the cache under versioned keys
(stories/publishing/fragments.py): every change a reader could see in it
reaches the public pages, nothing else re-renders, and reading never writes."""

import dataclasses
import re
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.template.loader import get_template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stories.editorial import workflow
from stories.models import (
    Citation,
    Contributor,
    GuestByline,
    Issue,
    IssueItem,
    Section,
    Story,
)
from stories.publishing import changes, fragments
from tests.factories import (
    CorrectionFactory,
    NewsletterFactory,
    SourceFactory,
    TopicFactory,
    approved_story,
    ensure_editorial_groups,
    issue_with_stories,
    published_issue,
    user_in,
)
from tests.reader_helpers import image_bytes
from tests.story_admin import admin_form_data, change_url, story_form_data

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


def stamp(story) -> int:
    return Story.objects.values_list("render_stamp", flat=True).get(pk=story.pk)


def kept(story):
    """The fragments kept for story as it stands, or None."""
    return cache.get(fragments.story_key(story.pk, stamp(story)))


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
    assert kept(story) is None
    first = pages(client, story)
    rendering = kept(story)
    assert story.authors.get().get_full_name() in rendering.byline_html
    assert rendering.teaser_html in first
    assert pages(client, story) == first


def test_public_pages_read_and_never_write(client, story):
    """No row is written or locked by a reader, first visit or not, so a
    read replica can serve them."""
    for visit in ("first", "again"):
        with CaptureQueriesContext(connection) as queries:
            pages(client, story)
        statements = [q["sql"].lstrip().split()[0].upper() for q in queries.captured_queries]
        assert set(statements) <= {"SELECT"}, (visit, statements)
        assert not any("FOR UPDATE" in q["sql"] for q in queries.captured_queries)


def in_the_admin(admin_client, url, **changes):
    """Post the admin's change form at url as it is shown, with changes."""
    response = admin_client.post(url, admin_form_data(admin_client, url, **changes))
    assert response.status_code == 302, response.content.decode()[:2000]


def edit_story(admin_client, story, *rows, **changes):
    """Save story from its admin form with changes, and new inline rows
    (prefix, {field: value}) such as ("citations", {"source": 1})."""
    data = story_form_data(admin_client, story, **changes)
    for prefix, fields in rows:
        n = int(data[f"{prefix}-TOTAL_FORMS"])
        data[f"{prefix}-TOTAL_FORMS"] = str(n + 1)
        data.update(
            {f"{prefix}-{n}-{name}": str(v) for name, v in {**fields, "story": story.pk}.items()}
        )
    response = admin_client.post(change_url(story), data)
    assert response.status_code == 302, response.content.decode()[:2000]


def delete_in_the_admin(admin_client, obj):
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_delete", args=[obj.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302


def person_url(person) -> str:
    return reverse("admin:auth_user_change", args=[person.pk])


def test_renaming_an_author_in_the_admin_reaches_every_byline(client, admin_client, story):
    author = story.authors.get()
    pages(client, story)
    in_the_admin(admin_client, person_url(author), first_name="Renamed", last_name="Writer")
    shown = pages(client, story)
    assert shown.count("Renamed Writer") >= 2  # story page and issue page
    assert '"name": "Renamed Writer"' in shown  # the story's JSON-LD


def test_bylines_added_and_removed_in_the_story_form_or_with_the_person_are_shown(
    client, admin_client, story
):
    author = story.authors.get()
    pages(client, story)
    guest = user_in("Writers", username="guest", first_name="Guest", last_name="Author")
    edit_story(admin_client, story, authors=[str(author.pk), str(guest.pk)])
    assert "Guest Author" in pages(client, story)
    edit_story(admin_client, story, authors=[str(author.pk)])
    assert "Guest Author" not in pages(client, story)
    edit_story(admin_client, story, authors=[str(author.pk), str(guest.pk)])
    assert "Guest Author" in pages(client, story)
    delete_in_the_admin(admin_client, guest)
    assert "Guest Author" not in pages(client, story)


def test_citations_added_changed_removed_and_sources_renamed_are_shown(client, admin_client, story):
    pages(client, story)
    source = SourceFactory(name="Chip Weekly")
    edit_story(
        admin_client,
        story,
        ("citations", {"source": source.pk, "url": "https://chip.example/", "position": 2}),
    )
    assert "Chip Weekly" in pages(client, story)
    citation = story.citations.get(source=source)
    index = list(story.citations.order_by("position", "pk")).index(citation)
    edit_story(admin_client, story, **{f"citations-{index}-title": "The fab report"})
    assert "The fab report" in pages(client, story)
    in_the_admin(
        admin_client, reverse("admin:stories_source_change", args=[source.pk]), name="Chip Monthly"
    )
    shown = pages(client, story)
    assert "Chip Monthly" in shown and "Chip Weekly" not in shown
    edit_story(admin_client, story, **{f"citations-{index}-DELETE": "on"})
    assert "Chip Monthly" not in pages(client, story)


def test_sections_deleted_from_the_list_leave_the_stories_under_them(client, admin_client, story):
    newsletter = NewsletterFactory()
    section = Section.objects.create(newsletter=newsletter, name="Deep dives")
    Story.objects.filter(pk=story.pk).update(newsletter=newsletter, section=section)
    pages(client, story)
    assert kept(story).linked_data["section"]["name"] == "Deep dives"
    response = admin_client.post(
        reverse("admin:stories_section_changelist"),
        {"action": "delete_selected", "_selected_action": [section.pk], "post": "yes"},
    )
    assert response.status_code == 302 and not Section.objects.exists()
    pages(client, story)
    assert kept(story).linked_data["section"] is None


def test_topics_added_removed_and_renamed_are_shown(client, admin_client, story):
    pages(client, story)
    topic = TopicFactory(name="Export controls")
    edit_story(admin_client, story, ("topics", {"tag": topic.pk}))
    assert "Export controls" in pages(client, story)
    in_the_admin(
        admin_client, reverse("admin:stories_topic_change", args=[topic.pk]), name="Export rules"
    )
    shown = pages(client, story)
    assert "Export rules" in shown and "Export controls" not in shown
    delete_in_the_admin(admin_client, topic)
    assert "Export rules" not in pages(client, story)


def test_a_topic_proposed_on_the_story_form_is_shown(client, admin_client, story):
    """Proposed topics are added after the form's inlines, in the same
    transaction as the story's save and its new stamp."""
    pages(client, story)
    edit_story(admin_client, story, new_topics="Wafer supply")
    assert "Wafer supply" in pages(client, story)


def test_a_restored_revision_is_shown(client, admin_client, story):
    pages(client, story)
    edit_story(admin_client, story, **{"topics-0-DELETE": "on", "citations-0-DELETE": "on"})
    shown = pages(client, story)
    assert "Chips" not in shown
    editor = user_in("Editors", username="restorer")
    story.refresh_from_db()
    workflow.restore_revision(editor, story, story.revisions.order_by("number").first())
    assert "Chips" in pages(client, story)


def test_renaming_a_contributor_section_or_newsletter_reaches_the_stories_naming_them(
    client, admin_client, story
):
    newsletter = NewsletterFactory(name="The Letter")
    section = Section.objects.create(newsletter=newsletter, name="Deep dives")
    contributor = Contributor.objects.create(name="Casey Columnist")
    Story.objects.filter(pk=story.pk).update(newsletter=newsletter, section=section)
    GuestByline.objects.create(story=story, contributor=contributor, position=1)
    pages(client, story)
    assert "Casey Columnist" in kept(story).byline_html
    assert kept(story).linked_data["section"] == {"name": "Deep dives", "newsletter": "The Letter"}
    in_the_admin(
        admin_client,
        reverse("admin:stories_contributor_change", args=[contributor.pk]),
        name="Casey Q. Columnist",
    )
    in_the_admin(
        admin_client, reverse("admin:stories_section_change", args=[section.pk]), name="Long reads"
    )
    in_the_admin(
        admin_client,
        reverse("admin:stories_newsletter_change", args=[newsletter.pk]),
        name="The Renamed Letter",
    )
    assert "Casey Q. Columnist" in pages(client, story)
    assert kept(story).linked_data["section"] == {
        "name": "Long reads",
        "newsletter": "The Renamed Letter",
    }


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


def test_a_correction_added_or_removed_in_the_admin_is_shown(client, admin_client, story):
    pages(client, story)
    now = timezone.localtime()
    response = admin_client.post(
        reverse("admin:stories_correction_add"),
        {
            "story": story.pk,
            "text": "The figure was **$5m**, not $6m.",
            "created_at_0": now.strftime("%Y-%m-%d"),
            "created_at_1": now.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    shown = client.get(story.get_absolute_url()).content.decode()
    assert "<strong>$5m</strong>" in shown and "Corrected on" in shown
    delete_in_the_admin(admin_client, story.corrections.get())
    shown = client.get(story.get_absolute_url()).content.decode()
    assert "$5m" not in shown and "Corrected on" not in shown


def test_a_save_of_fields_readers_do_not_see_keeps_the_rendering(client, story):
    pages(client, story)
    before = stamp(story)
    story.save(update_fields=["submitted_at"])
    assert stamp(story) == before and kept(story) is not None


def test_new_templates_render_every_story_again(client, story, monkeypatch):
    pages(client, story)
    cache.set(
        fragments.story_key(story.pk, stamp(story)),
        dataclasses.replace(kept(story), footer_html="<p>old templates</p>"),
    )
    assert "old templates" in pages(client, story)
    monkeypatch.setattr(fragments, "CODE_MODULES", (*fragments.CODE_MODULES, "stories.reader.seo"))
    fragments.format_key.cache_clear()
    try:
        assert "old templates" not in pages(client, story)
    finally:
        fragments.format_key.cache_clear()


def test_the_format_key_covers_every_template_the_fragments_include():
    included = set()
    for name in fragments.TEMPLATES:
        source = get_template(name).template.source
        included |= set(re.findall(r'{%\s*include\s+"([^"]+)"', source))
    assert included <= set(fragments.TEMPLATES)


def test_an_issue_list_never_outlives_signed_image_urls(settings):
    """With S3's signed URLs (they expire), an issue's list, which prints its
    lead images, is kept for at most half their life."""

    class SignedStorage:
        querystring_auth = True
        querystring_expire = 3600

    settings.NEWSROOM_FRAGMENT_SECONDS = 7 * 24 * 3600
    assert fragments.fragment_timeout() == settings.NEWSROOM_FRAGMENT_SECONDS
    from django.core.files import storage

    original = storage.storages._storages.get("default")
    storage.storages._storages["default"] = SignedStorage()
    try:
        assert fragments.fragment_timeout() == 1800
    finally:
        if original is None:
            storage.storages._storages.pop("default")
        else:
            storage.storages._storages["default"] = original


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


def test_a_reader_that_loaded_a_story_before_an_edit_keeps_nothing_stale(admin_client, story):
    """The reader read the story (and its stamp) just before an editor's
    change committed: what it renders comes from rows read after, and is kept
    under the stamp read with them, so the next reader sees the change."""
    loaded = Story.objects.get(pk=story.pk)  # the reader's first query
    # An editor's change commits meanwhile, with a new stamp.
    edit_story(admin_client, story, **{"citations-0-title": "Changed as the reader renders"})
    fragments.ensure_rendered([loaded])  # the same reader, a moment later
    assert "Changed as the reader renders" in loaded.rendered.footer_html
    assert cache.get(fragments.story_key(story.pk, loaded.render_stamp)) is None
    assert "Changed as the reader renders" in kept(story).footer_html


@pytest.mark.django_db(transaction=True)
def test_a_reader_never_waits_for_an_editor(on_postgres):
    """An editor's transaction holds the story's and the issue's rows; a
    reader renders both pages meanwhile without waiting on a lock, and sees
    the change once it commits."""
    from django.test import Client

    ensure_editorial_groups()  # an earlier transactional test's flush emptied them
    issue = published_issue(1)
    story = issue.stories.get()

    def edit():
        Issue.objects.select_for_update().get(pk=issue.pk)
        Story.objects.select_for_update().get(pk=story.pk)
        Citation.objects.filter(story=story).update(title="Changed by the editor")
        fragments.forget([story.pk])

    client = Client()
    with held_open(edit):
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # a wait would fail, not hang
        assert "Changed by the editor" not in pages(client, story)
    assert "Changed by the editor" in pages(client, story)


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


def test_a_password_change_a_sign_in_or_a_new_source_description_renders_nothing_again(
    client, admin_client, story
):
    pages(client, story)
    before = stamp(story)
    author = story.authors.get()
    author.set_password("the first correct horse")
    author.save()
    password_url = reverse("admin:auth_user_password_change", args=[author.pk])
    new_password = "another correct horse battery"
    response = admin_client.post(
        password_url, {"password1": new_password, "password2": new_password}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    signed_in = client.post(
        reverse("admin:login"), {"username": author.username, "password": new_password}
    )
    assert signed_in.status_code == 302  # and last_login stamped
    client.logout()
    in_the_admin(admin_client, person_url(author), email="new-address@example.com")
    source = story.citations.get().source
    in_the_admin(
        admin_client,
        reverse("admin:stories_source_change", args=[source.pk]),
        description="A weekly digest.",
    )
    assert stamp(story) == before and kept(story) is not None


def test_a_list_rendered_as_its_issue_is_withdrawn_is_not_shown_again(client):
    """A reader that loaded the issue just before a withdrawal renders the
    (empty) list; once the issue is republished, its stories having stayed
    published for another issue, readers get its stories again."""
    issue = published_issue(1)
    story = issue.stories.get()
    later = issue_with_stories(0)
    IssueItem.objects.create(issue=later, story=story)
    publisher = user_in("Publishers", username="pub")
    workflow.schedule_issue(publisher, later, timezone.now() + timedelta(days=1))
    loaded = Issue.objects.published().get(pk=issue.pk)  # the reader's first query
    workflow.withdraw_issue(publisher, issue, "Legal hold")  # commits meanwhile
    fragments.ensure_issue_rendered(loaded)  # the same reader, a moment later
    assert story.headline not in loaded.rendered.stories_html
    workflow.publish_issue_now(publisher, issue)
    assert story.headline in client.get(issue.get_absolute_url()).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_rename_racing_a_new_byline_keeps_no_old_name(on_postgres):
    """The rename picks the person's stories before another editor's new
    byline commits; a reader renders that story with the old name in
    between. The rename gives its stories new stamps again once it commits."""
    ensure_editorial_groups()
    story = published_issue(1).stories.get()
    guest = user_in("Writers", username="guest", first_name="Old", last_name="Name")

    def reader_sees():
        loaded = Story.objects.get(pk=story.pk)
        fragments.ensure_rendered([loaded])
        return loaded.rendered.byline_html

    def rename():
        # What the person's admin page does.
        before = changes.shown_before(guest)
        guest.first_name = "New"
        guest.save()
        changes.shown_thing_changed(guest, before)

    with held_open(rename):
        with transaction.atomic():  # another editor's byline, committed at once
            story.authors.add(guest)
            changes.story_changed(story)
        assert "Old Name" in reader_sees()
        assert "Old Name" in reader_sees()  # kept
    assert "New Name" in reader_sees()
