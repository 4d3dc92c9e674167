"""Intake benchmark (PostgreSQL): raw executemany vs single-report POST vs batch POST through gunicorn.

    python bench/intake.py [--reports 6000] [--batches 120] [--clients 16] [--database moderation_bench]

Uses a fresh database (`--database`, default `moderation_bench`) on the server of $BENCH_DATABASE_URL / $DATABASE_URL (default:
local PostgreSQL as postgres). Celery goes to a Redis broker ($BENCH_REDIS_URL, default db 14, flushed) so intake pays the real enqueue
cost while no worker competes for the 2 cores. Prints rates and each as a ratio of the raw insert rate.
"""

import argparse
import json
import os
import random
import sys
import time

import psycopg
import redis

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Gunicorn, django_env, dumps, fresh_database, manage, percentile, post_concurrently

BROKER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def report(n: int, prefix: str) -> dict:
    """Report n; reports 2k and 2k+1 are about the same subject with the same content (a second report)."""
    return {
        "external_id": f"{prefix}-{n}",
        "reason": random.choice(["spam", "harassment", "hate"]),
        "subject": {
            "kind": "message",
            "external_id": f"{prefix}-msg-{n // 2}",
            "author_id": f"user-{n // 2 % 5000}",
            "text": "you are worthless and everybody knows it " * 12,
            "language": "en",
            "url": f"https://platform.example/m/{n // 2}",
            "metadata": {"channel": "dm", "thread": n // 2 % 97},
        },
        "reporter": {"id": f"reporter-{n % 3000}"},
        "comment": "keeps messaging me after I blocked them",
        "occurred_at": "2026-11-20T09:30:00Z",
        "scores": [{"label": "toxicity", "score": 0.8}],
    }


def raw_insert_rate(database_url: str, rows: int) -> float:
    """executemany of report-like rows, 100 per transaction: the ceiling for this machine."""
    payload = json.dumps(report(0, "raw"))
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "CREATE TABLE bench_raw (id bigserial primary key, vendor_id bigint, external_id varchar(200), "
            "reason varchar(64), payload jsonb, received_at timestamptz default now(), "
            "UNIQUE (vendor_id, external_id))"
        )
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            for start in range(0, rows, 100):
                cur.executemany(
                    "INSERT INTO bench_raw (vendor_id, external_id, reason, payload) VALUES (%s, %s, %s, %s)",
                    [(1, f"raw-{n}", "spam", payload) for n in range(start, start + 100)],
                )
                conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw")
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=6000, help="single-report POSTs")
    parser.add_argument("--batches", type=int, default=120, help="batch POSTs of 100")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="moderation_bench", help="dropped and created afresh")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (0: any free one)")
    args = parser.parse_args()

    database_url = fresh_database(args.database)
    env = django_env(database_url, CELERY_BROKER_URL=BROKER)
    redis.Redis.from_url(BROKER).flushdb()
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "seed_demo", "--reports", "0")
    token = manage(env, "create_vendor", "Bench vendor", "--reliability", "0.7").strip().splitlines()[-1]

    raw = raw_insert_rate(database_url, rows=20000)
    server = Gunicorn(env, workers=args.workers, port=args.port or None)
    try:
        warm = [dumps(report(n, "warm")) for n in range(200)]
        post_concurrently(server.port, token, "/api/v1/reports", warm, args.clients)

        singles = [dumps(report(n, "single")) for n in range(args.reports)]
        single_s, single_lat, single_status = post_concurrently(
            server.port, token, "/api/v1/reports", singles, args.clients
        )
        batches = [
            dumps({"reports": [report(b * 100 + n, "batch") for n in range(100)]})
            for b in range(args.batches)
        ]
        batch_s, batch_lat, batch_status = post_concurrently(
            server.port, token, "/api/v1/reports/batch", batches, args.clients
        )
    finally:
        server.stop()
        redis.Redis.from_url(BROKER).flushdb()

    single_rate = args.reports / single_s
    batch_rate = args.batches * 100 / batch_s
    print(f"machine: {os.cpu_count()} cores; gunicorn uvicorn workers={args.workers}; clients={args.clients}")
    print(f"raw psycopg executemany (100/txn):  {raw:8.0f} rows/s")
    print(
        f"single POST /api/v1/reports:        {single_rate:8.0f} reports/s  ({single_rate / raw:5.1%} of raw)  "
        f"p50 {percentile(single_lat, 50) * 1000:.1f} ms  p95 {percentile(single_lat, 95) * 1000:.1f} ms  "
        f"statuses {single_status}"
    )
    print(
        f"batch POST (100/request):           {batch_rate:8.0f} reports/s  ({batch_rate / raw:5.1%} of raw)  "
        f"p50 {percentile(batch_lat, 50) * 1000:.1f} ms  p95 {percentile(batch_lat, 95) * 1000:.1f} ms  "
        f"statuses {batch_status}"
    )
    print("targets: single >= 400 reports/s; batch >= 30% of raw")


if __name__ == "__main__":
    main()
