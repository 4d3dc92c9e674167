"""The Celery app. Eager (in-process) when CELERY_BROKER_URL is unset, workers on Redis or RabbitMQ otherwise.

Every task goes to the queue its declaration names (`moderation.taskdefs.task(queue=...)`), with the
deployment's `CELERY_QUEUE_PREFIX` in front; workers serve the queues `-Q` lists (`make worker QUEUES=...`)."""

import os

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moderation.settings")

app = Celery("moderation")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def route_task(name, args, kwargs, options, task=None, **_kwargs):
    """The router (`task_routes`): the task's declared queue, prefixed. Read when a task is sent, so a prefix
    changed at run time (parallel test runs on one broker) applies. Beat sends by name: looked up then."""
    declared = task if task is not None else app.tasks.get(name)
    group = getattr(declared, "queue_group", None)
    if group is None:
        return (
            None  # Celery's own tasks: the default queue (no task of ours is there: tests/moderation/workers)
        )
    return {"queue": (app.conf.queue_prefix or "") + group}


app.conf.task_routes = (route_task,)

# Request ids into tasks, task metrics, the worker heartbeat, Django's logging in workers.
import moderation.celery_signals  # noqa: E402, F401


@task_postrun.connect
def _drop_broken_or_old_connections(task=None, **_kwargs) -> None:
    # With CELERY_DB_REUSE_MAX set, workers keep their database connection between tasks. Django drops a
    # connection that saw an error or is older than CONN_MAX_AGE only at request boundaries; a task is ours.
    # Not for eager tasks: they run inside the caller's request or transaction, whose connection it is.
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()
