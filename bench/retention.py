"""Retention purge at scale: how long finding due subjects takes, and subjects purged per second.

Seeds its own PostgreSQL database (`moderation_bench_retention`) with set-based SQL: N subjects, each with one
content version, one report and one case. Of the cases 45 % are resolved past a 30-day retention (due), 35 %
resolved within it, 10 % resolved under a keep-forever policy, 10 % still open. Then times the batch's id
query (the planner's choice on this shape), a dry-run preview and a real purge of a few batches.

    python bench/retention.py [--cases 200000] [--batches 5] [--batch-size 100]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import fresh_database
from _scale import setup_django


def seed(cases: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from moderation.models import Policy, Vendor

    call_command("migrate", verbosity=0)
    spam = Policy.objects.create(code="spam", name="Spam", severity=2, retention_days=30)
    keep = Policy.objects.create(code="threats", name="Threats", severity=4, retention_days=None)
    vendor = Vendor.objects.create(slug="bench", name="Bench vendor")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO cases_subject (kind, external_id, author_id, text, media_urls, language, url, metadata,
                                       content_hash, content_version, first_seen_at, last_seen_at, is_restricted,
                                       is_protected, protected_reason)
            SELECT 'message', 'm-' || g, 'user-' || (g %% 5000), 'reported text ' || md5(g::text), '[]', 'en',
                   'https://platform.example/m/' || g, '{}', md5(g::text), 1, now(), now(), false, false, ''
            FROM generate_series(1, %(cases)s) AS g
            """,
            {"cases": cases},
        )
        cursor.execute(
            """
            INSERT INTO cases_subjectversion (subject_id, version, content_hash, author_id, text, media_urls,
                                              language, url, metadata, captured_at)
            SELECT id, 1, content_hash, author_id, text, '[]', 'en', url, '{}', now() FROM cases_subject
            """
        )
        # id % 20: 0-8 due (resolved 31-120 days ago), 9-15 resolved recently, 16-17 keep forever, 18-19 open.
        cursor.execute(
            """
            INSERT INTO cases_case (kind, status, priority, version, report_count, reporter_count, opened_at,
                                    updated_at, enrichment_state, policy_id, subject_id, is_restricted,
                                    resolved_at)
            SELECT 'report', CASE WHEN s.id %% 20 >= 18 THEN 'open' ELSE 'resolved' END, 0, 1, 1, 1,
                   now() - interval '200 days', now(), '{}',
                   CASE WHEN s.id %% 20 IN (16, 17) THEN %(keep)s ELSE %(spam)s END, s.id, false,
                   CASE WHEN s.id %% 20 >= 18 THEN NULL
                        WHEN s.id %% 20 <= 8 THEN now() - (31 + s.id %% 90) * interval '1 day'
                        ELSE now() - (s.id %% 29) * interval '1 day' END
            FROM cases_subject s
            """,
            {"spam": spam.pk, "keep": keep.pk},
        )
        cursor.execute(
            """
            INSERT INTO cases_report (vendor_id, external_id, subject_id, subject_version, case_id, policy_id,
                                      reason, reporter_id, comment, received_at, payload, payload_hash, outcome,
                                      carried_content)
            SELECT %(vendor)s, 'r-' || c.id, c.subject_id, 1, c.id, c.policy_id, 'spam', 'rep-' || c.id %% 997,
                   'look at this', now(), '{"subject": {"text": "reported text"}}', md5(c.id::text), 'pending',
                   true
            FROM cases_case c
            """,
            {"vendor": vendor.pk},
        )
        cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    url = fresh_database("moderation_bench_retention")
    setup_django(url)
    started = time.perf_counter()
    seed(args.cases)
    print(f"seeded {args.cases:,} subjects/cases in {time.perf_counter() - started:.0f} s")

    from django.db import connection
    from django.utils import timezone

    from cases.retention_selectors import due_subjects, purge_preview
    from cases.services.retention import purge_due_content

    now = timezone.now()
    query = due_subjects(now=now).values_list("pk", flat=True)[: args.batch_size]
    timings = []
    for _ in range(5):
        begin = time.perf_counter()
        list(query.all())  # a fresh queryset each time: no result cache
        timings.append((time.perf_counter() - begin) * 1000)
    print(
        f"due-id query (batch of {args.batch_size}): median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms"
    )
    with connection.cursor() as cursor:
        sql, params = query.query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    print("plan (first lines):", *plan[:8], sep="\n  ")
    begin = time.perf_counter()
    purge_preview(now=now, limit=args.batch_size)
    print(f"dry-run preview of {args.batch_size}: {(time.perf_counter() - begin) * 1000:.0f} ms")

    purged = 0
    after = 0
    begin = time.perf_counter()
    for _ in range(args.batches):
        batch, after = purge_due_content(now=now, limit=args.batch_size, after_id=after or 0)
        purged += len(batch)
        if after is None:
            break
    elapsed = time.perf_counter() - begin
    print(
        f"purged {purged} subjects in {elapsed:.1f} s: {purged / elapsed:.0f} subjects/s (one transaction each)"
    )


if __name__ == "__main__":
    main()
