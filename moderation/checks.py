"""Deployment checks of our own, run by `manage.py check --deploy` next to Django's."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def two_factor_is_on(app_configs, **kwargs):
    """Leads and admins can ban people and see every report: a password alone should not be enough."""
    if settings.TWO_FACTOR_REQUIRED == "off":
        return [
            Warning(
                "Two-factor is off: leads and admins log in with a password alone.",
                hint="Set TWO_FACTOR_REQUIRED=privileged (the default) or all.",
                id="moderation.W001",
            )
        ]
    return []


@register(Tags.caches, deploy=True)
def cache_is_shared(app_configs, **kwargs):
    """Web is stateless only if what one process remembers every process sees: login failures, signed-request
    replay marks, the worker heartbeat /readyz reads, the queue counts. A local-memory cache keeps them per
    process, so with several web processes a throttle counts per process and a signed request replays on
    the next one."""
    backends = {alias: config.get("BACKEND", "") for alias, config in settings.CACHES.items()}
    local = sorted(
        alias for alias, backend in backends.items() if backend.endswith(("LocMemCache", "DummyCache"))
    )
    if local:
        return [
            Warning(
                f"The cache {', '.join(local)} is local to each process: login throttling, signed-request "
                "replay protection and the worker heartbeat are not shared between web processes and workers.",
                hint="Set REDIS_URL (a Redis every web process and worker reaches).",
                id="moderation.W002",
            )
        ]
    return []


@register(Tags.compatibility, deploy=True)
def tasks_go_to_a_broker(app_configs, **kwargs):
    """Without a broker, tasks run inside the web request that sent them (eager): enrichment and deliveries
    slow the API down and die with the process; nothing retries them later."""
    if not settings.CELERY_BROKER_URL:
        return [
            Warning(
                "No Celery broker: background tasks run inside web requests, with no retries.",
                hint="Set CELERY_BROKER_URL (redis://... or amqp://...) and run workers (make worker).",
                id="moderation.W003",
            )
        ]
    return []
