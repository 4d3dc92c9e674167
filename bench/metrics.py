"""/metrics scrape benchmark (PostgreSQL): server time of one scrape at 1,000,000 open cases in 20 queues.

    python bench/metrics.py [--scrapes 50] [--cases 1000000] [--reseed]

Seeds its own database (`moderation_ops_bench`: unresolved cases in 20 queues, a third past their SLA, with
the ORM's bulk inserts, a few minutes for 1M) and scrapes through
Django's full stack in-process, so the figure is server time without the network. Prints p50/p95 and the SQL
queries per scrape (queue backlog is one grouped query, deliveries one per outbox kind, whatever the volume).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import fresh_database, percentile
from _scale import setup_django

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
    os.environ["METRICS_TOKEN"] = TOKEN
    url = _database_url(args.cases, reseed=args.reseed)
    setup_django(url)
    from django.core.management import call_command

    from cases.models import Case

    call_command("migrate", verbosity=0)
    if Case.objects.count() < args.cases:
        _seed(args.cases)
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


def _database_url(cases: int, *, reseed: bool) -> str:
    from urllib.parse import urlparse

    base = os.environ.get("BENCH_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    if reseed:
        return fresh_database(DB_NAME)
    import psycopg

    url = urlparse(base)._replace(path=f"/{DB_NAME}").geturl()
    try:
        psycopg.connect(url).close()
        return url
    except psycopg.Error:
        return fresh_database(DB_NAME)


def _seed(count: int) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from cases.models import Case, Subject
    from moderation.models import Policy
    from queues.models import Queue

    started = time.perf_counter()
    policy, _ = Policy.objects.get_or_create(
        code="harassment", defaults={"name": "Harassment", "severity": 3}
    )
    queues = [
        Queue.objects.get_or_create(slug=f"q{n:02d}", defaults={"name": f"Queue {n}"})[0] for n in range(20)
    ]
    now = timezone.now()
    batch = 20_000
    for start in range(Case.objects.count(), count, batch):
        size = min(batch, count - start)
        subjects = Subject.objects.bulk_create(
            Subject(
                kind="message",
                external_id=f"m-{start + n}",
                content_hash="x",
                first_seen_at=now,
                last_seen_at=now,
            )
            for n in range(size)
        )
        Case.objects.bulk_create(
            Case(
                subject=subject,
                policy=policy,
                queue=queues[(start + n) % 20],
                status=Case.Status.OPEN,
                sla_due_at=now + timedelta(hours=((start + n) % 3) - 1),
                routed_at=now,
            )
            for n, subject in enumerate(subjects)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {count:,} cases in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
