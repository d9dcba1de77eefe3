#!/usr/bin/env python
"""make bench: how close public pages come to the speed of a static file.

Starts gunicorn (2 sync workers, production settings) on the database in
DATABASE_URL, warms it up, drives each page with wrk (8 connections) with the
server-side page cache on and then off, and in the same run a static file of
the story page's size through the same server. Prints and writes a table
(bench-results/bench.md and .json): requests/s, p50/p99 latency, ratio to the
static file, SQL queries per page (as a warmed-up server pays them: with the
page cache off after one warm request, and on a cache hit), worker memory,
and the cache backend. It also times the admin story changelist and change
form and the search (p50/p95) in-process.

Figures are ratios from one run: the machine is shared, so absolute numbers
move between runs while ratios measured side by side hold.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PORT = int(os.environ.get("BENCH_PORT", "8765"))
BASE = f"http://127.0.0.1:{PORT}"


def production_env(static_root: Path, page_cache: bool) -> dict:
    # The caller's environment goes through whole: DATABASE_URL, and REDIS_URL
    # when set, so gunicorn's workers share the Redis cache production would
    # (without it each worker keeps its own local-memory cache).
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-" + "x" * 50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_STATIC_ROOT": str(static_root),
        "NEWSROOM_STATIC_MANIFEST": "true",
        "NEWSROOM_PAGE_CACHE": "true" if page_cache else "false",
        "NEWSROOM_SITE_URL": BASE,
        "DJANGO_LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": "",
    }
    return env


def django_setup(env: dict) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def discover_urls() -> dict[str, str]:
    """The pages to drive, picked from the data: a 10-story issue, the hot
    topic's first page and a page 80% of the way down it, a topic of middling
    size, the most cited source, the author with the most bylines."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Exists, OuterRef
    from django.urls import reverse

    from stories.discovery.views import _encode_cursor
    from stories.models import Issue, Source, Story, TaggedTopic, Topic
    from stories.reader.listing import encode_cursor

    published = Issue.objects.published()
    issue = (
        published.annotate(n=Count("items")).filter(n=10).order_by("-publish_at").first()
        or published.order_by("-publish_at").first()
    )
    story = Story.objects.published().filter(issue_items__issue=issue).first()
    # An archive page far down the list: the cursor of the issue 80% of the way back.
    deep = published.order_by("-publish_at", "-number")[int(published.count() * 0.8)]
    topics = list(
        Topic.objects.annotate(n=Count("tagged_stories")).filter(n__gt=0).order_by("-n", "pk")
    )
    hot, middling = topics[0], topics[len(topics) // 2]
    hot_stories = Story.objects.published().filter(
        Exists(TaggedTopic.objects.filter(tag=hot, content_object=OuterRef("pk")))
    )
    hot_deep = hot_stories.order_by("-listed_at", "-pk")[int(hot_stories.count() * 0.8)]
    source = Source.objects.annotate(n=Count("citations")).order_by("-n", "pk").first()
    author = (
        get_user_model()
        .objects.annotate(n=Count("stories"))
        .filter(n__gt=0)
        .order_by("-n", "pk")
        .first()
    )
    return {
        "home": "/",
        "issue (10 stories)": issue.get_absolute_url(),
        "story": story.get_absolute_url(),
        "archive, deep page": f"{reverse('discovery:archive')}?after={_encode_cursor(deep)}",
        "topic": hot.get_absolute_url(),
        "hot topic, deep page": f"{hot.get_absolute_url()}?before={encode_cursor(hot_deep)}",
        "mid-sized topic": middling.get_absolute_url(),
        "source": source.get_absolute_url(),
        "author": reverse("stories:author", args=[author.get_username()]),
        "search": f"{reverse('discovery:search')}?q=reasoning+benchmark",
        "feed (RSS)": reverse("discovery:issues_rss"),
    }


SEARCH_TERMS = [
    "distillation",
    "reasoning",
    "open weights",
    "deepseek",
    "chip export",
    "video provenance",
    "governance policy",
    "funding startup",
    "memory",
    "latency",
    "robotics",
    "speech search",
    "enterprise adoption",
    "cloud pricing",
    "datacenter power",
    "alignment evaluation",
    "nvidia",
    "mistral",
    "licence",
    "market investor",
]


DEFAULT_STORIES = 40_000
# The topic a large share of generated stories carries, as "OpenAI" does in a
# real archive: the listing whose cost would grow with the archive if any did.
HOT_TOPIC, HOT_SHARE = "OpenAI", 0.9


def prepare(stories_wanted: int = DEFAULT_STORIES) -> None:
    """Create and fill the benchmark database once: migrations, the demo,
    archive-scale content (stories_wanted stories, BENCH_STORIES), and fresh
    planner statistics."""
    from django.core.management import call_command
    from django.db import connection

    from stories.models import Story

    if connection.vendor == "postgresql":
        _create_database_if_missing(connection)
    call_command("migrate", verbosity=0)
    stories = Story.objects.count()
    if stories > stories_wanted * 5 // 4:
        # Measured here, the pages would be labelled with a size they are not.
        raise SystemExit(
            f"The database {connection.settings_dict['NAME']!r} holds {stories:,} stories, "
            f"far more than the {stories_wanted:,} asked for. Point BENCH_DATABASE_URL (or "
            "DATABASE_URL) at another database, or ask for its size with BENCH_STORIES."
        )
    if stories < stories_wanted * 3 // 4:
        if stories > 0 and not Story.objects.filter(slug="ais-sputnik-moment").exists():
            # Content that is neither the demo nor bench data: someone's newsroom.
            raise SystemExit(
                f"The database {connection.settings_dict['NAME']!r} already holds {stories} "
                f"stories of its own; the benchmark will not add {stories_wanted:,} more to "
                "it. Point BENCH_DATABASE_URL (or DATABASE_URL) at an empty or benchmark "
                "database."
            )
        if stories == 0:
            call_command("load_demo")
        call_command(
            "generate_bench_data",
            stories=stories_wanted - stories,
            hot_topic=HOT_TOPIC,
            hot_share=HOT_SHARE,
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _create_database_if_missing(connection) -> None:
    import psycopg

    settings = connection.settings_dict
    try:
        psycopg.connect(**connection.get_connection_params()).close()
    except psycopg.OperationalError:
        params = {**connection.get_connection_params(), "dbname": "postgres", "autocommit": True}
        with psycopg.connect(**params) as admin:
            admin.execute(f'CREATE DATABASE "{settings["NAME"]}"')


def count_queries(urls: dict[str, str]) -> dict[str, dict[str, int]]:
    """SQL queries per page as the load test's servers pay them in steady
    state: "off" with the page cache switched off, after one warm request
    (the schedule horizon and the filter choices are then cached, as on a
    warmed-up server); "on" for a page cache hit, which must be none."""
    from django.test import Client, override_settings

    client = Client()
    result = {}
    for name, url in urls.items():
        with override_settings(NEWSROOM_PAGE_CACHE=False):
            _queries_of(client, url)  # warm
            off = _queries_of(client, url)
        with override_settings(NEWSROOM_PAGE_CACHE=True):
            _queries_of(client, url)  # stores the page
            on = _queries_of(client, url)
        result[name] = {"off": off, "on": on}
    return result


def _queries_of(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def cache_backend() -> str:
    """The cache the servers share, for the table's header (no credentials)."""
    from urllib.parse import urlsplit

    from django.conf import settings

    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("RedisCache"):
        location = urlsplit(settings.CACHES["default"]["LOCATION"])
        return f"Redis at {location.hostname}:{location.port or 6379}{location.path}"
    if backend.endswith("LocMemCache"):
        return "local memory, one per worker (set REDIS_URL to share one Redis)"
    return backend


def percentile(times: list[float], p: float) -> float:
    """The nearest-rank p-th percentile: the value p% of the times are at or below."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


def admin_timings(repeat: int = 40) -> dict[str, dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from stories.models import Story

    User = get_user_model()
    user, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    story = Story.objects.order_by("-pk").first()
    pages = {
        "admin story changelist": "/admin/stories/story/",
        "admin story change form": f"/admin/stories/story/{story.pk}/change/",
    }
    out = {}
    for name, url in pages.items():
        client.get(url)  # warm
        times = []
        for _ in range(repeat):
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        out[name] = {
            "p50_ms": statistics.median(times),
            "p95_ms": percentile(times, 95),
            "queries": len(ctx.captured_queries),
        }
    return out


def search_timings(terms: list[str]) -> dict:
    """Whole search requests in-process with the page cache off, so every one
    runs the full-text query. Timed as a warmed-up gunicorn worker serves
    them: after one untimed pass over the terms (as the wrk runs warm up
    first), and with what is loaded so far frozen out of the garbage
    collector's sweeps, as gunicorn.conf.py does once a worker has loaded."""
    import gc

    from django.test import Client, override_settings

    client = Client()
    times = []
    with override_settings(NEWSROOM_PAGE_CACHE=False):
        for term in set(terms):
            _timed_search(client, term)
        gc.collect()
        gc.freeze()
        for term in terms:
            times.append(_timed_search(client, term))
    return {
        "searches": len(times),
        "p50_ms": statistics.median(times),
        "p95_ms": percentile(times, 95),
    }


def _timed_search(client, term: str) -> float:
    start = time.perf_counter()
    response = client.get("/search/", {"q": term})
    assert response.status_code == 200, term
    return (time.perf_counter() - start) * 1000


def start_gunicorn(env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--max-requests",
            "0",
            "newsroom.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(BASE + "/healthz", timeout=1)
            return proc
        except Exception:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit("gunicorn did not start: " + proc.stderr.read().decode()[-2000:])


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def worker_rss_mb(master_pid: int) -> float:
    out = subprocess.run(
        ["ps", "-o", "rss=", "--ppid", str(master_pid)], capture_output=True, text=True
    ).stdout.split()
    return max(int(kb) for kb in out) / 1024 if out else 0.0


def wrk(url: str, seconds: int, connections: int = 8) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def scale_label(stories: int) -> str:
    """How a size is named in tables and database names: 40000 is "40k"."""
    return f"{stories // 1000}k" if stories % 1000 == 0 else str(stories)


def database_url_for(url: str, stories: int) -> str:
    """Each size's own database, filled once and reused by later runs: the
    default size keeps the database of url, another has its size appended to
    the name (newsroom_bench_400k)."""
    if stories == DEFAULT_STORIES:
        return url
    parts = urlsplit(url)
    path = Path(parts.path)
    renamed = path.with_name(f"{path.stem}_{scale_label(stories)}{path.suffix}")
    return urlunsplit(parts._replace(path=renamed.as_posix()))


def parse_sizes(text: str) -> list[int]:
    """Archive sizes as BENCH_SCALE or --scale gives them ("40000 400000"),
    smallest first, or a sentence saying what is wrong."""
    try:
        sizes = sorted({int(word.replace("_", "")) for word in text.replace(",", " ").split()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a list of story counts; write e.g. "40000 400000".'
        ) from None
    if len(sizes) < 2 or sizes[0] < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the growth table compares two archive sizes or more, each at least "
            'one story; write e.g. "40000 400000".'
        )
    return sizes


def ratio(large: float | None, small: float | None) -> float | None:
    """large / small, or None where there is nothing to divide."""
    if large is None or not small:
        return None
    return large / small


def growth_rows(by_size: dict[int, dict]) -> list[dict]:
    """The cost-growth table from each size's results (bench.json): a row for
    every page as wrk drove it with the page cache off (what it costs to
    build), the admin pages and the search (timed in-process), each with its
    figures at every size and the ratio of the largest size's to the
    smallest's: 1.0 means the page costs the same in the larger archive."""
    sizes = sorted(by_size)
    rows = []
    for page in [r["page"] for r in by_size[sizes[0]]["pages"] if r["cache"] == "off"]:
        figures = {}
        for stories in sizes:
            r = next(
                r for r in by_size[stories]["pages"] if r["page"] == page and r["cache"] == "off"
            )
            figures[stories] = {
                "p50_ms": r["p50_ms"],
                "tail_ms": r["p99_ms"],
                "rps": r["rps"],
                "queries": r["queries"],
            }
        rows.append({"page": page, "measured": "wrk", "figures": figures})
    for name in by_size[sizes[0]]["admin"]:
        figures = {}
        for stories in sizes:
            t = by_size[stories]["admin"][name]
            figures[stories] = {
                "p50_ms": t["p50_ms"],
                "tail_ms": t["p95_ms"],
                "rps": None,
                "queries": t["queries"],
            }
        rows.append({"page": name, "measured": "in-process", "figures": figures})
    searches = by_size[sizes[0]]["search"]["searches"]
    rows.append(
        {
            "page": f"search ({searches} searches of {len(set(SEARCH_TERMS))} terms)",
            "measured": "in-process",
            "figures": {
                stories: {
                    "p50_ms": by_size[stories]["search"]["p50_ms"],
                    "tail_ms": by_size[stories]["search"]["p95_ms"],
                    "rps": None,
                    "queries": None,
                }
                for stories in sizes
            },
        }
    )
    for row in rows:
        smallest, largest = row["figures"][sizes[0]], row["figures"][sizes[-1]]
        row["p50_ratio"] = ratio(largest["p50_ms"], smallest["p50_ms"])
        row["tail_ratio"] = ratio(largest["tail_ms"], smallest["tail_ms"])
        row["rps_ratio"] = ratio(largest["rps"], smallest["rps"])
    return rows


def growth_table(by_size: dict[int, dict], rows: list[dict], seconds: int) -> str:
    """growth_rows as Markdown, under a header naming each size's database."""
    sizes = sorted(by_size)
    labels = [scale_label(n) for n in sizes]
    small, large = labels[0], labels[-1]
    lines = [
        f"Cost growth from {small} to {large} stories, measured in one run with the same "
        f"code (wrk {seconds} s a page, 8 connections, page cache off; the admin pages "
        "and the search in-process). A ratio of 1.00 means the page costs the same in "
        "the larger archive.",
        "",
    ]
    for stories, label in zip(sizes, labels, strict=True):
        r = by_size[stories]
        load = ", ".join(f"{v:.1f}" for v in r.get("load_average", []))
        lines.append(
            f"- {label}: {r.get('stories', stories):,} stories in `{r.get('database_name', '?')}`"
            + (f"; load average {load} while measured" if load else "")
        )
    lines += [
        "",
        "| page | "
        + " | ".join(f"p50 ms {label}" for label in labels)
        + f" | p50 {large}/{small} | "
        + " | ".join(f"p99 ms {label}" for label in labels)
        + f" | p99 {large}/{small} | "
        + " | ".join(f"req/s {label}" for label in labels)
        + " | SQL queries |",
        "| --- |" + " ---: |" * (3 * len(sizes) + 3),
    ]

    def number(value, spec):
        return "–" if value is None else format(value, spec)

    for row in rows:
        figures = [row["figures"][n] for n in sizes]
        counts = [f["queries"] for f in figures]
        queries = "–" if None in counts else " / ".join(map(str, counts))
        name = row["page"] + (" (in-process; p95 for p99)" if row["measured"] != "wrk" else "")
        lines.append(
            f"| {name} | "
            + " | ".join(number(f["p50_ms"], ".2f") for f in figures)
            + f" | {number(row['p50_ratio'], '.2f')} | "
            + " | ".join(number(f["tail_ms"], ".2f") for f in figures)
            + f" | {number(row['tail_ratio'], '.2f')} | "
            + " | ".join(number(f["rps"], ".0f") for f in figures)
            + f" | {queries} |"
        )
    return "\n".join(lines)


def measure_scales(sizes: list[int], seconds: int, out: Path) -> dict[int, dict]:
    """Run this script once per size, each on its own database (filled the
    first time), and collect each run's results."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "The growth table needs PostgreSQL: set DATABASE_URL (or BENCH_DATABASE_URL for "
            "make bench) to a postgres:// address."
        )
    by_size = {}
    for stories in sizes:
        folder = out / scale_label(stories)
        print(f"\n== {scale_label(stories)} stories ==", flush=True)
        subprocess.run(
            [PYTHON, __file__, "--prepare", "--stories", str(stories), "--seconds", str(seconds)]
            + ["--out", str(folder)],
            env={
                **os.environ,
                "DATABASE_URL": base,  # the run picks its size's own database
                "BENCH_SCALE": "",
            },
            check=True,
        )
        by_size[stories] = json.loads((folder / "bench.json").read_text())
    return by_size


def write_growth(by_size: dict[int, dict], seconds: int, out: Path) -> str:
    rows = growth_rows(by_size)
    report = growth_table(by_size, rows, seconds)
    out.mkdir(parents=True, exist_ok=True)
    (out / "growth.md").write_text(report + "\n")
    (out / "growth.json").write_text(
        json.dumps(
            {
                "sizes": sorted(by_size),
                "seconds": seconds,
                "stories": {n: r.get("stories") for n, r in by_size.items()},
                "load_average": {n: r.get("load_average") for n, r in by_size.items()},
                "rows": rows,
            },
            indent=2,
        )
    )
    return report


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more.")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=positive, default=10, help="wrk duration per page")
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="migrate and generate the archive-scale data first if missing",
    )
    parser.add_argument(
        "--stories",
        type=int,
        default=int(os.environ.get("BENCH_STORIES", DEFAULT_STORIES)),
        help="stories the archive holds for --prepare (BENCH_STORIES; default 40,000)",
    )
    parser.add_argument(
        "--scale",
        nargs="+",
        default=None,
        metavar="N",
        help="archive sizes to measure in one run, each in its own database, and print "
        'how each page\'s cost grows between them (BENCH_SCALE, e.g. "40000 400000")',
    )
    args = parser.parse_args()
    scale = " ".join(args.scale) if args.scale else os.environ.get("BENCH_SCALE", "").strip()
    if scale:
        try:
            args.scale = parse_sizes(scale)
        except argparse.ArgumentTypeError as error:
            parser.error(f"--scale (BENCH_SCALE): {error}")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    if args.scale:
        out = Path(args.out)
        report = write_growth(measure_scales(args.scale, args.seconds, out), args.seconds, out)
        print("\n" + report)
        return

    url = os.environ.get("DATABASE_URL", "")
    if args.prepare and url.startswith(("postgres://", "postgresql://")):
        # Each size in its own database, as the growth table measures them.
        os.environ["DATABASE_URL"] = database_url_for(url, args.stories)
    static_root = Path(tempfile.mkdtemp(prefix="newsroom-bench-static-"))
    env = production_env(static_root, page_cache=True)
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    django_setup(env)
    from django.db import connection
    from django.test import Client

    if args.prepare:
        prepare(args.stories)
    from stories.models import Story

    results = {
        "stories": Story.objects.count(),
        "database_name": connection.settings_dict["NAME"],
    }
    backend = cache_backend()
    print(f"database: {connection.vendor}; cache: {backend}", flush=True)
    urls = discover_urls()
    queries = count_queries(urls)
    for name, counts in queries.items():
        if counts["on"]:
            print(f"  {name}: a page cache hit ran {counts['on']} SQL queries", flush=True)
    story_size = len(Client().get(urls["story"]).content)
    # A static file the size of the story page, served by whitenoise as the
    # site's CSS is; written before gunicorn starts so whitenoise indexes it.
    probe = static_root / "bench-probe.html"
    probe.write_bytes(b"<!-- static probe -->" + b"x" * max(0, story_size - 21))
    urls_static = BASE + "/static/bench-probe.html"

    rows = []
    results["static"] = None
    for cache_on in (True, False):
        proc = start_gunicorn(production_env(static_root, page_cache=cache_on))
        try:
            for url in urls.values():  # warm every worker
                for _ in range(6):
                    urllib.request.urlopen(BASE + url, timeout=30).read()
            if cache_on:
                wrk(urls_static, 3)
                results["static"] = wrk(urls_static, args.seconds)
                results["static"]["bytes"] = story_size
            for name, url in urls.items():
                r = wrk(BASE + url, args.seconds)
                r.update(
                    page=name,
                    url=url,
                    cache="on" if cache_on else "off",
                    queries=queries[name]["on" if cache_on else "off"],
                )
                rows.append(r)
                print(f"  {name:<16} cache {r['cache']:<3} {r['rps']:>8.0f} req/s", flush=True)
            rss = worker_rss_mb(proc.pid)
            results[f"worker_rss_mb_cache_{'on' if cache_on else 'off'}"] = rss
        finally:
            stop(proc)

    static_rps = results["static"]["rps"]
    for r in rows:
        r["ratio"] = r["rps"] / static_rps
    results["pages"] = rows
    results["database"] = connection.vendor
    results["cache"] = backend
    results["admin"] = admin_timings()
    results["search"] = search_timings(SEARCH_TERMS * 2)
    # The machine may be shared: how busy it was over the run (1, 5 and 15
    # minutes) says how far to trust absolute figures.
    results["load_average"] = list(os.getloadavg())

    lines = [
        f"Database: {connection.vendor} `{results['database_name']}`, "
        f"{results['stories']:,} stories; cache: {backend}; load average "
        + ", ".join(f"{v:.1f}" for v in results["load_average"]),
        "",
        f"Static file ({story_size} bytes): {static_rps:.0f} req/s, "
        f"p50 {results['static']['p50_ms']:.2f} ms, p99 {results['static']['p99_ms']:.2f} ms",
        "",
        "| page | cache | req/s | p50 ms | p99 ms | vs static | SQL queries | non-2xx |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['page']} `{r['url']}` | {r['cache']} | {r['rps']:.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['ratio']:.1%} | "
            f"{r['queries']} | {r['non_2xx']} |"
        )
    lines += [
        "",
        f"Worker memory (largest RSS): {results['worker_rss_mb_cache_on']:.0f} MB "
        f"with the page cache, {results['worker_rss_mb_cache_off']:.0f} MB without.",
        "",
    ]
    for name, t in results["admin"].items():
        lines.append(
            f"{name}: p50 {t['p50_ms']:.0f} ms, p95 {t['p95_ms']:.0f} ms, {t['queries']} queries"
        )
    s = results["search"]
    lines.append(
        f"search ({s['searches']} queries, in-process): p50 {s['p50_ms']:.1f} ms, "
        f"p95 {s['p95_ms']:.1f} ms"
    )
    report = "\n".join(lines)
    print("\n" + report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.md").write_text(report + "\n")
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(static_root, ignore_errors=True)


if __name__ == "__main__":
    main()
