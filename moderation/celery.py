"""The Celery app. Eager (in-process) when CELERY_BROKER_URL is unset, a Redis-backed worker otherwise."""

import os

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moderation.settings")

app = Celery("moderation")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

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
