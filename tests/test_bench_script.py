"""scripts/bench.py: the figures it reports beside the load test are the ones
the load test's servers pay (the load test itself is not a test)."""

import importlib.util
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tests.factories import published_issue

pytestmark = pytest.mark.django_db

_spec = importlib.util.spec_from_file_location(
    "bench", Path(__file__).resolve().parent.parent / "scripts" / "bench.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_are_those_of_a_warm_server_with_and_without_the_page_cache(client):
    issue = published_issue(3)
    urls = {"home": "/", "issue": issue.get_absolute_url(), "search": "/search/?q=story"}

    counts = bench.count_queries(urls)

    for name, url in urls.items():
        assert counts[name]["on"] == 0, name  # a cache hit touches no table
        with override_settings(NEWSROOM_PAGE_CACHE=False):
            queries_of(client, url)
            steady = queries_of(client, url)
        assert counts[name]["off"] == steady, name
        # A request right after the cache is emptied also reads the schedule
        # horizon (and, for search, the filter choices): a cost a warmed-up
        # server without the page cache does not pay, so it is not reported.
        cache.clear()
        with override_settings(NEWSROOM_PAGE_CACHE=True):
            assert queries_of(client, url) > steady, name


def test_percentile_is_the_nearest_rank():
    times = [float(n) for n in range(1, 41)]
    assert bench.percentile(times, 95) == 38.0
    assert bench.percentile(times, 50) == 20.0
    assert bench.percentile([7.0], 95) == 7.0


def test_the_table_names_the_cache_backend_without_credentials(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://:secret@cache.internal:6380/2",
        }
    }
    assert bench.cache_backend() == "Redis at cache.internal:6380/2"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert bench.cache_backend().startswith("local memory, one per worker")


def test_gunicorn_gets_redis_url_when_it_is_set(monkeypatch, tmp_path):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert bench.production_env(tmp_path, page_cache=False)["REDIS_URL"] == (
        "redis://127.0.0.1:6379/3"
    )
    monkeypatch.delenv("REDIS_URL")
    assert "REDIS_URL" not in bench.production_env(tmp_path, page_cache=True)


def test_preparing_refuses_to_fill_a_database_that_holds_a_newsroom_of_its_own(monkeypatch):
    published_issue(2, headline="Our own newsroom")
    calls = []
    monkeypatch.setattr(
        "django.core.management.call_command", lambda name, *a, **k: calls.append(name)
    )
    with pytest.raises(SystemExit, match="already holds 2 stories of its own"):
        bench.prepare()
    assert "generate_bench_data" not in calls


def test_preparing_at_a_larger_scale_adds_the_stories_missing_with_a_hot_topic(monkeypatch):
    from stories.models import Story
    from tests.factories import StoryFactory

    StoryFactory(slug="ais-sputnik-moment")  # the demo, as an earlier run left it
    calls = []
    monkeypatch.setattr(
        "django.core.management.call_command", lambda name, *a, **k: calls.append((name, k))
    )
    monkeypatch.setattr(Story.objects, "count", lambda: 40_000)
    bench.prepare(400_000)
    generated = [k for name, k in calls if name == "generate_bench_data"]
    assert generated == [{"stories": 360_000, "hot_topic": "OpenAI", "hot_share": 0.9}]
    assert "load_demo" not in [name for name, _ in calls]
    calls.clear()
    bench.prepare(40_000)  # already there
    assert [name for name, _ in calls] == ["migrate"]


def test_every_page_the_benchmark_drives_is_found_in_bench_data_and_answers():
    from django.core.management import call_command

    call_command(
        "generate_bench_data",
        stories=60,
        topics=6,
        sources=4,
        authors=3,
        subscribers=0,
        hot_topic="OpenAI",
        hot_share=0.9,
        quiet=True,
    )

    urls = bench.discover_urls()

    assert set(urls) >= {
        "topic",
        "hot topic, deep page",
        "mid-sized topic",
        "source",
        "author",
    }
    assert urls["topic"] == "/topics/openai/"
    assert urls["hot topic, deep page"].startswith("/topics/openai/?before=")
    assert urls["mid-sized topic"] != urls["topic"]
    counts = bench.count_queries(urls)  # every page answers 200 (asserted inside)
    assert all(c["on"] == 0 for c in counts.values())


