"""/metrics scrape benchmark (PostgreSQL): server time of one scrape at 1,000,000 open cases in 20 queues.

    python bench/metrics.py [--scrapes 50] [--cases 1000000] [--reseed]

Seeds its own database (`moderation_ops_bench`, the same shape as bench/_scale.py) and scrapes through
Django's full stack in-process, so the figure is server time without the network. Prints p50/p95 and the SQL
queries per scrape (queue backlog is one grouped query, deliveries one per outbox kind, whatever the volume).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import percentile
from _scale import database_url, setup_django

DB_NAME = "moderation_ops_bench"
TOKEN = "bench-metrics-token"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    url = database_url(DB_NAME, reseed=args.reseed, cases=args.cases, queues=20, agents=4)
    os.environ["METRICS_TOKEN"] = TOKEN
    setup_django(url)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    client = Client()
    timings, queries = [], 0
    for _ in range(args.scrapes + 1):
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.status_code
        queries = len(ctx.captured_queries)
    timings = sorted(timings[1:])  # the first pays for connecting
    print(
        f"/metrics at {args.cases:,} cases: p50 {percentile(timings, 50):.1f} ms, "
        f"p95 {percentile(timings, 95):.1f} ms, {queries} queries, {len(response.content):,} bytes"
    )


if __name__ == "__main__":
    main()
