"""Velocity counter benchmark: recording into Redis, and reading every counter of a case (Redis vs database).

    python bench/velocity.py [--reports 200000] [--authors 2000] [--reads 500] [--record 20000]

Recording: `record_reports` of synthetic reports, one call per report (batch of 1, what a single-report
request costs) and in batches of 500 (a batch request: one pipeline); reports/s for each and their ratio.
Reading: a PostgreSQL database (`moderation_bench_velocity`, created afresh) seeded with `--reports` reports
over the last 24 h on `--authors` authors (about ten subjects each, from 20 vendors), the same history
recorded into Redis; then, for random subjects, `counters_at` (the database twin: five aggregate queries),
`live_counters` with the vendors known (as routing reads: one Redis round trip) and without (as the case page
reads: plus the subject's vendors from the database); p50/p95 in ms and the ratios.
Redis: $BENCH_REDIS_URL (default redis://127.0.0.1:6379/13), under a prefix of its own, removed at the end.
"""

import argparse
import os
import random
import sys
import time
import uuid
from datetime import timedelta

sys.path.insert(0, os.path.dirname(__file__))
from _harness import percentile

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
DB_NAME = "moderation_bench_velocity"


def seed_history(*, reports: int, authors: int, seed: int = 5) -> list:
    """`reports` reports over the last 24 h, on ~10 subjects per author, 20 vendors; returns the subjects."""
    from django.db import connection
    from django.utils import timezone

    from cases.models import Case, Report, Subject
    from moderation.models import Policy, Vendor

    rng = random.Random(seed)
    now = timezone.now()
    policy, _ = Policy.objects.get_or_create(
        code="bench-spam", defaults={"name": "Bench spam", "severity": 1}
    )
    vendors = [
        Vendor.objects.get_or_create(slug=f"bench-v{n}", defaults={"name": f"v{n}"})[0] for n in range(20)
    ]
    subjects = Subject.objects.bulk_create(
        [
            Subject(kind="post", external_id=f"bench-{uuid.uuid4().hex}", author_id=f"author-{n % authors}")
            for n in range(authors * 10)
        ]
    )
    first_seen = {subject.pk: now - timedelta(seconds=rng.uniform(0, 3 * 86400)) for subject in subjects}
    for subject in subjects:
        subject.first_seen_at = first_seen[subject.pk]
    Subject.objects.bulk_update(subjects, ["first_seen_at"], batch_size=2000)
    cases = Case.objects.bulk_create([Case(subject=subject, policy=policy) for subject in subjects])
    rows = []
    for n in range(reports):
        index = min(int(rng.paretovariate(1.2)) - 1, len(cases) - 1)  # a few loud subjects, a long tail
        case = cases[(index * 7919 + n % 3) % len(cases)]
        rows.append(
            Report(
                vendor=vendors[n % 20],
                external_id=f"r-{uuid.uuid4().hex}",
                subject_id=case.subject_id,
                subject_version=1,
                case=case,
                policy=policy,
                reason=policy.code,
                reporter_id=f"u{rng.randrange(reports)}",
                payload={},
                payload_hash="x",
            )
        )
    stored = Report.objects.bulk_create(rows, batch_size=2000)
    # received_at is set on insert (auto_now_add): spread the history over the last day afterwards.
    if connection.vendor == "postgresql":  # one statement instead of 100 CASE-WHEN batches
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE cases_report SET received_at = %s - random() * interval '1 day' WHERE id >= %s",
                [now, min(report.pk for report in stored)],
            )
    else:
        for report in stored:
            report.received_at = now - timedelta(seconds=rng.uniform(0, 86400))
        Report.objects.bulk_update(stored, ["received_at"], batch_size=2000)
    return subjects


def record_history() -> int:
    """Record every stored report into the live counters, 500 per pipeline (what intake would have done)."""
    from cases.counters import ReportEvent, record_reports
    from cases.models import Report

    rows = Report.objects.values_list(
        "received_at", "subject_id", "subject__author_id", "vendor_id", "reporter_id"
    )
    batch, total = [], 0
    for row in rows.iterator(chunk_size=2000):
        batch.append(ReportEvent(*row))
        if len(batch) == 500:
            record_reports(batch)
            total += len(batch)
            batch = []
    record_reports(batch)
    return total + len(batch)


