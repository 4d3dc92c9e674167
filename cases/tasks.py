"""Celery tasks for cases: thin, idempotent wrappers around the enrichment and routing services."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from cases.detection import media
from cases.detection.enrichment import EnrichmentOutcome, enrich_case
from cases.models import Case, Enforcement
from cases.services import enforcement
from cases.services.background import enqueue_case_enrichment
from moderation.taskdefs import backoff_seconds, task
from queues.selectors import forget_routing_config
from queues.services import route_case, route_locked_case

logger = logging.getLogger(__name__)


def enrich_then_route(case_id: int, *, give_up: bool = False) -> EnrichmentOutcome | None:
    """Detection stores the case's new signals and routing places it on them, under one lock, in one
    transaction (detection never imports routing: it is handed in here)."""
    try:
        return enrich_case(case_id=case_id, give_up=give_up, route=route_locked_case)
    except IntegrityError:
        # Most likely a queue deleted within the routing cache's lifetime: reload the rules, try once more.
        forget_routing_config()
        return enrich_case(case_id=case_id, give_up=give_up, route=route_locked_case)


def enrich_and_route(case_id: int, *, attempt: int = 0, eager: bool = False) -> None:
    """Enrich what is missing, route on what is known, and schedule another try for sources that may recover."""
    last_attempt = attempt >= settings.ENRICHMENT_MAX_ATTEMPTS
    outcome = enrich_then_route(case_id, give_up=last_attempt)
    if outcome is None:
        return  # gone or already resolved
    if outcome.retryable:
        if eager:
            # No broker (development): nothing would run the retry later; the case is routed regardless.
            logger.warning(
                "case %s: sources %s failed; not retried in eager mode", case_id, list(outcome.retryable)
            )
            return
        countdown = backoff_seconds(attempt + 1, base=settings.ENRICHMENT_RETRY_BASE_SECONDS)
        enrich_case_again.apply_async((case_id, attempt + 1), countdown=countdown)


@task("cases.enrich_cases", soft_time_limit=120, time_limit=150)
def enrich_cases(self, case_ids: list[int]) -> None:
    for case_id in case_ids:
        enrich_and_route(case_id, eager=bool(self.request.is_eager))


@task("cases.fetch_case_media", soft_time_limit=120, time_limit=150)
def fetch_case_media(self, case_ids: list[int]) -> int:
    return media.fetch_case_media(case_ids)


@task("cases.enrich_case_again")
def enrich_case_again(self, case_id: int, attempt: int) -> None:
    enrich_and_route(case_id, attempt=attempt, eager=bool(self.request.is_eager))


@task("cases.sweep_unrouted_cases", soft_time_limit=240, time_limit=300)
def sweep_unrouted_cases(self) -> int:
    """Beat: cases still unrouted after a grace period (worker down, broker lost the message) are routed on
    what is known now and get their enrichment enqueued again."""
    cutoff = timezone.now() - timedelta(seconds=settings.ROUTING_GRACE_SECONDS)
    stuck = list(
        Case.objects.filter(routed_at__isnull=True, opened_at__lt=cutoff)
        .exclude(status=Case.Status.RESOLVED)
        .order_by("opened_at")
        .values_list("pk", flat=True)[:500]
    )
    for case_id in stuck:
        route_case(case_id=case_id)
    if stuck:
        logger.warning("swept %d unrouted case(s)", len(stuck))
        enqueue_case_enrichment(stuck)
    return len(stuck)


@task("cases.deliver_enforcement", soft_time_limit=60, time_limit=90)
def deliver_enforcement(self, enforcement_id: int, attempt: int = 1) -> str:
    """Deliver one enforcement; a transient failure schedules the next attempt with backoff and jitter.

    Without a broker (development) there is no later: one attempt, and a failure is shown to leads with a
    Retry button at once.
    """
    final = bool(self.request.is_eager) or attempt >= settings.ENFORCEMENT_MAX_ATTEMPTS
    outcome = enforcement.deliver_enforcement(enforcement_id=enforcement_id, final_attempt=final)
    if outcome.retry:
        countdown = backoff_seconds(attempt, base=settings.ENFORCEMENT_RETRY_BASE_SECONDS, cap=3600)
        Enforcement.objects.filter(pk=enforcement_id).update(
            next_attempt_at=timezone.now() + timedelta(seconds=countdown)
        )
        deliver_enforcement.apply_async((enforcement_id, attempt + 1), countdown=countdown)
    return outcome.state


@task("cases.sweep_pending_enforcements", soft_time_limit=120, time_limit=150)
def sweep_pending_enforcements(self) -> int:
    """Beat: enforcements left pending (broker lost the message, worker died mid-attempt) are enqueued again.

    Re-sending is safe: same body, same idempotency key.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ENFORCEMENT_STALE_SECONDS)
    # Lost: never attempted long after creation, or a scheduled retry long overdue. One merely waiting for
    # its (possibly hour-long) backoff is left alone.
    pending = list(
        Enforcement.objects.filter(state=Enforcement.State.PENDING)
        .filter(
            Q(last_attempt_at__isnull=True, created_at__lt=stale)
            | Q(next_attempt_at__lt=stale)
            | Q(next_attempt_at__isnull=True, last_attempt_at__lt=stale)
        )
        .order_by("created_at")
        .values_list("pk", "attempts")[:500]
    )
    for enforcement_id, attempts in pending:
        # Continue the count: the sweeper never grants more than ENFORCEMENT_MAX_ATTEMPTS in all.
        enforcement.enqueue_delivery(enforcement_id, attempt=attempts + 1)
    return len(pending)


@task("cases.lift_expired_decisions", soft_time_limit=120, time_limit=150)
def lift_expired_decisions(self) -> int:
    """Beat: send the reversing enforcement of timed actions whose duration is over."""
    from cases.services.effects import lift_expired_decisions as lift

    return lift()


@task("cases.deliver_vendor_notification", soft_time_limit=60, time_limit=90)
def deliver_vendor_notification(self, notification_id: int, attempt: int = 1) -> None:
    """Tell a vendor a case's outcome; transient failures retry with backoff (one attempt without a broker)."""
    from cases.services.notifications import deliver_vendor_notification as deliver

    final = bool(self.request.is_eager) or attempt >= settings.ENFORCEMENT_MAX_ATTEMPTS
    if deliver(notification_id=notification_id, final_attempt=final):
        countdown = backoff_seconds(attempt, base=settings.ENFORCEMENT_RETRY_BASE_SECONDS, cap=3600)
        deliver_vendor_notification.apply_async((notification_id, attempt + 1), countdown=countdown)
