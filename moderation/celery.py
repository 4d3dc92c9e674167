"""The Celery app. Eager (in-process) when CELERY_BROKER_URL is unset, a Redis-backed worker otherwise."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moderation.settings")

app = Celery("moderation")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
