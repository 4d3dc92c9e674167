"""Celery signal hooks for operators: request ids into tasks, task metrics, the worker heartbeat, logging.

Connected once when the Celery app is created (`moderation.celery`), so web processes (which only send) and
workers (which run) both have them. Eager tasks (no broker: `make run`, most tests) run inside the caller,
whose request id is already set; they are timed and counted like any other but never beat for a worker.
"""

import logging
import logging.config
import time

from celery.signals import (
    before_task_publish,
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    worker_init,
)

from moderation import metrics
from moderation.request_context import request_id_var, task_var

logger = logging.getLogger("moderation.tasks")

REQUEST_ID = "request_id"
SENT_AT = "sent_at"  # wall clock (epoch seconds) when the message was published: queue wait
HEARTBEAT_CACHE_KEY = "ops:worker-heartbeat"
_HEARTBEAT_EVERY = 5.0  # seconds between cache writes per process, however many tasks it runs

_started: dict[str, tuple[float, object, object]] = {}
_last_beat = 0.0


@setup_logging.connect
def _use_django_logging(**_kwargs) -> None:
    # Connected, Celery leaves logging to us: the worker logs through settings.LOGGING (JSON in production)
    # like the web tier, instead of its own format.
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@worker_init.connect
def _fresh_metrics_files(**_kwargs) -> None:
    metrics.prepare_multiprocess_dir()  # in the worker's main process, before it forks its children


@before_task_publish.connect
def _carry_request_id(headers=None, **_kwargs) -> None:
    if headers is None:
        return
    request_id = request_id_var.get()
    if request_id:
        headers.setdefault(REQUEST_ID, request_id)
    headers.setdefault(SENT_AT, time.time())


@task_prerun.connect
def _task_started(task_id=None, task=None, **_kwargs) -> None:
    if task is None or task_id is None:
        return
    request = task.request
    request_token = task_token = None
    if not request.is_eager:
        # An eager task runs inside its caller, whose request id is already set. Not touching the context
        # matters: an eager failure that propagates to the caller skips task_failure and task_postrun, so
        # nothing would restore it (nor time the task: only its start stays behind, in development).
        carried = getattr(request, REQUEST_ID, None) or (request.headers or {}).get(REQUEST_ID)
        request_token = request_id_var.set(carried) if carried else None
        task_token = task_var.set((task_id, task.name))
    sent_at = getattr(request, SENT_AT, None) or (request.headers or {}).get(SENT_AT)
    if isinstance(sent_at, int | float) and not request.is_eager:
        metrics.TASK_QUEUE_WAIT.labels(task=task.name).observe(max(time.time() - sent_at, 0.0))
    _started[task_id] = (time.perf_counter(), request_token, task_token)
    logger.info("task %s started", task.name)


@task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **_kwargs) -> None:
    if task is None or task_id is None:
        return
    if state != "FAILURE":  # counted by _task_failed
        metrics.TASKS.labels(task=task.name, state=state or "UNKNOWN").inc()
    _finish(task_id, task)
    if not task.request.is_eager:
        beat()


@task_failure.connect
def _task_failed(sender=None, task_id=None, **_kwargs) -> None:
    if sender is None:
        return
    metrics.TASKS.labels(task=sender.name, state="FAILURE").inc()
    metrics.TASK_FAILURES.labels(task=sender.name).inc()
    if task_id is not None:
        _finish(task_id, sender)


def _finish(task_id: str, task) -> None:
    """Time the task and restore the caller's context; the first of failure / postrun to come does it."""
    started, request_token, task_token = _started.pop(task_id, (None, None, None))
    if started is None:
        return
    metrics.TASK_DURATION.labels(task=task.name).observe(time.perf_counter() - started)
    if task_token is not None:
        task_var.reset(task_token)
    if request_token is not None:
        request_id_var.reset(request_token)


def beat(*, force: bool = False) -> None:
    """Tell `/readyz` a worker is alive and running tasks (the shared cache: REDIS_URL in production).
    Throttled per process; a cache outage must never fail the task that just ran."""
    global _last_beat
    now = time.time()
    if not force and now - _last_beat < _HEARTBEAT_EVERY:
        return
    from django.core.cache import cache

    try:
        cache.set(HEARTBEAT_CACHE_KEY, now, timeout=24 * 3600)
        _last_beat = now
    except Exception:
        logger.warning("could not record the worker heartbeat", exc_info=True)


def last_heartbeat() -> float | None:
    from django.core.cache import cache

    value = cache.get(HEARTBEAT_CACHE_KEY)
    return float(value) if isinstance(value, int | float) else None
