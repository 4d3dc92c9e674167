"""A year of a busy platform, for the issue-18 size goals: 10M reports, 1M open cases, 100k authors, 20 queues.

Set-based SQL only (generate_series, INSERT ... SELECT), ids chosen by the generator (so one table can refer to
another's rows by arithmetic instead of a join), foreign-key triggers off for the loading session
(`session_replication_role = replica`: every reference is correct by construction) and the big tables'
secondary indexes dropped before the load and rebuilt after it, which is several times faster than keeping
them up to date row by row. Then the real roll-up services fill what the lead dashboards read for the last 31
days (`rebuild_window`, `refresh_oversight_hours`), as the beat task would have.

Shape (defaults): 4,000,000 cases, of which the newest 1,000,000 are open (opened over the last 30 days, one
of 20 queues by id) and 3,000,000 were decided over the year before (a decision 5 min to 10 h after opening, a
claim audit event 2-40 min before it; every 3rd removed, warned or cleared; every 20th automated by a live rule;
every 25th also has a shadow verdict; 10 % second-reviewed; 1 % appealed); 1 to 4 reports a case (every 500th
case 50 reports and 20 signals) from 5 vendors: about 10.4M reports; 100,000 authors; 50,000 reporters per
vendor; audit rows for every opening, claim and decision: about 10M over the year; enforcements and vendor
callbacks for some decisions; queue snapshots for 30 days.
"""

import time

from _scale import setup_django  # noqa: F401  (re-exported for the scripts)

BIG_TABLES = (
    "cases_subject",
    "cases_case",
    "cases_report",
    "cases_signal",
    "cases_decision",
    "moderation_auditevent",
    "queues_decisiontiming",
)

