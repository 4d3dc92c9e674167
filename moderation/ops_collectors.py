"""Figures read at scrape time: queue backlog and SLA breaches, deliveries by state (database), broker queue
lengths (the broker), the worker heartbeat's age (the shared cache).

State, not events: computed when Prometheus asks, so they are right whichever process answers the scrape and
survive any restart (`moderation.metrics` explains the split). Each source is guarded: a broker that does not
answer within BROKER_PROBE_TIMEOUT_SECONDS turns `moderation_broker_up` to 0 instead of failing the scrape.
"""

import logging
import math
import time
from contextlib import contextmanager

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cases.ops_selectors import delivery_states, queue_backlog
from moderation.celery_signals import last_heartbeat

logger = logging.getLogger(__name__)

# Every name the collectors below export (gauges: no suffixes), for the deploy/ checks.
METRIC_NAMES = {
    "moderation_queue_depth",
    "moderation_queue_oldest_age_seconds",
    "moderation_sla_breached_cases",
    "moderation_outbox_messages",
    "moderation_outbox_oldest_pending_age_seconds",
    "moderation_broker_up",
    "moderation_broker_queue_length",
    "moderation_worker_heartbeat_age_seconds",
}

# kombu's Redis transport keeps a queue's priorities in separate lists: the name, then name + \x06\x16 + n.
_REDIS_PRIORITY_STEPS = (0, 3, 6, 9)


class OperationsCollector(Collector):
    def collect(self):
        now = timezone.now()
        yield from self._backlog(now)
        yield from self._deliveries(now)
        yield from self._broker()
        yield self._heartbeat()

    def _backlog(self, now):
        depth = GaugeMetricFamily(
            "moderation_queue_depth", "Unresolved cases in the queue.", labels=["queue", "restricted"]
        )
        oldest = GaugeMetricFamily(
            "moderation_queue_oldest_age_seconds",
            "Age of the oldest unresolved case in the queue (0 when empty).",
            labels=["queue", "restricted"],
        )
        breached = GaugeMetricFamily(
            "moderation_sla_breached_cases",
            "Unresolved cases in the queue past their SLA due time.",
            labels=["queue", "restricted"],
        )
        for row in queue_backlog(now=now):
            labels = [row.queue, "true" if row.restricted else "false"]
            depth.add_metric(labels, row.depth)
            age = (now - row.oldest_opened_at).total_seconds() if row.oldest_opened_at else 0.0
            oldest.add_metric(labels, max(age, 0.0))
            breached.add_metric(labels, row.sla_breached)
        return depth, oldest, breached

    def _deliveries(self, now):
        messages = GaugeMetricFamily(
            "moderation_outbox_messages",
            "Outbox deliveries (enforcements, vendor callbacks) by state.",
            labels=["kind", "state"],
        )
        oldest = GaugeMetricFamily(
            "moderation_outbox_oldest_pending_age_seconds",
            "Age of the oldest delivery still pending (0 when none).",
            labels=["kind"],
        )
        for figures in delivery_states():
            for state, count in figures.by_state.items():
                messages.add_metric([figures.kind, state], count)
            pending = figures.oldest_pending_at
            oldest.add_metric([figures.kind], max((now - pending).total_seconds(), 0.0) if pending else 0.0)
        return messages, oldest

    def _broker(self):
        up = GaugeMetricFamily("moderation_broker_up", "1 if the Celery broker answered this scrape.")
        lengths = GaugeMetricFamily(
            "moderation_broker_queue_length", "Messages waiting in a Celery broker queue.", labels=["queue"]
        )
        if not settings.CELERY_BROKER_URL:  # eager: no broker, nothing waits
            return ()
        try:
            for name, length in broker_queue_lengths().items():
                lengths.add_metric([name], length)
            up.add_metric([], 1)
            return up, lengths
        except Exception:
            logger.warning("broker did not answer the metrics probe", exc_info=True)
            up.add_metric([], 0)
            return (up,)

    def _heartbeat(self):
        age = GaugeMetricFamily(
            "moderation_worker_heartbeat_age_seconds",
            "Seconds since a Celery worker last ran a task (+Inf: never, or the cache lost it).",
        )
        try:
            beat = last_heartbeat()
        except Exception:
            beat = None
        age.add_metric([], max(time.time() - beat, 0.0) if beat is not None else math.inf)
        return age


def broker_queue_names() -> list[str]:
    from moderation.celery import app

    names = {app.conf.task_default_queue or "celery"}
    names |= {queue.name for queue in (app.conf.task_queues or ())}
    for route in (app.conf.task_routes or {}).values() if isinstance(app.conf.task_routes, dict) else ():
        if isinstance(route, dict) and route.get("queue"):
            names.add(route["queue"])
    return sorted(names)


@contextmanager
def open_broker():
    """A connection to the Celery broker that gives up within BROKER_PROBE_TIMEOUT_SECONDS (connect and each
    command): probes must answer a load balancer or a scrape quickly, broker down or not."""
    from kombu import Connection

    timeout = settings.BROKER_PROBE_TIMEOUT_SECONDS
    url = settings.CELERY_BROKER_URL
    options = (
        {"socket_timeout": timeout, "socket_connect_timeout": timeout} if url.startswith("redis") else {}
    )
    with Connection(url, connect_timeout=timeout, transport_options=options) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        yield connection


def broker_queue_lengths() -> dict[str, int]:
    """Messages waiting per queue: LLEN on Redis (all priority lists), a passive declare on AMQP (which
    answers with the count without creating the queue)."""
    url = settings.CELERY_BROKER_URL
    with open_broker() as connection:
        channel = connection.default_channel
        lengths = {}
        for name in broker_queue_names():
            if url.startswith(("redis://", "rediss://")):
                keys = [name if step == 0 else f"{name}\x06\x16{step}" for step in _REDIS_PRIORITY_STEPS]
                pipe = channel.client.pipeline()
                for key in keys:
                    pipe.llen(key)
                lengths[name] = sum(pipe.execute())
            else:
                try:
                    lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:
                    channel = connection.channel()
                    lengths[name] = 0
        return lengths
