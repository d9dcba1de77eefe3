#!/usr/bin/env python
"""Search timings per query term on the database in DATABASE_URL.

Whole /search/ requests in-process with the page cache off (as make bench
times them), each term searched --repeat times after one untimed warm-up
pass, then p50/p95 per term and over all of them. Also prints the page's
SQL queries for one term. Usage:

    DATABASE_URL=postgres://... python scripts/search_bench.py [--repeat 10] [term ...]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench import SEARCH_TERMS, _timed_search, django_setup, percentile  # noqa: E402

# Words most stories in a large archive hold, and the multi-word queries
# readers type: the cases whose cost would grow with the archive.
EXTRA_TERMS = ["openai", "model", "ai model", "reasoning benchmark", "open source model"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("terms", nargs="*")
    args = parser.parse_args()
    django_setup({"DJANGO_DEBUG": "false", "DJANGO_LOG_LEVEL": "WARNING"})

    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    terms = args.terms or [*SEARCH_TERMS, *EXTRA_TERMS]
    client = Client()
    every: list[float] = []
    with override_settings(NEWSROOM_PAGE_CACHE=False, ALLOWED_HOSTS=["testserver"]):
        for term in terms:
            _timed_search(client, term)
        gc.collect()
        gc.freeze()
        print(f"{'term':<24} {'p50 ms':>8} {'p95 ms':>8}")
        for term in terms:
            times = [_timed_search(client, term) for _ in range(args.repeat)]
            every += times
            print(f"{term:<24} {statistics.median(times):8.1f} {percentile(times, 95):8.1f}")
        print(
            f"{'all (' + str(len(every)) + ')':<24} "
            f"{statistics.median(every):8.1f} {percentile(every, 95):8.1f}"
        )
        with CaptureQueriesContext(connection) as ctx:
            _timed_search(client, terms[0])
        print(f"queries for {terms[0]!r}: {len(ctx.captured_queries)}")
        if os.environ.get("SEARCH_BENCH_SQL"):
            for query in ctx.captured_queries:
                print(query["sql"])


if __name__ == "__main__":
    main()
