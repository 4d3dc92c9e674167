"""Agent page benchmark (PostgreSQL): server time of the queue page and the case page at 1,000,000 cases.

    python bench/pages.py [--requests 200] [--reseed]

Shares the database of bench/claim.py (`moderation_bench_scale`: 1M open cases in 20 queues; every 500th
case has 50 reports and 20 signals; authors have about five cases each). Requests go through Django's full
stack in-process (middleware, session, view, template), so the figures are server time without the network.
Prints p50/p95 and SQL queries per page for each page shape. Target: case page p95 <= 50 ms.
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import percentile
from _scale import HEAVY_EVERY, database_url, setup_django

# BENCH_DB_NAME: another database, e.g. moderation_scale10m from bench/generate_scale.py.
DB_NAME = os.environ.get("BENCH_DB_NAME", "moderation_bench_scale")


def measure(client, paths: list[str]) -> tuple[list[float], int, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    queries = narrowed = 0
    for path in paths:
        connection.queries_log.clear()
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        timings.append((time.perf_counter() - began) * 1000)
        # 422 only from a text filter over its time limit (QUEUE_TEXT_TIMEOUT_MS: "add a word"), counted.
        assert response.status_code == 200 or (response.status_code == 422 and "q=" in path), (
            path,
            response.status_code,
        )
        narrowed += response.status_code == 422
        queries = max(queries, len(ctx.captured_queries))
    timings.sort()
    # The last: the pages that answered "add a word" (a text filter over QUEUE_TEXT_TIMEOUT_MS).
    return timings, queries, len(response.content), narrowed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    url = database_url(DB_NAME, reseed=args.reseed, cases=args.cases, queues=20, agents=16)
    setup_django(url)
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment

    from cases.models import Case
    from queues.selectors import visible_queues

    setup_test_environment()  # allows the test client's host; nothing else changes
    client = Client()
    client.force_login(User.objects.get(username="agent00"))
    rng = random.Random(1)
    slugs = list(visible_queues(User.objects.get(username="agent00")).values_list("slug", flat=True))
    top = Case.objects.order_by("-pk").values_list("pk", flat=True).first()
    n = args.requests
    shapes = {
        "dashboard (20 queues, counts over 1M cases)": ["/queues/"] * max(10, n // 10),
        "queue page 1 (waiting, by priority)": [f"/queues/{rng.choice(slugs)}/" for _ in range(n)],
        "queue page 200 (deep page)": [f"/queues/{rng.choice(slugs)}/?page=200" for _ in range(n)],
        "queue filtered (past SLA, sort by SLA)": [
            f"/queues/{rng.choice(slugs)}/?status=active&sla=late&sort=sla" for _ in range(n)
        ],
        "queue text search": [
            f"/queues/{rng.choice(slugs)}/?q=worthless+{rng.randint(1, 999)}" for _ in range(n // 4)
        ],
        "case page (1 report)": [f"/cases/{rng.randint(1, top)}/" for _ in range(n)],
        "case page (50 reports, 20 signals)": [
            f"/cases/{rng.randint(1, top // HEAVY_EVERY) * HEAVY_EVERY}/" for _ in range(n)
        ],
    }
    from django.conf import settings

    measure(client, ["/queues/", f"/cases/{top}/"])  # warm up
    print(f"{'page':46} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'KB':>6}")
    for name, paths in shapes.items():
        timings, queries, size, narrowed = measure(client, paths)
        asked = f"  ({narrowed} of {len(paths)} asked for another word)" if narrowed else ""
        print(
            f"{name:46} {percentile(timings, 50):8.1f} {percentile(timings, 95):8.1f} {queries:8d} {size / 1024:6.0f}"
            + asked
        )
    # In production the counts are computed once per QUEUE_STATS_CACHE_SECONDS for all agents.
    settings.QUEUE_STATS_CACHE_SECONDS = 5
    timings, queries, size, _ = measure(client, ["/queues/"] * n)
    name = "dashboard (counts cached 5 s for all agents)"
    print(
        f"{name:46} {percentile(timings, 50):8.1f} {percentile(timings, 95):8.1f} {queries:8d} {size / 1024:6.0f}"
    )
    print("target: case page p95 <= 50 ms")


if __name__ == "__main__":
    main()
