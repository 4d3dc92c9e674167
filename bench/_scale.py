"""A database at review scale for the claim and page benchmarks: 1,000,000 open cases across 20 queues.

Seeded with set-based SQL (generate_series), so it takes a minute or two rather than hours. Every case has
one report; a "heavy" set of cases has 50 reports and 20 signals each; authors have about five cases each,
so the case page's author history is never empty.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import ROOT, fresh_database

HEAVY_EVERY = 500  # every 500th case is heavy: 2,000 heavy cases in 1M


def setup_django(database_url: str) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-only",
        DJANGO_DEBUG="0",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="moderation.settings",
        QUEUE_STATS_CACHE_SECONDS="0",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def database_url(name: str, *, reseed: bool, cases: int, queues: int, agents: int) -> str:
    """The bench database, seeded if new (or `reseed`); returns its URL. Run before `setup_django`."""
    from urllib.parse import urlparse

    import psycopg

    base = (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/postgres"
    )
    parsed = urlparse(base)
    url = parsed._replace(path=f"/{name}").geturl()
    if not reseed:
        try:
            with psycopg.connect(url) as conn:
                (count,) = conn.execute("SELECT count(*) FROM cases_case").fetchone()
                if count >= cases:
                    return url
        except psycopg.Error:
            pass
    url = fresh_database(name)
    setup_django(url)
    seed(cases=cases, queues=queues, agents=agents)
    return url


def seed(*, cases: int, queues: int, agents: int) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    from moderation.models import Action, Policy, Vendor
    from queues.models import Queue

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    remove = Action.objects.create(code="remove", name="Remove", kind=Action.Kind.REMOVE)
    warn = Action.objects.create(code="warn", name="Warn", kind=Action.Kind.WARN)
    policy = Policy.objects.create(code="harassment", name="Harassment", severity=3)
    policy.allowed_actions.set([remove, warn])
    vendor = Vendor.objects.create(slug="bench", name="Bench vendor")
    queue_objs = [
        Queue.objects.create(slug=f"q{n:02d}", name=f"Queue {n}", sla_hours=24) for n in range(queues)
    ]
    users = [User.objects.create_user(f"agent{n:02d}", password="bench-pass") for n in range(agents)]
    for queue in queue_objs:
        queue.members.set(users)
    queue_ids = [queue.pk for queue in queue_objs]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO cases_subject (kind, external_id, author_id, text, media_urls, language, url, metadata,
                                       content_hash, content_version, first_seen_at, last_seen_at, is_restricted,
                                       is_protected, protected_reason)
            SELECT 'message', 'm-' || g, 'user-' || (g %% %(authors)s),
                   'reported message ' || g || ' you are worthless and everybody knows it, go away ' || md5(g::text),
                   '[]', 'en', 'https://platform.example/m/' || g, '{}', md5(g::text), 1, now(), now(), false,
                   false, ''
            FROM generate_series(1, %(cases)s) AS g
            """,
            {"cases": cases, "authors": max(1, cases // 5)},
        )
        cursor.execute(
            """
            INSERT INTO cases_case (kind, status, priority, sla_due_at, version, report_count, reporter_count, opened_at,
                                    last_reported_at, updated_at, routed_at, enrichment_state, policy_id, queue_id,
                                    subject_id, max_score, is_restricted)
            SELECT 'report', 'open', floor(random() * 300), now() + ((s.id %% 48) - 6) * interval '1 hour', 1,
                   CASE WHEN s.id %% %(heavy)s = 0 THEN 50 ELSE 1 END, 1,
                   now() - s.id * interval '1 second', now(), now(), now(), '{}', %(policy)s,
                   (%(queues)s::bigint[])[1 + (s.id %% %(nqueues)s)], s.id, random(), false
            FROM cases_subject s
            """,
            {"heavy": HEAVY_EVERY, "policy": policy.pk, "queues": queue_ids, "nqueues": len(queue_ids)},
        )
        cursor.execute(
            """
            INSERT INTO cases_report (vendor_id, external_id, subject_id, subject_version, case_id, policy_id, reason,
                                      reporter_id, comment, received_at, payload, payload_hash, outcome,
                                      carried_content)
            SELECT %(vendor)s, 'r-' || c.id || '-' || n, c.subject_id, 1, c.id, %(policy)s, 'harassment',
                   'reporter-' || (c.id + n) %% 9973, 'keeps messaging me ' || n, now(), '{}', md5(c.id::text),
                   %(pending)s, true
            FROM cases_case c
            CROSS JOIN LATERAL generate_series(1, CASE WHEN c.id %% %(heavy)s = 0 THEN 50 ELSE 1 END) AS n
            """,
            {"vendor": vendor.pk, "policy": policy.pk, "heavy": HEAVY_EVERY, "pending": "pending"},
        )
        cursor.execute(
            """
            INSERT INTO cases_signal (case_id, source, source_name, model, model_version, label, score,
                                      dedupe_key, created_at)
            SELECT c.id, 'scorer', 'bench', 'bench-model', '1', 'label-' || n, random(), 'k-' || n, now()
            FROM cases_case c CROSS JOIN generate_series(1, 20) AS n
            WHERE c.id %% %(heavy)s = 0
            """,
            {"heavy": HEAVY_EVERY},
        )
        cursor.execute("ANALYZE")
    print(
        f"seeded {cases:,} cases in {queues} queues for {agents} agents in {time.perf_counter() - started:.0f} s"
    )