def recording_rate(count: int, batch: int) -> float:
    """Synthetic reports recorded per second, `batch` per call."""
    from django.utils import timezone

    from cases.counters import ReportEvent, record_reports

    now = timezone.now()
    events = [ReportEvent(now, n % 5000, f"rec-author-{n % 997}", n % 20, f"u{n}") for n in range(count)]
    began = time.perf_counter()
    for start in range(0, count, batch):
        record_reports(events[start : start + batch])
    return count / (time.perf_counter() - began)


def read_latencies(subjects: list, reads: int, *, mode: str, seed: int = 9) -> list[float]:
    """Seconds per read of every counter of one subject. Modes: `database` (the twin), `redis` (as routing
    reads: the case's vendors already known), `redis+vendors` (as the case page reads: their look-up too)."""
    from django.utils import timezone

    from cases.counters import counters_at, live_counters
    from cases.models import Report

    rng = random.Random(seed)
    picks = [rng.choice(subjects) for _ in range(reads)]
    vendors = {
        subject.pk: list(
            Report.objects.filter(subject=subject).values_list("vendor_id", flat=True).distinct()
        )
        for subject in picks
    }
    times = []
    for subject in picks:
        began = time.perf_counter()
        if mode == "database":
            counters_at(subject, timezone.now())
        elif mode == "redis":
            live_counters(subject, vendor_ids=vendors[subject.pk])
        else:
            live_counters(subject)
        times.append(time.perf_counter() - began)
    return sorted(times)


def run(*, reports: int, authors: int, reads: int, record: int) -> dict:
    """Seed, record and measure in the current database (and Redis, when `VELOCITY_REDIS_URL` is set);
    returns the figures (also printed). Removes its Redis keys (its own prefix) at the end."""
    from django.conf import settings

    live = bool(settings.VELOCITY_REDIS_URL)
    figures: dict[str, float] = {}
    try:
        if live:
            one = recording_rate(min(record, 5000), 1)
            many = recording_rate(record, 500)
            figures.update(record_batch_1=one, record_batch_500=many)
            print(f"record, batch of 1:   {one:10,.0f} reports/s")
            print(f"record, batch of 500: {many:10,.0f} reports/s  ({many / one:.1f}x)")
        began = time.perf_counter()
        subjects = seed_history(reports=reports, authors=authors)
        print(
            f"seeded {reports:,} reports on {len(subjects):,} subjects in {time.perf_counter() - began:.1f}s"
        )
        twin = read_latencies(subjects, reads, mode="database")
        figures.update(twin_p50_ms=percentile(twin, 50) * 1000, twin_p95_ms=percentile(twin, 95) * 1000)
        print(
            f"all counters, database:         p50 {figures['twin_p50_ms']:6.2f} ms  p95 {figures['twin_p95_ms']:6.2f} ms"
        )
        if live:
            record_history()
            for mode, name in (("redis", "live"), ("redis+vendors", "page")):
                times = read_latencies(subjects, reads, mode=mode)
                p50, p95 = percentile(times, 50) * 1000, percentile(times, 95) * 1000
                figures.update({f"{name}_p50_ms": p50, f"{name}_p95_ms": p95})
                print(
                    f"all counters, {mode + ':':18s}p50 {p50:6.2f} ms  p95 {p95:6.2f} ms"
                    f"  (database p95 / this p95: {figures['twin_p95_ms'] / p95:.1f}x)"
                )
    finally:
        if live:
            import redis

            client = redis.Redis.from_url(settings.VELOCITY_REDIS_URL)
            keys = list(client.scan_iter(f"{settings.VELOCITY_KEY_PREFIX}:*", count=5000))
            for start in range(0, len(keys), 5000):
                client.delete(*keys[start : start + 5000])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--authors", type=int, default=2_000)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--record", type=int, default=20_000)
    args = parser.parse_args()

    from _harness import django_env, fresh_database, manage
    from _scale import setup_django

    url = fresh_database(DB_NAME)
    manage(django_env(url), "migrate", "-v0")
    os.environ.update(
        VELOCITY_REDIS_URL=REDIS_URL, VELOCITY_KEY_PREFIX=f"bench-velocity-{uuid.uuid4().hex[:8]}"
    )
    setup_django(url)
    run(reports=args.reports, authors=args.authors, reads=args.reads, record=args.record)


if __name__ == "__main__":
    main()
