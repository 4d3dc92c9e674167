"""EXPLAIN for the hot queries (PostgreSQL only): which plan the real code's statements get.

On small test data a sequential scan is always cheapest, so a plan is read with `enable_seqscan = off` (and
`enable_sort = off` where an order is asserted): a Seq Scan or a Sort that is still there means no index can
serve the statement, which at 10M reports (bench/generate_scale.py) is the slow page. The statements come
from running the real view or service under `CaptureQueriesContext`, so a change to a selector (keyset paging,
another filter) is checked as it is, without restating its SQL here.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

postgres_only = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="query plans are PostgreSQL's (CI runs on PostgreSQL)",
)

# The tables that grow with reports, cases and time: none of them may be read whole by a page.
BIG_TABLES = frozenset(
    {
        "cases_subject",
        "cases_case",
        "cases_report",
        "cases_signal",
        "cases_decision",
        "cases_appeal",
        "cases_enforcement",
        "cases_vendorcallback",
        "cases_reporter",
        "moderation_auditevent",
        "queues_decisiontiming",
        "queues_queuesnapshot",
        "queues_queueintakehour",
        "queues_timingbucket",
        "queues_agentday",
        "cases_decisionhour",
        "cases_reporthour",
        "cases_performanceday",
    }
)
_EXPLAINABLE = ("SELECT", "WITH", "UPDATE", "INSERT", "DELETE")


def explain(sql: str, params=None, *, no_sort: bool = False) -> dict:
    """The plan PostgreSQL would use, with sequential scans (and, if asked, sorts) priced out. The caller's
    transaction (the test's) keeps the settings local to it."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"SET LOCAL enable_sort = {'off' if no_sort else 'on'}")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (document,) = cursor.fetchone()
    return (document[0] if isinstance(document, list) else document)["Plan"]


def explain_queryset(queryset, *, no_sort: bool = False) -> dict:
    sql, params = queryset.query.sql_with_params()
    return explain(sql, params, no_sort=no_sort)


def nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def seq_scanned(plan: dict) -> set[str]:
    """Big tables the plan reads whole."""
    return {
        node["Relation Name"]
        for node in nodes(plan)
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in BIG_TABLES
    }


def sorted_nodes(plan: dict) -> list[dict]:
    return [node for node in nodes(plan) if node["Node Type"] in ("Sort", "Incremental Sort")]


def indexes_used(plan: dict) -> set[str]:
    return {node["Index Name"] for node in nodes(plan) if "Index Name" in node}


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL the block ran (reads and writes), to explain after it."""
    found: list[str] = []
    with CaptureQueriesContext(connection) as ctx:
        yield found
    found.extend(
        query["sql"]
        for query in ctx.captured_queries
        if query["sql"].lstrip().upper().startswith(_EXPLAINABLE)
    )


def assert_no_big_seq_scan(sqls: list[str]) -> None:
    """Every statement touching a big table is served by an index."""
    assert sqls, "nothing ran"
    offenders = {}
    for sql in sqls:
        scanned = seq_scanned(explain(sql))
        if scanned:
            offenders[sql[:300]] = scanned
    assert not offenders, offenders
