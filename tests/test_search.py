"""Search at /search/: matching, ranking, snippets and the published gate,
on whichever database the suite runs (FTS5 on SQLite, tsvector on PostgreSQL)."""

import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from stories.discovery.search import parse_query
from stories.editorial import workflow
from stories.models import SearchDocument, Story
from tests.factories import (
    StoryFactory,
    TopicFactory,
    approved_story,
    issue_with_stories,
    published_issue,
    scheduled_issue,
    unpublished_stories,
    user_in,
)
from tests.story_admin import change_url, messages_of, story_form_data

pytestmark = pytest.mark.django_db


def headlines(client, query: str, **params) -> list[str]:
    response = client.get("/search/", {"q": query, **params})
    assert response.status_code == 200
    return re.findall(r'<h2><a href="[^"]*">([^<]*)</a></h2>', response.content.decode())


def publish(*stories: Story):
    return published_issue(stories=list(stories))


def test_headline_match_ranks_above_body_match(client):
    publish(
        approved_story(headline="Labs race to cut costs", body="Quantization helps too."),
        approved_story(headline="Quantization goes mainstream", body="Smaller weights."),
    )
    assert headlines(client, "quantization") == [
        "Quantization goes mainstream",
        "Labs race to cut costs",
    ]


def test_dek_match_ranks_between_headline_and_body_matches(client):
    publish(
        approved_story(headline="Body only", dek="Nothing here.", body="About sparsity."),
        approved_story(headline="Dek only", dek="All about sparsity.", body="Plain."),
        approved_story(headline="Sparsity in the headline", dek="Nothing.", body="Plain."),
    )
    assert headlines(client, "sparsity") == ["Sparsity in the headline", "Dek only", "Body only"]


def test_a_headline_holding_every_word_ranks_first_then_the_newest_of_equal_matches(client):
    now = timezone.now()

    def publish_days_ago(days: int, **fields) -> None:
        published_issue(stories=[approved_story(**fields)], as_of=now - timedelta(days=days))

    publish_days_ago(30, headline="Reasoning benchmark results", body="Labs compare scores.")
    publish_days_ago(10, headline="A new reasoning benchmark", body="Scores again.")
    # Past the lead of the body, which on PostgreSQL ranks with the dek.
    late = "Plain words. " * 60
    publish_days_ago(5, headline="Older lab notes", body=late + "A reasoning benchmark appeared.")
    publish_days_ago(3, headline="Benchmark week", dek="Reasoning scores climb.", body="Plain.")
    publish_days_ago(1, headline="Newer lab notes", body=late + "A reasoning benchmark, again.")
    publish_days_ago(0, headline="Reasoning alone", body="Nothing else matches.")
    assert headlines(client, "reasoning benchmark") == [
        "A new reasoning benchmark",
        "Reasoning benchmark results",
        "Benchmark week",
        "Newer lab notes",
        "Older lab notes",
    ]
    assert headlines(client, "reasoning benchmark", sort="oldest") == [
        "Reasoning benchmark results",
        "A new reasoning benchmark",
        "Older lab notes",
        "Benchmark week",
        "Newer lab notes",
    ]


def test_a_filtered_search_finds_an_older_match_behind_a_page_of_newer_ones(client):
    """The bounded candidates of a filtered search come from the filtered
    stories, not from the newest matches overall."""
    topic = TopicFactory(name="Hovercraft law")
    old = approved_story(headline="Hovercraft rules", body="Old hovercraft news.")
    old.topics.add(topic)
    published_issue(stories=[old], as_of=timezone.now() - timedelta(days=30))
    publish(*[approved_story(headline=f"Hovercraft {n}") for n in range(25)])
    assert headlines(client, "hovercraft", topic=topic.slug) == ["Hovercraft rules"]
    assert "Hovercraft rules" not in headlines(client, "hovercraft")


def test_english_stemming_matches_other_forms_of_a_word(client):
    publish(approved_story(headline="Labs adopt distillation", body="Teachers and students."))
    assert headlines(client, "distilled") == ["Labs adopt distillation"]
    assert headlines(client, "distilling") == ["Labs adopt distillation"]


def test_phrase_query_needs_the_words_together_and_in_order(client):
    publish(
        approved_story(headline="Together", body="The model is open source and free."),
        approved_story(headline="Apart", body="Open models, closed source code."),
    )
    assert headlines(client, '"open source"') == ["Together"]
    assert sorted(headlines(client, "open source")) == ["Apart", "Together"]


def test_prefix_query_matches_the_start_of_words(client):
    publish(
        approved_story(headline="Efficiency is the new scale", body="Cheaper training."),
        approved_story(headline="Unrelated", body="Nothing to see."),
    )
    assert headlines(client, "effic*") == ["Efficiency is the new scale"]
    assert headlines(client, "effic") == []


