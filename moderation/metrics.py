"""Prometheus metrics that count events as they happen (requests, intake, routing, Celery tasks, automation).

Two kinds of figures, two ways of collecting them:

- **Events** (a request answered, reports accepted, a case routed, a task run, an automatic decision) are
  counted here, in the process where they happen. Web workers (gunicorn) and Celery workers (prefork children)
  are separate processes, so with `PROMETHEUS_MULTIPROC_DIR` set every process writes its samples to files in
  that directory and `/metrics` adds up the files of every directory in METRICS_MULTIPROC_DIRS
  (prometheus_client's multiprocess mode). Files are named by process id, so each container (its own pid
  namespace) needs its own directory: docker-compose gives web and worker one each on a shared volume. Without
  it (`make run`, tests) the counts live in this process's default registry.
- **State** (queue depth and oldest age, SLA breaches, deliveries by state, broker queue lengths) is read at
  scrape time from the database and the broker (`moderation.ops_collectors`): the database is already the
  one truth every process shares, and a restarted worker cannot lose or double it.

Labels are bounded and carry no content: a view's URL name (never the raw path), a vendor's or queue's slug,
a rule's id, a task's registered name.
"""

import glob
import os
import time
from pathlib import Path

from django.db import transaction
from prometheus_client import Counter, Histogram, disable_created_metrics
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# `_created` series (a timestamp per label set) double what is stored and answer nothing an operator asks.
disable_created_metrics()

REQUESTS = Counter(
    "moderation_http_requests",
    "HTTP requests answered, by view (URL name), method and status class.",
    ["view", "method", "status"],
)
REQUEST_LATENCY = Histogram(
    "moderation_http_request_duration_seconds",
    "Time from the request entering the app to its answer, by view (URL name).",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REPORTS_ACCEPTED = Counter(
    "moderation_intake_reports",
    "Reports stored by intake (committed; duplicates not counted), by vendor slug.",
    ["vendor"],
)
ENRICHMENT_LATENCY = Histogram(
    "moderation_enrichment_latency_seconds",
    "From a case's first report received to its first routing (enrichment included).",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0),
)
AUTOMATED_DECISIONS = Counter(
    "moderation_automated_decisions",
    "Decisions made (live) or recorded (shadow) by routing rules, by rule id and mode.",
    ["rule", "mode"],
)
TASKS = Counter(
    "moderation_celery_tasks",
    "Celery tasks finished, by task name and state (SUCCESS, FAILURE, RETRY, ...).",
    ["task", "state"],
)
TASK_FAILURES = Counter(
    "moderation_celery_task_failures",
    "Celery tasks that raised (each attempt that failed, retried or not), by task name.",
    ["task"],
)
TASK_DURATION = Histogram(
    "moderation_celery_task_duration_seconds",
    "Time a Celery task ran, by task name.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
TASK_QUEUE_WAIT = Histogram(
    "moderation_celery_task_queue_wait_seconds",
    "Time a Celery task waited between being sent and starting on a worker, by task name.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)


def count_reports_on_commit(*, vendor_slug: str, count: int) -> None:
    """Count `count` new reports once the intake transaction commits (a rolled back one counted nothing)."""
    if count:
        transaction.on_commit(lambda: REPORTS_ACCEPTED.labels(vendor=vendor_slug).inc(count), robust=True)


def observe_first_routing_on_commit(*, opened_at) -> None:
    """Record a case's enrichment latency (opened → first routed) once the routing commits."""
    from django.utils import timezone

    seconds = max((timezone.now() - opened_at).total_seconds(), 0.0)
    transaction.on_commit(lambda: ENRICHMENT_LATENCY.observe(seconds), robust=True)


def count_automated_decision_on_commit(*, rule_id: int, mode: str) -> None:
    transaction.on_commit(lambda: AUTOMATED_DECISIONS.labels(rule=str(rule_id), mode=mode).inc(), robust=True)


def request_metrics(get_response):
    """Count every answer and time it, labelled by the resolved URL name (bounded), never the raw path:
    paths carry ids and whatever a scanner sends, which would make a label per request."""

    def middleware(request):
        started = time.perf_counter()
        response = get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match is not None else "") or "unresolved"
        REQUEST_LATENCY.labels(view=view).observe(time.perf_counter() - started)
        REQUESTS.labels(
            view=view, method=_method(request.method), status=f"{response.status_code // 100}xx"
        ).inc()
        return response

    return middleware


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _method(method: str | None) -> str:
    return method if method in _METHODS else "other"


def exported_metric_names() -> set[str]:
    """Names as Prometheus sees them (counters get `_total`, histograms `_bucket`/`_sum`/`_count`), for the
    deploy/ checks; the scrape-time collectors add theirs (`moderation.ops_collectors.METRIC_NAMES`)."""
    names: set[str] = set()
    for metric in (
        REQUESTS,
        REQUEST_LATENCY,
        REPORTS_ACCEPTED,
        ENRICHMENT_LATENCY,
        AUTOMATED_DECISIONS,
        TASKS,
        TASK_FAILURES,
        TASK_DURATION,
        TASK_QUEUE_WAIT,
    ):
        for family in metric.describe():
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
            else:
                names.add(family.name)
    return names


class MultiProcessFiles(Collector):
    """The samples of every process that wrote to any of `directories` (gunicorn workers, Celery children,
    dead ones included: a counter's past counts stay counted), merged as one."""

    def __init__(self, directories: list[str]):
        self.directories = directories

    def collect(self):
        files = [
            path for directory in self.directories for path in glob.glob(os.path.join(directory, "*.db"))
        ]
        return MultiProcessCollector.merge(files, accumulate=True)


def prepare_multiprocess_dir() -> None:
    """Empty this process group's PROMETHEUS_MULTIPROC_DIR before its workers start (gunicorn's on_starting,
    Celery's worker_init): files of a previous run would otherwise pile up, one per process id ever used.
    Counters restart from zero, which Prometheus' rate() reads as the restart it is."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