def fake_results(stories: int, p50: float, rps: float, search_p50: float) -> dict:
    """A size's bench.json as main() writes it, with made-up figures."""
    pages = []
    for page_cache, factor in (("on", 0.1), ("off", 1.0)):
        for page in ("home", "topic"):
            pages.append(
                {
                    "page": page,
                    "cache": page_cache,
                    "p50_ms": p50 * factor,
                    "p99_ms": 2 * p50 * factor,
                    "rps": rps / factor,
                    "queries": 0 if page_cache == "on" else 4,
                }
            )
    return {
        "stories": stories + 12,
        "database_name": f"bench_{stories}",
        "load_average": [1.5, 1.0, 0.5],
        "pages": pages,
        "admin": {"admin story changelist": {"p50_ms": p50, "p95_ms": p50 * 3, "queries": 9}},
        "search": {"searches": 40, "p50_ms": search_p50, "p95_ms": search_p50 * 2},
    }


def test_the_growth_table_has_a_row_per_page_with_the_ratio_of_the_largest_size_to_the_smallest():
    by_size = {
        400_000: fake_results(400_000, p50=5.0, rps=200.0, search_p50=9.0),
        40_000: fake_results(40_000, p50=2.0, rps=500.0, search_p50=3.0),
        100_000: fake_results(100_000, p50=4.0, rps=300.0, search_p50=6.0),
    }

    rows = bench.growth_rows(by_size)

    # The pages as built (page cache off), the admin page, then the search.
    assert [row["page"] for row in rows] == [
        "home",
        "topic",
        "admin story changelist",
        "search (40 searches of 20 terms)",
    ]
    home = rows[0]
    assert list(home["figures"]) == [40_000, 100_000, 400_000]
    assert home["figures"][40_000] == {"p50_ms": 2.0, "tail_ms": 4.0, "rps": 500.0, "queries": 4}
    assert home["p50_ratio"] == pytest.approx(2.5)
    assert home["tail_ratio"] == pytest.approx(2.5)
    assert home["rps_ratio"] == pytest.approx(0.4)
    admin = rows[2]
    assert admin["tail_ratio"] == pytest.approx(2.5)  # its p95: 15 ms against 6 ms
    assert admin["rps_ratio"] is None  # timed in-process, no requests per second
    assert rows[3]["p50_ratio"] == pytest.approx(3.0)

    table = bench.growth_table(by_size, rows, seconds=2).splitlines()
    header = next(line for line in table if line.startswith("| page |"))
    assert header.count("|") == table[table.index(header) + 1].count("|")
    assert "p50 400k/40k" in header and "p50 ms 100k" in header
    assert any(
        line.startswith("| home | 2.00 | 4.00 | 5.00 | 2.50 |") and line.endswith("| 4 / 4 / 4 |")
        for line in table
    )
    assert (
        "- 400k: 400,012 stories in `bench_400000`; load average 1.5, 1.0, 0.5 while measured"
        in (table)
    )


def test_the_growth_table_is_written_as_markdown_and_json(tmp_path):
    import json

    by_size = {
        n: fake_results(n, p50=n / 20_000, rps=1e6 / n, search_p50=1.0) for n in (40_000, 400_000)
    }

    out = tmp_path / "bench-results" / "growth"  # made as needed
    bench.write_growth(by_size, seconds=2, out=out)

    written = json.loads((out / "growth.json").read_text())
    assert written["sizes"] == [40_000, 400_000]
    assert written["rows"][0]["p50_ratio"] == pytest.approx(10.0)
    assert "| home | 2.00 | 20.00 | 10.00 |" in (out / "growth.md").read_text()


def test_each_archive_size_has_its_own_database():
    url = "postgres://root@127.0.0.1:5432/newsroom_bench"
    assert bench.database_url_for(url, 40_000) == url  # the default size's, as before
    assert bench.database_url_for(url, 400_000) == url + "_400k"
    assert bench.database_url_for(url, 1500) == url + "_1500"


def test_archive_sizes_are_read_smallest_first_or_refused_with_a_sentence():
    import argparse

    assert bench.parse_sizes("400000 40000") == [40_000, 400_000]
    assert bench.parse_sizes("40_000,400_000") == [40_000, 400_000]
    with pytest.raises(argparse.ArgumentTypeError, match="not a list of story counts"):
        bench.parse_sizes("40k 400k")
    with pytest.raises(argparse.ArgumentTypeError, match="two archive sizes or more"):
        bench.parse_sizes("40000")
    with pytest.raises(argparse.ArgumentTypeError, match="two archive sizes or more"):
        bench.parse_sizes("0 40000")
