"""Lead dashboards of cases (PostgreSQL): Outcomes and Reporters & vendors at 1,000,000 cases.

    python bench/dashboard_outcomes.py [--requests 60] [--reseed]

Its own database (`moderation_bench_dasho`, so other benches' extra rows never mix in): bench/_scale.py's
1M cases in 20 queues (reports received when their case opened, over about 11.5 days), then set-based SQL adds
decisions on every 4th case (resolved, reports judged), automated decisions on every 20th, shadow decisions
on every 25th, appeals on 1 in 50 automated decisions, a model's scores on every 10th case, 10,000 reporters
(50 muted), enforcements for every 20th decision (some failing and failed) and vendor callbacks; then one
roll-up refresh over the last 31 days. Requests go through Django's full stack in-process as a lead who is a
member of every queue (and as a superuser). Prints p50/p95 and SQL queries per page. Target: p95 <= 200 ms.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import percentile
from _scale import database_url, setup_django
from pages import measure

# BENCH_DB_NAME: run against a copy (CREATE DATABASE ... TEMPLATE ...) instead of the seeded original.
DB_NAME = os.environ.get("BENCH_DB_NAME", "moderation_bench_dasho")


def seed_outcomes() -> None:
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from cases.models import DecisionHour, ModelVersion
    from cases.services.oversight_rollup import refresh_oversight_hours
    from moderation.audit import Actor
    from moderation.models import Action, Policy
    from moderation.services import assign_role
    from queues.models import Queue, RoutingRule

    if DecisionHour.objects.exists():
        return
    started = time.perf_counter()
    policy = Policy.objects.get(code="harassment")
    remove = Action.objects.get(code="remove")
    warn = Action.objects.get(code="warn")
    clear = Action.objects.create(code="no-violation", name="No violation", kind=Action.Kind.NO_VIOLATION)
    auto = RoutingRule.objects.create(
        name="bench automated",
        position=1,
        state="live",
        automation_mode="live",
        auto_policy=policy,
        auto_action=remove,
    )
    shadow = RoutingRule.objects.create(name="bench shadow", position=2, state="shadow")
    model = ModelVersion.objects.create(
        policy=policy,
        version="bench-1",
        state="shadow",
        algorithm="bench",
        artefact=b"",
        artefact_sha256="",
        threshold=0.7,
    )
    lead = User.objects.create_user("lead00", password="bench-pass")
    assign_role(user=lead, role="lead", actor=Actor.system("bench"))
    for queue in Queue.objects.all():
        queue.members.add(lead)
    agent = User.objects.get(username="agent00")
    p = {
        "policy": policy.pk,
        "remove": remove.pk,
        "warn": warn.pk,
        "clear": clear.pk,
        "auto": auto.pk,
        "shadow": shadow.pk,
        "model": model.pk,
        "agent": agent.pk,
    }
    statements = [
        # Reports arrive when their case opened (the scale seed stamps them all "now").
        "UPDATE cases_report r SET received_at = c.opened_at FROM cases_case c WHERE r.case_id = c.id",
        # People decide every 4th case ten minutes after it opened: remove, warn or no violation.
        """INSERT INTO cases_decision (case_id, policy_id, action_id, mode, automated, decided_by_id, reason, notes,
               user_message, author_id, review_state, created_at)
           SELECT id, %(policy)s, CASE id % 3 WHEN 0 THEN %(remove)s WHEN 1 THEN %(warn)s ELSE %(clear)s END,
                  'live', false, %(agent)s, '', '', '', '', 'final', opened_at + interval '10 minutes'
           FROM cases_case WHERE id % 4 = 0""",
        """INSERT INTO cases_decision (case_id, policy_id, action_id, mode, automated, rule_id, reason, notes,
               user_message, author_id, review_state, created_at)
           SELECT id, %(policy)s, %(remove)s, 'live', true, %(auto)s, '', '', '', '', 'final', opened_at
           FROM cases_case WHERE id % 20 = 1""",
        """INSERT INTO cases_decision (case_id, policy_id, action_id, mode, automated, rule_id, reason, notes,
               user_message, author_id, review_state, created_at)
           SELECT id, %(policy)s, %(remove)s, 'shadow', false, %(shadow)s, '', '', '', '', 'final', opened_at
           FROM cases_case WHERE id % 25 = 0""",
        """UPDATE cases_case SET status = 'resolved', resolved_at = opened_at + interval '10 minutes'
           WHERE id % 4 = 0 OR id % 20 = 1""",
        """UPDATE cases_report r SET outcome = CASE WHEN r.case_id % 3 = 2 THEN 'rejected' ELSE 'upheld' END
           WHERE r.case_id % 4 = 0 OR r.case_id % 20 = 1""",
        """INSERT INTO cases_appeal (vendor_id, external_id, decision_id, appeal_case_id, appellant_id, statement,
               payload_hash, state, outcome_reason, created_at)
           SELECT v.id, 'ap-' || d.id, d.id, d.case_id, '', 'bench', 'x',
                  CASE WHEN d.id % 3 = 0 THEN 'overturned' ELSE 'upheld' END, '', d.created_at
           FROM cases_decision d, (SELECT min(id) AS id FROM moderation_vendor) v
           WHERE d.automated AND d.case_id % 1000 = 1""",
        """INSERT INTO cases_scoringrecord (case_id, model_version_id, scored_at, content_version, feature_hash,
               inputs, score, is_shadow)
           SELECT id, %(model)s, opened_at, 1, md5(id::text), '{}', random(), true
           FROM cases_case WHERE id % 10 = 0""",
        """INSERT INTO cases_reporter (vendor_id, reporter_id, upheld_count, rejected_count, muted_at, mute_reason)
           SELECT (SELECT min(id) FROM moderation_vendor), 'reporter-' || g, (g * 7) % 40, (g * 3) % 15,
                  CASE WHEN g % 200 = 0 THEN now() END, ''
           FROM generate_series(0, 9999) AS g""",
        """INSERT INTO cases_enforcement (decision_id, case_id, kind, state, idempotency_key, payload, attempts,
               attempts_before_retry, last_error, created_at)
           SELECT id, case_id, 'apply',
                  CASE WHEN id % 500 = 0 THEN 'failed' WHEN id % 97 = 0 THEN 'pending' ELSE 'delivered' END,
                  'e-' || id, '{}', CASE WHEN id % 500 = 0 THEN 8 WHEN id % 194 = 0 THEN 2 ELSE 1 END, 0, '',
                  created_at
           FROM cases_decision WHERE mode = 'live' AND id % 20 = 0""",
        """INSERT INTO cases_vendorcallback (vendor_id, decision_id, case_id, state, idempotency_key, payload,
               attempts, attempts_before_retry, last_error, created_at)
           SELECT (SELECT min(id) FROM moderation_vendor), id, case_id,
                  CASE WHEN id % 900 = 0 THEN 'failed' ELSE 'delivered' END, 'cb-' || id, '{}', 1, 0, '', created_at
           FROM cases_decision WHERE mode = 'live' AND id % 30 = 0""",
    ]
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql.replace(" % ", " %% "), p)  # modulo next to named parameters
        cursor.execute("ANALYZE")
    now = timezone.now()
    rolled = time.perf_counter()
    written = refresh_oversight_hours(since=now - timedelta(days=31), until=now)
    print(
        f"seeded decisions, appeals, scores, reporters and deliveries in {rolled - started:.0f} s; "
        f"roll-up of 31 days ({written[0]:,} decision rows, {written[1]:,} report rows) in "
        f"{time.perf_counter() - rolled:.1f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def backfill_performance_days() -> None:
    """A database seeded before the per-rule and per-model roll-up existed gets its 31 days once."""
    from datetime import timedelta

    from django.utils import timezone

    from cases.models import PerformanceDay
    from cases.services.performance_rollup import refresh_performance_days

    if PerformanceDay.objects.exists():
        return
    now, began = timezone.now(), time.perf_counter()
    written = refresh_performance_days(start=now - timedelta(days=31), end=now)
    print(
        f"backfilled 31 days of rule and model roll-ups ({written:,} rows) in {time.perf_counter() - began:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    url = database_url(DB_NAME, reseed=args.reseed, cases=args.cases, queues=20, agents=16)
    setup_django(url)
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment

    seed_outcomes()
    backfill_performance_days()
    setup_test_environment()  # allows the test client's host; nothing else changes
    # Leads are staff, who must enrol a second factor; the bench measures the dashboards, not the login.
    settings.TWO_FACTOR_REQUIRED = "off"
    clients = {}
    for name in ("lead00",):
        clients[name] = Client()
        clients[name].force_login(User.objects.get(username=name))
    root = User.objects.filter(username="bench-root").first() or User.objects.create_superuser(
        "bench-root", "", "x"
    )
    clients["superuser"] = Client()
    clients["superuser"].force_login(root)
    n = args.requests
    shapes = [
        (who, f"{path}?period={period}")
        for who in ("lead00", "superuser")
        for path in ("/cases/oversight/outcomes", "/cases/oversight/sources")
        for period in ("today", "7d", "30d")
    ]
    shapes.append(("lead00", "/queues/"))  # the lead dashboard with the delivery alert
    for who, path in shapes[:2]:
        measure(clients[who], [path])  # warm up
    print(f"{'page':58} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'KB':>6}")
    for who, path in shapes:
        timings, queries, size, _ = measure(clients[who], [path] * n)
        name = f"{who} {path}"
        print(
            f"{name:58} {percentile(timings, 50):8.1f} {percentile(timings, 95):8.1f} {queries:8d} {size / 1024:6.0f}"
        )
    print("target: p95 <= 200 ms")


if __name__ == "__main__":
    main()
