"""PostgreSQL full-text search for real: the stored weighted vectors, the GIN
index and the plan that uses it, the bounded candidate set and rank
order, and ts_headline snippets.
Skipped with a reason on SQLite."""

import pytest
from django.db import connection

from stories.discovery.filters import published_stories
from stories.discovery.search import (
    ANYWHERE,
    HEADLINE,
    LEAD,
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
            cursor.execute(
                "SELECT current_setting('enable_seqscan'), current_setting('work_mem'), "
                "current_setting('max_parallel_workers_per_gather'), current_setting('jit')"
            )
            return cursor.fetchone()

    before = settings_now()
    with index_scan_plan():
        # The GIN index's path, and room to sort a common word's matches.
        assert settings_now() == ("off", "32MB", "0", "off")
    assert settings_now() == before


def test_rank_is_headline_then_dek_or_lead_then_anywhere(on_postgres):
    published_issue(
        stories=[
            approved_story(headline="Body", dek="Nothing.", body="Plain. " * 100 + "sparsity."),
            approved_story(headline="Sparsity first", dek="Nothing.", body="Plain."),
            approved_story(headline="Dek", dek="On sparsity.", body="Plain."),
        ]
    )
    ranked = matching(published_stories(), parse_query("sparsity"))
    assert [(s.headline, s.rank) for s in ranked] == [
        ("Sparsity first", HEADLINE),
        ("Dek", LEAD),
        ("Body", ANYWHERE),
    ]


def _plan(queryset) -> dict:
    """The executed plan of queryset's query, run inside the search's plan settings."""
    sql, params = queryset.query.sql_with_params()
    with index_scan_plan(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()[0]
    return plan["Plan"]


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("narrowed", [False, True], ids=["unfiltered", "filtered"])
def test_search_reads_a_bounded_candidate_set_by_index_not_every_match(on_postgres, narrowed):
    """A word every story holds: the results query sorts at most bound
    candidates per rank, each list read from an index, however many match,
    whether the candidates come from the search rows alone or, under a
    filter, from the filtered stories."""
    published_issue(
        stories=[approved_story(headline=f"Hovercraft {n}", body="Hovercraft.") for n in range(60)]
    )
    bound = 5
    found = matching(published_stories(), parse_query("hovercraft"), bound=bound, narrowed=narrowed)
    plan = _plan(found[:bound])
    nodes = list(_nodes(plan))
    sorts = [node for node in nodes if node["Node Type"] == "Sort"]
    # The outer sort of ranked results sees the union of three bounded lists.
    outer_sort = sorts[0]
    assert outer_sort["Plans"][0]["Actual Rows"] <= 3 * bound
    limits = [node for node in nodes if node["Node Type"] == "Limit"]
    assert len(limits) >= 4  # the page, and one per candidate list
    assert all(node["Actual Rows"] <= bound for node in limits)
    reads = [node for node in nodes if node.get("Relation Name") == "stories_searchdocument"]
    assert reads and not any(node["Node Type"] == "Seq Scan" for node in reads)
    assert len(found[:bound]) == bound


def test_unbounded_search_still_finds_every_match(on_postgres):
    published_issue(stories=[approved_story(headline=f"Hovercraft {n}") for n in range(30)])
    assert matching(published_stories(), parse_query("hovercraft")).count() == 30


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
