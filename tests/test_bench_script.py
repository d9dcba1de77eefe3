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
