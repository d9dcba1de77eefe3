"""PostgreSQL full-text search for real: the stored weighted vectors, the GIN
index and the plan that uses it, ts_rank order and ts_headline snippets.
Skipped with a reason on SQLite."""

import pytest
from django.db import connection

from stories.discovery.filters import published_stories
from stories.discovery.search import (
    index_scan_plan,
    matching,
    parse_query,
    postgres_query,
    snippets,
)
from stories.models import SearchDocument
from tests.factories import approved_story, published_issue

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_stored_vector_weights_headline_a_dek_b_body_c(on_postgres):
    story = approved_story(headline="Distillation", dek="Quantization", body="Sparsity wins.")
    published_issue(stories=[story])
    vector = SearchDocument.objects.values_list("vector", flat=True).get(story=story)
    assert "'distil':1A" in vector
    assert "'quantiz':2B" in vector
    assert "'sparsiti':3C" in vector


def test_rank_vector_holds_only_the_lead_of_a_long_body(on_postgres):
    story = approved_story(headline="Lead", body="Opening words. " + "filler " * 200 + "tailword")
    published_issue(stories=[story])
    document = SearchDocument.objects.get(story=story)
    assert "tailword" in document.vector and "tailword" not in document.rank_vector
    assert "open" in document.rank_vector


def test_gin_index_exists_on_the_search_vector(on_postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'stories_searchdocument' "
            "AND indexname = 'stories_searchdocument_vector_gin'"
        )
        (definition,) = cursor.fetchone()
    assert "USING gin (vector)" in definition


def test_matching_inside_the_search_plan_goes_through_the_gin_index(on_postgres):
    published_issue(stories=[approved_story(headline=f"Hovercraft {n}") for n in range(3)])
    matches = SearchDocument.objects.filter(vector=postgres_query(parse_query("hovercraft")))
    with index_scan_plan():
        plan = matches.explain()
    assert "Bitmap Index Scan on stories_searchdocument_vector_gin" in plan


@pytest.mark.django_db(transaction=True)  # as in a request: no transaction around it
def test_the_search_plan_settings_hold_for_its_transaction_only(on_postgres):
    def settings_now():
        with on_postgres.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_seqscan'), current_setting('work_mem')")
            return cursor.fetchone()

    before = settings_now()
    with index_scan_plan():
        # The GIN index's path, and room to sort a common word's matches.
        assert settings_now() == ("off", "32MB")
    assert settings_now() == before


def test_ts_rank_orders_headline_then_dek_then_body(on_postgres):
    published_issue(
        stories=[
            approved_story(headline="Body", dek="Nothing.", body="About sparsity."),
            approved_story(headline="Sparsity first", dek="Nothing.", body="Plain."),
            approved_story(headline="Dek", dek="On sparsity.", body="Plain."),
        ]
    )
    ranked = matching(published_stories(), parse_query("sparsity")).order_by("-rank")
    assert [s.headline for s in ranked] == ["Sparsity first", "Dek", "Body"]
    ranks = [s.rank for s in ranked]
    assert ranks[0] > ranks[1] > ranks[2] > 0


def test_phrase_and_prefix_queries_become_tsquery_operators(on_postgres):
    published_issue(
        stories=[
            approved_story(headline="Together", body="It is open source."),
            approved_story(headline="Apart", body="Open weights, closed source."),
        ]
    )
    phrase = matching(published_stories(), parse_query('"open source"'))
    assert [s.headline for s in phrase] == ["Together"]
    prefix = matching(published_stories(), parse_query("weig*"))
    assert [s.headline for s in prefix] == ["Apart"]


def test_ts_headline_snippet_marks_stemmed_matches(on_postgres):
    story = approved_story(headline="H", body="Labs distilled their models into smaller ones.")
    published_issue(stories=[story])
    found = snippets([story.pk], parse_query("distillation"))
    assert "<mark>distilled</mark>" in found[story.pk]
