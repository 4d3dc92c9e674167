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


GROUP_ALL = """
import time
from cases.models import AcceptedReport
from cases.services.intake_accept_first import group_accepted_reports
started = time.perf_counter()
grouped = 0
while (n := group_accepted_reports()):
    grouped += n
print(grouped, time.perf_counter() - started)
"""


def group_all(env: dict) -> tuple[int, float]:
    """The grouper, as a worker runs it (one process, 500 at a time), until nothing waits: (grouped, seconds)."""
    grouped, seconds = manage(env, "shell", "-c", GROUP_ALL).split()[-2:]
    return int(grouped), float(seconds)


def line(label: str, count: int, seconds: float, raw: float, lat=None, statuses=None) -> str:
    rate = count / seconds
    text = f"{label:<44}{rate:8.0f} reports/s  ({rate / raw:6.1%} of raw)"
    if lat:
        text += f"  p50 {percentile(lat, 50) * 1000:.1f} ms  p95 {percentile(lat, 95) * 1000:.1f} ms"
    if statuses:
        text += f"  statuses {statuses}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=6000, help="single-report POSTs (each way)")
    parser.add_argument("--batches", type=int, default=120, help="batch POSTs of 100 (each way)")
    parser.add_argument("--sequential", type=int, default=500, help="single-report POSTs, one client")
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
    load_before = os.getloadavg()

    raw = raw_insert_rate(database_url, rows=20000)
    lines = []
    server = Gunicorn(env, workers=args.workers, port=args.port or None)

    def post(path, bodies, clients, **kw):
        return post_concurrently(server.port, token, path, bodies, clients, **kw)

    prefer = {"headers": {"Prefer": "respond-async"}}
    try:
        post("/api/v1/reports", [dumps(report(n, "warm")) for n in range(200)], args.clients)
        post("/api/v1/reports", [dumps(report(n, "warm-a")) for n in range(200)], args.clients, **prefer)

        n = args.reports
        s, lat, st = post("/api/v1/reports", [dumps(report(i, "single")) for i in range(n)], args.clients)
        lines.append(line("single POST, plain (201 with case_id):", n, s, raw, lat, st))
        s, lat, st = post(
            "/api/v1/reports", [dumps(report(i, "single-a")) for i in range(n)], args.clients, **prefer
        )
        lines.append(line("single POST, Prefer: respond-async (202):", n, s, raw, lat, st))
        grouped, g = group_all(env)
        lines.append(line(f"  grouper, one process ({grouped} grouped):", grouped, g, raw))
        lines.append(line("  accept + group, end to end:", n, s + g, raw))

        b = args.batches
        batches = [dumps({"reports": [report(i * 100 + j, "batch") for j in range(100)]}) for i in range(b)]
        s, lat, st = post("/api/v1/reports/batch", batches, args.clients)
        lines.append(line("batch POST of 100, plain:", b * 100, s, raw, lat, st))
        batches = [dumps({"reports": [report(i * 100 + j, "batch-a") for j in range(100)]}) for i in range(b)]
        s, lat, st = post("/api/v1/reports/batch", batches, args.clients, **prefer)
        lines.append(line("batch POST of 100, Prefer: respond-async:", b * 100, s, raw, lat, st))
        grouped, g = group_all(env)
        lines.append(line(f"  grouper, one process ({grouped} grouped):", grouped, g, raw))
        lines.append(line("  accept + group, end to end:", b * 100, s + g, raw))

        q = args.sequential
        s, lat, st = post("/api/v1/reports", [dumps(report(i, "seq")) for i in range(q)], 1)
        lines.append(line("sequential single POST, plain:", q, s, raw, lat, st))
        s, lat, st = post("/api/v1/reports", [dumps(report(i, "seq-a")) for i in range(q)], 1, **prefer)
        lines.append(line("sequential single POST, respond-async:", q, s, raw, lat, st))
        group_all(env)
    finally:
        server.stop()
        redis.Redis.from_url(BROKER).flushdb()

    with psycopg.connect(database_url) as conn:
        waiting = conn.execute(
            "SELECT count(*) FROM cases_acceptedreport WHERE grouped_at IS NULL"
        ).fetchone()[0]
        unmatched = conn.execute(
            "SELECT count(*) FROM cases_acceptedreport a LEFT JOIN cases_report r ON r.id = a.id WHERE r.id IS NULL"
        ).fetchone()[0]
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT subject_id FROM cases_case WHERE status <> 'resolved' AND kind = 'report' "
            "GROUP BY subject_id HAVING count(*) > 1) x"
        ).fetchone()[0]
    print(f"machine: {os.cpu_count()} cores; gunicorn uvicorn workers={args.workers}; clients={args.clients}")
    print(f"load average before: {load_before[0]:.1f} {load_before[1]:.1f}; after: {os.getloadavg()[0]:.1f}")
    print(f"raw psycopg executemany (100/txn):           {raw:8.0f} rows/s")
    print("\n".join(lines))
    print(
        f"checks: accepted still waiting {waiting}, accepted without their report {unmatched}, "
        f"subjects with two open cases {doubled}"
    )
    print("targets: single >= 400 reports/s; batch >= 30% of raw")


if __name__ == "__main__":
    main()
