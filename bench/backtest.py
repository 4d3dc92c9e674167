"""Backtest benchmark (PostgreSQL): replaying one rule over the cases of the last 30 days.

    python bench/backtest.py [--cases 50000] [--days 30] [--baseline-sample 500] [--reseed]

Seeds `moderation_bench_rules` (once; --reseed to redo): `--cases` report cases spread over `--days` days,
each with a report, two scorer signals (one created before the case was routed, one after) and, for every
third case, a human decision (every 20th of those overturned on appeal). Then times `backtest_rule` (bulk
reads, replay in Python) and, as the baseline measured in the same run, the per-case way: `case_facts(case,
as_of=…)` + `rule_matches` for a sample, extrapolated to all cases. Prints cases/s, SQL queries and the ratio.
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(__file__))
from _scale import setup_django

DB_NAME = "moderation_bench_rules"


def fresh_url(reseed: bool) -> tuple[str, bool]:
    from urllib.parse import urlparse

    import psycopg

    base = (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/postgres"
    )
    parsed = urlparse(base)
    admin_url = parsed._replace(path="/postgres", query="").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if reseed and exists:
            conn.execute(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return parsed._replace(path=f"/{DB_NAME}").geturl(), not exists


def seed(*, cases: int, days: int) -> None:
    from django.core.management import call_command
    from django.db.models import OuterRef, Subquery
    from django.utils import timezone

    from cases.models import Appeal, Case, Decision, Report, Signal, Subject
    from moderation.models import Action, Policy, Vendor

    call_command("migrate", verbosity=0)
    rng = random.Random(14)
    now = timezone.now()
    policy = Policy.objects.create(code="harassment", name="Harassment", severity=3)
    remove = Action.objects.create(code="remove", name="Remove", kind="remove", enforcement_type="x")
    dismiss = Action.objects.create(code="dismiss", name="Dismiss", kind="no_violation", enforcement_type="x")
    vendor = Vendor.objects.create(name="Acme", slug="acme")
    batch = 5000
    for start in range(0, cases, batch):
        size = min(batch, cases - start)
        subjects = Subject.objects.bulk_create(
            Subject(kind="message", external_id=f"m{start + n}", author_id=f"a{(start + n) % 997}", text="x")
            for n in range(size)
        )
        opened = [now - timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(size)]
        made = Case.objects.bulk_create(
            Case(subject=subject, policy=policy, status="resolved") for subject in subjects
        )
        for case, at in zip(made, opened, strict=True):
            case.opened_at, case.routed_at = at, at + timedelta(seconds=5)
        Case.objects.bulk_update(made, ["opened_at", "routed_at"])
        Report.objects.bulk_create(
            Report(
                vendor=vendor,
                external_id=f"r{case.pk}",
                case=case,
                subject=case.subject,
                policy=policy,
                reason="harassment",
                subject_version=1,
                payload={},
                payload_hash="x",
            )
            for case in made
        )
        signals = []
        for case in made:
            for n in range(2):
                signals.append(
                    Signal(
                        case=case,
                        source="scorer",
                        source_name="builtin",
                        label="toxicity",
                        score=rng.random(),
                        dedupe_key=f"{case.pk}:{n}",
                    )
                )
        Signal.objects.bulk_create(signals)
        # One signal before routing (the rule saw it), one a minute after (a backtest must not).
        opened_at = Subquery(Case.objects.filter(pk=OuterRef("case_id")).values("opened_at")[:1])
        Signal.objects.filter(case__in=made, dedupe_key__endswith=":0").update(created_at=opened_at)
        Signal.objects.filter(case__in=made, dedupe_key__endswith=":1").update(
            created_at=opened_at + timedelta(seconds=65)
        )
        decided = [case for n, case in enumerate(made) if n % 3 == 0]
        decisions = Decision.objects.bulk_create(
            Decision(case=case, policy=policy, action=remove if rng.random() < 0.6 else dismiss)
            for case in decided
        )
        appeal_cases = Case.objects.bulk_create(
            Case(subject=decision.case.subject, policy=policy, kind="appeal") for decision in decisions[::20]
        )
        Appeal.objects.bulk_create(
            Appeal(
                vendor=vendor,
                external_id=f"ap{decision.pk}",
                decision=decision,
                appeal_case=appeal_case,
                statement="no",
                payload_hash="x",
                state="overturned",
            )
            for decision, appeal_case in zip(decisions[::20], appeal_cases, strict=True)
        )
    print(f"seeded {cases} cases over {days} days")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--baseline-sample", type=int, default=500)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    url, new = fresh_url(args.reseed)
    setup_django(url)
    if new:
        seed(cases=args.cases, days=args.days)

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.models import Case
    from queues.backtest import backtest_rule
    from queues.matching import rule_matches
    from queues.models import RoutingRule, ScoreCondition
    from queues.selectors import case_facts

    rule, _ = RoutingRule.objects.get_or_create(name="bench toxic", defaults={"state": "draft"})
    ScoreCondition.objects.get_or_create(
        rule=rule, source="scorer", label="toxicity", defaults={"threshold": 0.8}
    )

    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        result = backtest_rule(rule, days=args.days)
        elapsed = time.perf_counter() - began
    print(
        f"backtest_rule: {result.cases} cases in {elapsed:.2f} s = {result.cases / elapsed:,.0f} cases/s, "
        f"{len(queries.captured_queries)} SQL queries; matched {result.matched}, tp {result.tp} fp {result.fp} "
        f"fn {result.fn} unlabelled {result.unlabelled}"
    )

    rule = RoutingRule.objects.prefetch_related("policies", "vendors", "score_conditions").get(pk=rule.pk)
    sample = list(
        Case.objects.filter(kind="report").select_related("subject", "policy")[: args.baseline_sample]
    )
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        for case in sample:
            rule_matches(rule, case_facts(case, as_of=case.routed_at))
        per_case = (time.perf_counter() - began) / len(sample)
    print(
        f"baseline (case_facts per case): {1 / per_case:,.0f} cases/s, "
        f"{len(queries.captured_queries) / len(sample):.1f} SQL queries a case; "
        f"backtest_rule is {per_case * result.cases / elapsed:.1f}x faster"
    )


if __name__ == "__main__":
    main()
