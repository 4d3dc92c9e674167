"""Pipeline benchmark: reports posted at a steady rate → time until each case is scored and routed.

    python bench/pipeline.py [--rate 50] [--seconds 20] [--burst 2000]

PostgreSQL (fresh database `moderation_pipeline_bench`), gunicorn with 2 uvicorn workers, a real Celery worker
(prefork, concurrency 2) on a Redis broker, the built-in text scorer and the demo routing rules. Each report is
about a new subject, so report = case. Latency = case.routed_at - report.received_at (enrichment runs before the
first routing, so a routed case is a scored case; checked). Then a burst phase posts `--burst` reports in
batches of 100 as fast as possible and measures how fast the worker drains them.
"""

import argparse
import os
import subprocess
import sys
import threading
import time

import psycopg
import redis

sys.path.insert(0, os.path.dirname(__file__))
from _harness import ROOT, Gunicorn, django_env, dumps, fresh_database, manage, percentile, post_concurrently

BROKER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TEXTS = [
    "you are a worthless idiot and everyone hates you",
    "limited offer!!! buy followers now, click the link",
    "what a lovely photo of your dog",
    "I will find you and hurt you",
]


def report(n: int, prefix: str) -> dict:
    return {
        "external_id": f"{prefix}-{n}",
        "reason": ["harassment", "spam", "hate", "harassment"][n % 4],
        "subject": {
            "kind": "message",
            "external_id": f"{prefix}-m-{n}",
            "author_id": f"u-{n % 500}",
            "text": TEXTS[n % len(TEXTS)],
            "language": "en",
        },
        "reporter": {"id": f"r-{n}"},
    }


def start_worker(env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "moderation",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process


def wait_routed(database_url: str, prefix: str, count: int, timeout: float) -> list[tuple]:
    """(received_at, routed_at, enriched_at) for every report with external_id prefix, once all are routed."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url.split("?")[0], autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT r.received_at, c.routed_at, c.enriched_at FROM cases_report r "
                "JOIN cases_case c ON c.id = r.case_id WHERE r.external_id LIKE %s",
                (f"{prefix}-%",),
            ).fetchall()
            done = [row for row in rows if row[1] is not None and row[2] is not None]
            if len(done) >= count or time.monotonic() > deadline:
                return done
            time.sleep(0.2)


def steady(port: int, token: str, rate: float, seconds: float, prefix: str) -> float:
    """POST rate*seconds reports on a fixed schedule from two threads; returns the achieved send rate."""
    import http.client

    total = int(rate * seconds)
    start = time.monotonic() + 0.2
    sent = []

    def sender(offset: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for n in range(offset, total, 2):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                conn.request("POST", "/api/v1/reports", body=dumps(report(n, prefix)), headers=headers)
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", "/api/v1/reports", body=dumps(report(n, prefix)), headers=headers)
                conn.getresponse().read()
            sent.append(n)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(sent) / (time.monotonic() - start)


def summarize(label: str, rows: list[tuple], expected: int) -> None:
    latencies = sorted((routed - received).total_seconds() for received, routed, _ in rows)
    scored_first = sum(1 for _, routed, enriched in rows if enriched <= routed)
    span = (max(r[1] for r in rows) - min(r[0] for r in rows)).total_seconds()
    print(
        f"{label}: {len(rows)}/{expected} routed; latency p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; "
        f"throughput {len(rows) / span:.0f} cases/s; scored before first routing: {scored_first}/{len(rows)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=2000)
    args = parser.parse_args()

    database_url = fresh_database("moderation_pipeline_bench")
    redis.Redis.from_url(BROKER).flushdb()
    env = django_env(database_url, CELERY_BROKER_URL=BROKER)
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "seed_demo", "--reports", "0")
    token = manage(env, "create_vendor", "Pipeline bench").strip().splitlines()[-1]

    worker = start_worker(env)
    server = Gunicorn(env, workers=2)
    try:
        post_concurrently(
            server.port, token, "/api/v1/reports", [dumps(report(n, "warm")) for n in range(40)], 2
        )
        wait_routed(database_url, "warm", 40, timeout=60)  # model loaded in both worker processes

        total = int(args.rate * args.seconds)
        achieved = steady(server.port, token, args.rate, args.seconds, "steady")
        rows = wait_routed(database_url, "steady", total, timeout=120)
        print(f"machine: {os.cpu_count()} cores; gunicorn 2 uvicorn workers; celery prefork concurrency 2")
        print(f"steady: {total} reports at {args.rate:g}/s target ({achieved:.1f}/s achieved)")
        summarize("steady", rows, total)

        bodies = [
            dumps({"reports": [report(b * 100 + n, "burst") for n in range(100)]})
            for b in range(args.burst // 100)
        ]
        post_concurrently(server.port, token, "/api/v1/reports/batch", bodies, 2)
        rows = wait_routed(database_url, "burst", args.burst, timeout=300)
        summarize(f"burst of {args.burst} (batches of 100)", rows, args.burst)
        print("target: steady 50 reports/s → p95 <= 1 s")
    finally:
        server.stop()
        worker.terminate()
        worker.wait(20)
        redis.Redis.from_url(BROKER).flushdb()


if __name__ == "__main__":
    main()