def test_snippet_highlights_the_match_and_escapes_the_story_text(client):
    publish(
        approved_story(
            headline="Escaping",
            body="Writers quote <script>alert(1)</script> on R&D and distillation at length.",
        )
    )
    body = client.get("/search/", {"q": "distillation"}).content.decode()
    snippet = re.search(r'<p class="snippet">(.*?)</p>', body, re.S).group(1)
    assert "<mark>distillation</mark>" in snippet
    assert "R&amp;D" in snippet
    # Shown escaped (FTS5) or dropped as markup (ts_headline), never as a tag.
    assert "<script>" not in body


def test_markers_in_story_text_cannot_forge_a_highlight(client):
    publish(approved_story(headline="Forged", body="A \ue000forged\ue001 mark near distillation."))
    body = client.get("/search/", {"q": "distillation"}).content.decode()
    assert body.count("<mark>") == 1


@pytest.mark.parametrize(
    "query",
    ['"', "*", '"open', "a:b", "' OR 1=1 --", "NEAR(a b)", "x AND", "-", "((( )))", "é*", "_*"],
)
def test_query_syntax_never_reaches_the_database_as_syntax(client, query):
    publish(approved_story(headline="Open weights", body="Near and far."))
    assert client.get("/search/", {"q": query}).status_code == 200


def test_reader_query_is_parsed_into_words_phrases_and_prefixes():
    parsed = parse_query('deepseek "open source models" effic* GPT-4o "x"')
    assert sorted(parsed.words) == ["4o", "GPT", "deepseek", "x"]
    assert parsed.phrases == ("open source models",)
    assert parsed.prefixes == ("effic",)
    assert not parse_query(' "" * -- ')


def test_unpublished_stories_never_appear_in_search(client):
    hidden = unpublished_stories("zeppelin")
    publish(approved_story(headline="Published zeppelin", body="The zeppelin flies."))
    assert headlines(client, "zeppelin") == ["Published zeppelin"]
    body = client.get("/search/", {"q": "zeppelin headline"}).content.decode()
    for story in hidden.values():
        assert story.headline not in body


def indexed() -> set[int]:
    return set(SearchDocument.objects.values_list("story_id", flat=True))


def test_only_stories_a_scheduled_or_published_issue_holds_are_indexed():
    hidden = unpublished_stories("zeppelin")
    live = publish(approved_story(headline="Published zeppelin")).stories.get()
    assert indexed() == {hidden["scheduled"].pk, live.pk}
    for state in ("draft", "in_review", "approved", "withdrawn"):
        assert hidden[state].pk not in indexed()


def test_an_approved_story_in_a_draft_issue_is_not_indexed():
    story = approved_story(headline="Drafted zeppelin")
    issue_with_stories(stories=[story])
    assert story.pk not in indexed()


def test_scheduling_an_issue_indexes_its_stories_and_unscheduling_removes_them(publisher):
    stories = [approved_story(headline=f"Embargoed zeppelin {n}") for n in range(2)]
    issue = issue_with_stories(stories=stories)
    ids = {story.pk for story in stories}
    assert not ids & indexed()

    workflow.schedule_issue(publisher, issue, timezone.now() + timedelta(hours=2))
    assert ids <= indexed()

    workflow.unschedule_issue(publisher, issue)
    assert not ids & indexed()


def test_search_rows_follow_their_storys_listing_date(publisher):
    story = approved_story(headline="Dated zeppelin")
    issue = issue_with_stories(stories=[story])
    issue = workflow.schedule_issue(publisher, issue, timezone.now() + timedelta(hours=2))
    later = issue.publish_at
    assert SearchDocument.objects.get(story=story).listed_at == later
    issue = workflow.publish_issue_now(publisher, issue)
    story.refresh_from_db()
    assert story.listed_at == issue.publish_at < later
    assert SearchDocument.objects.get(story=story).listed_at == story.listed_at


def test_publish_now_indexes_the_issues_stories_and_withdrawing_it_removes_them(publisher):
    story = approved_story(headline="Briefly live zeppelin")
    issue = issue_with_stories(stories=[story])
    workflow.publish_issue_now(publisher, issue)
    assert story.pk in indexed()
    workflow.withdraw_issue(publisher, issue, "Sent by mistake.")
    assert story.pk not in indexed()


def test_a_story_another_live_issue_holds_stays_indexed_when_one_is_withdrawn(publisher):
    story = approved_story(headline="Twice sent zeppelin")
    first = publish(story)
    publish(Story.objects.get(pk=story.pk))
    workflow.withdraw_issue(publisher, first, "Duplicate send.")
    assert story.pk in indexed()


def test_scheduled_story_becomes_findable_at_its_minute_without_any_job(client):
    issue = scheduled_issue(
        stories=[approved_story(headline="Embargoed hovercraft")], in_minutes=30
    )
    assert headlines(client, "hovercraft") == []
    with time_machine.travel(issue.publish_at - timedelta(seconds=1)):
        assert headlines(client, "hovercraft") == []
    with time_machine.travel(issue.publish_at):
        assert headlines(client, "hovercraft") == ["Embargoed hovercraft"]