SECONDARY_INDEXES = """
    SELECT t.relname, ci.relname, pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ci ON ci.oid = i.indexrelid
    WHERE t.relname = ANY(%s) AND NOT i.indisprimary
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""

# %(x)s are parameters; a literal modulo is written %%. `now` is fixed once per run so every row agrees.
LOAD = [
    (
        "subjects",
        """
        INSERT INTO cases_subject (id, kind, external_id, author_id, text, media_urls, language, url, metadata,
                                   content_hash, content_version, first_seen_at, last_seen_at, is_restricted,
                                   is_protected, protected_reason)
        SELECT g, 'message', 'm-' || g, 'user-' || (g * 7919 %% %(authors)s),
               'reported message ' || g || ' you are worthless and everybody knows it, go away ' || md5(g::text),
               '[]', 'en', 'https://platform.example/m/' || g, '{}', md5(g::text), 1, %(now)s, %(now)s, false,
               false, ''
        FROM generate_series(1, %(total)s::bigint) AS g
        """,
    ),
    (
        "cases",
        # Decided cases 1..resolved opened over the year before the last 30 days' share; open ones after.
        """
        INSERT INTO cases_case (id, kind, status, priority, sla_due_at, version, report_count, reporter_count,
                                opened_at, last_reported_at, updated_at, routed_at, enrichment_state, policy_id,
                                queue_id, subject_id, max_score, is_restricted)
        SELECT g, 'report', 'open', floor(random() * 300),
               o + interval '24 hours', 1,
               CASE WHEN g %% 500 = 0 THEN 50 ELSE 1 + (g * 7) %% 4 END,
               CASE WHEN g %% 500 = 0 THEN 50 ELSE 1 + (g * 7) %% 4 END,
               o, o, o, o, '{}', (%(policies)s::bigint[])[1 + g %% 4],
               (%(queues)s::bigint[])[1 + g %% 20], g, random(), false
        FROM generate_series(1, %(total)s::bigint) AS g,
             LATERAL (SELECT CASE WHEN g <= %(resolved)s
                          THEN %(now)s - interval '365 days' + (g::float / %(resolved)s) * interval '364 days'
                          ELSE %(now)s - interval '30 days'
                               + ((g - %(resolved)s)::float / %(open)s) * interval '30 days' END AS o) AS t
        """,
    ),
    (
        "decisions",
        # Decision id = case id for the live decision; shadow verdicts after them.
        """
        INSERT INTO cases_decision (id, case_id, policy_id, action_id, mode, automated, decided_by_id, rule_id,
                                    reason, notes, user_message, author_id, review_state, created_at,
                                    status_before, withdrawn_reason)
        SELECT c.id, c.id, c.policy_id,
               CASE WHEN c.id %% 20 = 1 THEN %(remove)s
                    ELSE (ARRAY[%(remove)s, %(warn)s, %(clear)s]::bigint[])[1 + c.id %% 3] END,
               'live', c.id %% 20 = 1,
               CASE WHEN c.id %% 20 = 1 THEN NULL ELSE (%(agents)s::bigint[])[1 + c.id %% 16] END,
               CASE WHEN c.id %% 20 = 1 THEN %(auto)s END, '', '', '', 'user-' || (c.id * 7919 %% %(authors)s),
               CASE WHEN c.id %% 20 = 1 THEN 'final' WHEN c.id %% 100 < 8 THEN 'confirmed'
                    WHEN c.id %% 100 < 10 THEN 'overturned' ELSE 'final' END,
               LEAST(c.opened_at + (5 + (c.id * 7919) %% 595) * interval '1 minute', %(now)s), 'open', ''
        FROM cases_case c WHERE c.id <= %(resolved)s
        UNION ALL
        SELECT %(total)s + c.id, c.id, c.policy_id, %(remove)s, 'shadow', false, NULL, %(shadow)s, '', '', '',
               '', 'final', c.opened_at + interval '1 minute', 'open', ''
        FROM cases_case c WHERE c.id <= %(resolved)s AND c.id %% 25 = 0
        """,
    ),
    (
        "resolve decided cases",
        """
        UPDATE cases_case c SET status = 'resolved', resolved_at = d.created_at, updated_at = d.created_at
        FROM cases_decision d WHERE d.id = c.id AND c.id <= %(resolved)s
        """,
    ),
    (
        "appeals",
        # 1 % of the decisions, each with its own (resolved) appeal case: ids right after the report cases.
        """
        WITH a AS (
            INSERT INTO cases_case (id, kind, status, priority, version, report_count, reporter_count, opened_at,
                                    updated_at, resolved_at, enrichment_state, policy_id, queue_id, subject_id,
                                    is_restricted)
            SELECT %(total)s + 1 + d.id / 100, 'appeal', 'resolved', 0, 1, 0, 0, d.created_at + interval '1 day',
                   d.created_at + interval '2 days', d.created_at + interval '2 days', '{}', d.policy_id,
                   c.queue_id, c.subject_id, false
            FROM cases_decision d JOIN cases_case c ON c.id = d.case_id
            WHERE d.id <= %(resolved)s AND d.id %% 100 = 3
            RETURNING id
        )
        INSERT INTO cases_appeal (id, vendor_id, external_id, decision_id, appeal_case_id, appellant_id,
                                  statement, payload_hash, state, outcome_reason, created_at, resolved_at)
        SELECT a.id - %(total)s, (%(vendors)s::bigint[])[1], 'ap-' || (a.id - %(total)s),
               (a.id - %(total)s - 1) * 100 + 3, a.id, '', 'not me', 'x',
               CASE WHEN a.id %% 3 = 0 THEN 'overturned' ELSE 'upheld' END, '',
               now() - interval '1 day', now()
        FROM a
        """,
    ),
    (
        "reports",
        """
        INSERT INTO cases_report (vendor_id, external_id, subject_id, subject_version, case_id, policy_id, reason,
                                  reporter_id, comment, received_at, payload, payload_hash, outcome,
                                  carried_content, judged_by_id)
        SELECT (%(vendors)s::bigint[])[1 + (c.id + n) %% 5], 'r-' || c.id || '-' || n, c.id, 1, c.id,
               c.policy_id, 'harassment', 'reporter-' || (c.id * 31 + n) %% 50000, 'keeps messaging me ' || n,
               LEAST(c.opened_at + (n - 1) * interval '3 minutes', %(now)s), '{}', md5(c.id::text),
               CASE WHEN c.id > %(resolved)s THEN 'pending' WHEN c.id %% 3 = 2 AND c.id %% 20 <> 1 THEN 'rejected'
                    ELSE 'upheld' END,
               true, CASE WHEN c.id <= %(resolved)s THEN c.id END
        FROM cases_case c
        CROSS JOIN LATERAL generate_series(1, c.report_count) AS n
        WHERE c.kind = 'report'
        """,
    ),
    (
        "signals",
        """
        INSERT INTO cases_signal (case_id, source, source_name, model, model_version, label, score, dedupe_key,
                                  created_at)
        SELECT c.id, 'scorer', 'bench', 'bench-model', '1', 'label-' || n, random(), 'k-' || n, c.opened_at
        FROM cases_case c CROSS JOIN generate_series(1, 20) AS n
        WHERE c.kind = 'report' AND c.id %% 500 = 0
        UNION ALL
        SELECT c.id, 'scorer', 'builtin', 'profanity-check', '1.9.1', 'profanity', c.max_score, 'builtin',
               c.opened_at
        FROM cases_case c WHERE c.id > %(resolved)s AND c.id <= %(total)s AND c.id %% 500 <> 0
        """,
    ),
    (
        "audit rows",
        # Every opening, the decider's claim (2 to 40 min before deciding) and every decision.
        """
        INSERT INTO moderation_auditevent (at, actor_type, actor_id, actor_label, verb, target_type, target_id,
                                           case_id, data)
        SELECT c.opened_at, 'vendor', '1', 'bench', 'case.opened', 'cases.case', c.id::text, c.id, '{}'::jsonb
        FROM cases_case c WHERE c.kind = 'report'
        UNION ALL
        SELECT d.created_at - (2 + d.id %% 39) * interval '1 minute', 'user', d.decided_by_id::text,
               'agent' || lpad(((d.id %% 16))::text, 2, '0'), 'case.claimed', 'cases.case', d.case_id::text,
               d.case_id, '{}'
        FROM cases_decision d WHERE d.mode = 'live' AND NOT d.automated
        UNION ALL
        SELECT d.created_at, CASE WHEN d.automated THEN 'system' ELSE 'user' END,
               coalesce(d.decided_by_id::text, ''),
               CASE WHEN d.automated THEN 'routing' ELSE 'agent' || lpad(((d.id %% 16))::text, 2, '0') END,
               CASE WHEN d.mode = 'shadow' THEN 'decision.shadow_recorded'
                    WHEN d.automated THEN 'decision.automated' ELSE 'decision.recorded' END,
               'cases.decision', d.id::text, d.case_id, jsonb_build_object('action', d.action_id)
        FROM cases_decision d
        ORDER BY 1
        """,
    ),
    (
        "skips and releases",
        """
        INSERT INTO queues_caseskip (case_id, user_id, created_at)
        SELECT c.id, (%(agents)s::bigint[])[1 + c.id %% 16], c.opened_at + interval '3 minutes'
        FROM cases_case c WHERE c.kind = 'report' AND c.id %% 200 = 7
        """,
    ),
    (
        "reporters",
        """
        INSERT INTO cases_reporter (vendor_id, reporter_id, upheld_count, rejected_count, muted_at, mute_reason)
        SELECT v, 'reporter-' || g, (g * 7) %% 40, (g * 3) %% 15, CASE WHEN g %% 1000 = 0 THEN now() END, ''
        FROM unnest(%(vendors)s::bigint[]) AS v, generate_series(0, 49999) AS g
        """,
    ),
    (
        "enforcements and callbacks",
        """
        INSERT INTO cases_enforcement (decision_id, case_id, kind, state, idempotency_key, payload, attempts,
                                       attempts_before_retry, last_error, created_at)
        SELECT id, case_id, 'apply',
               CASE WHEN id %% 500 = 0 THEN 'failed' WHEN id %% 97 = 0 THEN 'pending' ELSE 'delivered' END,
               'e-' || id, '{}', CASE WHEN id %% 500 = 0 THEN 8 ELSE 1 END, 0, '', created_at
        FROM cases_decision WHERE mode = 'live' AND id %% 20 = 0
        """,
        """
        INSERT INTO cases_vendorcallback (vendor_id, decision_id, case_id, state, idempotency_key, payload,
                                          attempts, attempts_before_retry, last_error, created_at)
        SELECT (%(vendors)s::bigint[])[1], id, case_id, CASE WHEN id %% 900 = 0 THEN 'failed' ELSE 'delivered' END,
               'cb-' || id, '{}', 1, 0, '', created_at
        FROM cases_decision WHERE mode = 'live' AND id %% 30 = 0
        """,
    ),
    (
        "decision timings",
        # What the beat task copies (queues.services.health_snapshots.copy_decision_timings), all at once.
        """
        INSERT INTO queues_decisiontiming (decision_id, case_id, queue_id, agent_id, policy_id, automated,
                                           is_restricted, decided_at, opened_at, first_claimed_at, claimed_at,
                                           sla_due_at)
        SELECT d.id, d.case_id, c.queue_id, d.decided_by_id, d.policy_id, d.automated, c.is_restricted,
               d.created_at, c.opened_at, cl, cl, c.sla_due_at
        FROM cases_decision d JOIN cases_case c ON c.id = d.case_id,
             LATERAL (SELECT CASE WHEN d.automated THEN NULL
                          ELSE d.created_at - (2 + d.id %% 39) * interval '1 minute' END AS cl) AS t
        WHERE d.mode = 'live'
        """,
    ),
    (
        "intake hours and snapshots",
        """
        INSERT INTO queues_queueintakehour (queue_id, hour, opened, reports)
        SELECT c.queue_id, date_trunc('hour', c.opened_at), count(*), sum(c.report_count)
        FROM cases_case c WHERE c.kind = 'report' GROUP BY 1, 2
        """,
        """
        INSERT INTO queues_queuesnapshot (queue_id, at, grain, waiting, in_review, overdue,
                                          oldest_waiting_seconds)
        SELECT q.id, m, 'hour', 48000 + (extract(epoch FROM m)::bigint / 60 + q.id * 13) %% 5000, 10, 300, 86400
        FROM queues_queue q, generate_series(date_trunc('hour', %(now)s - interval '30 days'),
                                             %(now)s - interval '2 days', interval '1 hour') AS m
        UNION ALL
        SELECT q.id, m, 'minute', 48000 + (extract(epoch FROM m)::bigint / 60 + q.id * 13) %% 5000, 10, 300,
               86400
        FROM queues_queue q, generate_series(date_trunc('minute', %(now)s - interval '2 days') + interval '1 hour',
                                             date_trunc('minute', %(now)s) - interval '1 minute',
                                             interval '1 minute') AS m
        """,
    ),
]


def seed_year(*, resolved: int = 3_000_000, open_cases: int = 1_000_000, authors: int = 100_000) -> dict:
    """Seed a migrated, empty database; print each step's time; return the row counts."""
    from datetime import timedelta

    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from cases.models import ModelVersion
    from moderation.audit import Actor
    from moderation.models import Action, Policy, Vendor
    from moderation.services import assign_role
    from queues.models import Queue, RoutingRule

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    remove = Action.objects.create(code="remove", name="Remove", kind=Action.Kind.REMOVE)
    warn = Action.objects.create(code="warn", name="Warn", kind=Action.Kind.WARN)
    clear = Action.objects.create(code="no-violation", name="No violation", kind=Action.Kind.NO_VIOLATION)
    policies = []
    for n, code in enumerate(("harassment", "spam", "hate", "violence")):
        policy = Policy.objects.create(code=code, name=code.title(), severity=1 + n % 5)
        policy.allowed_actions.set([remove, warn, clear])
        policies.append(policy.pk)
    vendors = [
        Vendor.objects.create(slug="bench" if n == 0 else f"vendor{n}", name=f"Vendor {n}").pk
        for n in range(5)
    ]
    queues = [Queue.objects.create(slug=f"q{n:02d}", name=f"Queue {n}", sla_hours=24) for n in range(20)]
    agents = [User.objects.create_user(f"agent{n:02d}", password="bench-pass") for n in range(16)]
    lead = User.objects.create_user("lead00", password="bench-pass")
    assign_role(user=lead, role="lead", actor=Actor.system("bench"))
    overseer = User.objects.create_user("bench-lead")
    for codename in ("view_case", "view_all_queues"):
        overseer.user_permissions.add(Permission.objects.get(codename=codename))
    User.objects.create_superuser("bench-root", "", "x")
    for queue in Queue.objects.all():  # the seeded ones and any a migration made (Appeals)
        queue.members.set([*agents, lead])
    auto = RoutingRule.objects.create(
        name="bench automated",
        position=1,
        state="live",
        automation_mode="live",
        auto_policy_id=policies[0],
        auto_action=remove,
    )
    shadow = RoutingRule.objects.create(name="bench shadow", position=2, state="shadow")
    ModelVersion.objects.create(
        policy_id=policies[0],
        version="bench-1",
        state="shadow",
        algorithm="bench",
        artefact=b"",
        artefact_sha256="",
        threshold=0.7,
    )
    now = timezone.now()
    params = {
        "now": now,
        "resolved": resolved,
        "open": open_cases,
        "total": resolved + open_cases,
        "authors": authors,
        "policies": policies,
        "queues": [q.pk for q in queues],
        "vendors": vendors,
        "agents": [a.pk for a in agents],
        "remove": remove.pk,
        "warn": warn.pk,
        "clear": clear.pk,
        "auto": auto.pk,
        "shadow": shadow.pk,
    }
    print(f"  schema and reference rows: {time.perf_counter() - started:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK triggers while loading
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET work_mem = '256MB'")
        cursor.execute(SECONDARY_INDEXES, [list(BIG_TABLES)])
        indexes = cursor.fetchall()
        for _table, name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        for step, *statements in LOAD:
            began = time.perf_counter()
            for sql in statements:
                cursor.execute(sql, params)
            print(f"  {step}: {time.perf_counter() - began:.0f} s", flush=True)
        for table in ("cases_subject", "cases_case", "cases_decision", "cases_appeal"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        began = time.perf_counter()
        for _table, _name, definition in indexes:
            cursor.execute(definition)
        print(f"  {len(indexes)} secondary indexes rebuilt: {time.perf_counter() - began:.0f} s", flush=True)
        cursor.execute("SET session_replication_role = DEFAULT")
        began = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        print(f"  vacuum analyze: {time.perf_counter() - began:.0f} s", flush=True)
    from cases.services.oversight_rollup import refresh_oversight_hours
    from queues.services.health_rollups import rebuild_window

    began = time.perf_counter()
    rebuild_window(days=31, now=now)
    refresh_oversight_hours(since=now - timedelta(days=31), until=now)
    print(
        f"  31 days of dashboard roll-ups (the real services): {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    counts = {}
    with connection.cursor() as cursor:
        for table in (
            *BIG_TABLES,
            "cases_appeal",
            "queues_timingbucket",
            "cases_decisionhour",
            "cases_reporthour",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
    counts["seconds"] = round(time.perf_counter() - started)
    return counts
