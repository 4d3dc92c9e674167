"""Endpoints for operators and load balancers: `/metrics` (Prometheus, bearer token) and `/readyz`.

`/healthz` (moderation.views) says the process answers; `/readyz` says it can do its work now: the database,
the cache and the broker answer, and a worker ran a task recently. Both are unauthenticated and say only ok or
failed per check: no hostnames, versions, errors or secrets.

`/metrics` answers only a request carrying `Authorization: Bearer $METRICS_TOKEN`. With no METRICS_TOKEN set
it does not exist (404): metrics are never open by default, wherever the app is exposed.
"""

import hmac
import logging
import os
import time

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from moderation.celery_signals import last_heartbeat
from moderation.metrics import MultiProcessFiles
from moderation.ops_collectors import OperationsCollector, open_broker

logger = logging.getLogger(__name__)

_READY_PROBE_KEY = "ops:readyz-probe"


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: event counters (every process's, in multiprocess mode) and state read now."""
    token = settings.METRICS_TOKEN
    presented = request.META.get("HTTP_AUTHORIZATION", "")
    if not token or not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
        raise Http404  # indistinguishable from a URL that does not exist: nothing to probe for
    state = CollectorRegistry(auto_describe=False)
    state.register(OperationsCollector())
    body = _event_metrics() + generate_latest(state)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _event_metrics() -> bytes:
    directories = settings.METRICS_MULTIPROC_DIRS or (
        [os.environ["PROMETHEUS_MULTIPROC_DIR"]] if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else []
    )
    if directories:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(MultiProcessFiles(directories))
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, else 503; each check is "ok", "failed" or "skipped" (no broker configured:
    tasks run in-process, so there is neither a broker nor a worker to wait for)."""
    checks = {"database": _check(_database), "cache": _check(_cache)}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _check(_broker)
        checks["worker"] = _check(_worker)
    else:
        checks["broker"] = checks["worker"] = "skipped"
    ready = all(result != "failed" for result in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "failed", "checks": checks}, status=200 if ready else 503
    )


def _check(probe) -> str:
    try:
        return "ok" if probe() else "failed"
    except Exception:
        logger.warning("readiness check %s failed", probe.__name__, exc_info=True)
        return "failed"


def _database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _cache() -> bool:
    from django.core.cache import cache

    value = str(time.monotonic_ns())
    cache.set(_READY_PROBE_KEY, value, timeout=30)
    return cache.get(_READY_PROBE_KEY) == value


def _broker() -> bool:
    with open_broker() as broker:
        if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            return bool(broker.default_channel.client.ping())
        return broker.connected


def _worker() -> bool:
    beat = last_heartbeat()
    return beat is not None and time.time() - beat <= settings.READY_WORKER_HEARTBEAT_SECONDS
