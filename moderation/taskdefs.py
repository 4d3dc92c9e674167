"""The one way to declare a Celery task here: ids in, idempotent, acks late, bounded retries, time limits,
and the queue it runs on (`moderation.task_queues`)."""

import random
import threading

from django.db import InterfaceError, OperationalError

from moderation.celery import app
from moderation.task_queues import QUEUES

# Transient infrastructure failures: retried by Celery with exponential backoff and jitter.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError)


def task(
    name: str,
    *,
    queue: str,
    soft_time_limit: int = 60,
    time_limit: int = 90,
    max_retries: int = 5,
    **options,
):
    """`queue` is one of `task_queues.QUEUES` (required: a task on no named queue would wait for a worker
    nobody starts). It is kept as `queue_group`, not Celery's `queue`, so the router can add the deployment's
    prefix when the task is sent (`moderation.celery.route_task`)."""
    if queue not in QUEUES:
        raise ValueError(f"task {name}: queue {queue!r} is not one of {', '.join(QUEUES)}")
    return app.task(
        name=name,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        soft_time_limit=soft_time_limit,
        time_limit=time_limit,
        max_retries=max_retries,
        autoretry_for=TRANSIENT_ERRORS,
        retry_backoff=2,
        retry_backoff_max=300,
        retry_jitter=True,
        ignore_result=True,
        queue_group=queue,
        **options,
    )


def backoff_seconds(attempt: int, *, base: float, cap: float = 600.0) -> float:
    """Exponential backoff with full jitter: uniform in [base·2^(attempt-1) / 2, base·2^(attempt-1)], capped."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


_IMPORT_LOCK = threading.Lock()


def enqueue(name: str, *args, **options):
    """Send the task registered as `name` (`delay`, or `apply_async` with `options`): how services ask for
    background work without importing the task modules, which import them (models <- selectors <- services
    <- tasks). Tasks register under their names at app load (`app.autodiscover_tasks`); eager mode applies as
    for `delay`. Raises what the broker raises: callers decide whether an outage may fail them."""
    if name not in app.tasks:
        # A web process has not imported the task modules yet: the same import a worker does at start. Under
        # ASGI the first requests arrive at once, in threads: Celery imports the modules once, so a second
        # thread would look before the first had finished (NotRegistered, enrichment lost). One at a time.
        with _IMPORT_LOCK:
            if name not in app.tasks:
                app.loader.import_default_modules()
    task_ = app.tasks[name]
    return task_.apply_async(args, **options) if options else task_.delay(*args)