def test_withdrawn_story_leaves_the_index_and_the_results(client):
    story = publish(approved_story(headline="Retracted hovercraft")).stories.get()
    assert headlines(client, "hovercraft") == ["Retracted hovercraft"]
    workflow.withdraw_story(user_in("Editors", username="e"), story, "Wrong.")
    assert headlines(client, "hovercraft") == []
    assert not SearchDocument.objects.filter(story=story).exists()


def test_an_edit_saved_in_the_admin_is_searchable_at_once(client):
    story = publish(approved_story(headline="Old words")).stories.get()
    editor = user_in("Editors", username="desk-editor")
    client.force_login(editor)
    data = story_form_data(client, story, headline="New hovercraft words")
    response = client.post(change_url(story), data)
    assert response.status_code == 302, messages_of(response)
    client.logout()
    assert headlines(client, "hovercraft") == ["New hovercraft words"]


def test_saving_a_story_outside_an_action_leaves_the_index_alone(client):
    """Story.save fills the story's own fields only; the index follows the
    actions (workflow, admin, restore) that call the publishing path."""
    story = publish(approved_story(headline="Old words")).stories.get()
    story.headline = "New hovercraft words"
    story.save()
    assert SearchDocument.objects.get(story=story).headline == "Old words"


def test_results_page_in_twenties_with_links_both_ways(client):
    publish(*[approved_story(headline=f"Hovercraft {n}") for n in range(25)])
    first = client.get("/search/", {"q": "hovercraft"}).content.decode()
    assert first.count('class="search-result"') == 20
    assert 'rel="next" href="?q=hovercraft&amp;page=2"' in first
    second = client.get("/search/", {"q": "hovercraft", "page": 2}).content.decode()
    assert second.count('class="search-result"') == 5
    assert 'rel="prev"' in second and 'rel="next"' not in second


@pytest.mark.parametrize("page", ["0", "-1", "abc", "26", "99999999999999999999"])
def test_page_numbers_out_of_range_show_the_first_page_with_a_notice(client, page):
    publish(approved_story(headline="Hovercraft"))
    response = client.get("/search/", {"q": "hovercraft", "page": page})
    assert response.status_code == 200
    assert "showing the first page" in response.content.decode()
    assert headlines(client, "hovercraft", page=page) == ["Hovercraft"]


def test_search_page_without_a_query_shows_the_form_only(client):
    publish(approved_story(headline="Hovercraft"))
    body = client.get("/search/").content.decode()
    assert 'role="search"' in body and "Hovercraft" not in body


def test_search_query_count_does_not_grow_with_results(client, django_assert_num_queries):
    def count_for(n: int) -> None:
        client.get("/search/", {"q": "hovercraft"})  # warm the cached filter choices
        # filters' choices come from the cache; then 1 page of stories, 1 for
        # their snippets; on PostgreSQL also the search's plan settings (SET LOCAL).
        expected = 2 + (connection.vendor == "postgresql")
        with django_assert_num_queries(expected):
            response = client.get("/search/", {"q": "hovercraft"})
        assert response.content.decode().count('class="search-result"') == min(n, 20)

    publish(*[approved_story(headline=f"Hovercraft {n}") for n in range(2)])
    count_for(2)
    publish(*[approved_story(headline=f"Hovercraft {n}") for n in range(2, 30)])
    count_for(30)


def test_search_on_a_cold_cache_reads_the_filter_choices_once(client, django_assert_num_queries):
    publish(approved_story(headline="Hovercraft"))
    # 1 next scheduled publication (page-cache horizon), 3 filter choices
    # (topics, sources, authors), 1 page of stories, 1 snippets, and on
    # PostgreSQL the search's plan settings (SET LOCAL).
    with django_assert_num_queries(6 + (connection.vendor == "postgresql")):
        client.get("/search/", {"q": "hovercraft"})


def test_demo_search_for_distillation_finds_the_efficiency_story_first(
    client, monkeypatch, tmp_path, settings
):
    monkeypatch.setenv("NEWSROOM_DEMO_PASSWORD", "demo-password-123")
    settings.MEDIA_ROOT = tmp_path
    call_command("load_demo", stdout=io.StringIO())
    found = headlines(client, "distillation")
    assert found[0] == "The industry pivots to training efficiency"


def test_rebuild_command_indexes_stories_that_bypassed_save(client):
    story = publish(approved_story(headline="Bulk hovercraft")).stories.get()
    SearchDocument.objects.all().delete()  # as after a bulk_create import
    assert headlines(client, "hovercraft") == []
    out = io.StringIO()
    call_command("rebuild_search_index", stdout=out)
    assert "Indexed 1 stories" in out.getvalue()
    assert headlines(client, "hovercraft") == [story.headline]


def test_rebuild_command_drops_rows_of_stories_readers_will_not_see(client):
    publish(approved_story(headline="Public hovercraft"))
    draft = StoryFactory(headline="Draft hovercraft")
    SearchDocument.objects.create(story=draft, headline=draft.headline, dek="", body="")
    out = io.StringIO()
    call_command("rebuild_search_index", stdout=out)
    assert "Indexed 1 stories for search (the index held 2 before)" in out.getvalue()
    assert list(SearchDocument.objects.values_list("headline", flat=True)) == ["Public hovercraft"]
