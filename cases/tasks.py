"""Celery tasks for cases: thin, idempotent wrappers around the enrichment and routing services."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from cases.detection import campaign_batch, campaigns, media
from cases.detection.bank_hits import match_media_banks
from cases.detection.enrichment import EnrichmentOutcome, enrich_case
from cases.models import Case
from cases.services import intake_accept_first, outbox
from cases.services.background import enqueue_case_enrichment
from cases.services.effects import lift_expired_decisions as lift
from cases.services.events import forget_old_events
from cases.services.oversight_rollup import refresh_oversight_hours
from cases.services.retention import purge_expired_content as purge
from cases.services.statement_submission import submit_due_statements
from moderation.taskdefs import backoff_seconds, task
from queues.selectors import forget_routing_config
from queues.services import route_case, route_locked_case

logger = logging.getLogger(__name__)


def enrich_then_route(case_id: int, *, give_up: bool = False, group: bool = True) -> EnrichmentOutcome | None:
    """Detection stores the case's new signals and routing places it on them, under one lock, in one
    transaction (detection never imports routing: it is handed in here)."""
    try:
        return enrich_case(case_id=case_id, give_up=give_up, route=route_locked_case, group=group)
    except IntegrityError:
        # Most likely a queue deleted within the routing cache's lifetime: reload the rules, try once more.
        forget_routing_config()
        return enrich_case(case_id=case_id, give_up=give_up, route=route_locked_case, group=group)


def enrich_and_route(case_id: int, *, attempt: int = 0, eager: bool = False, group: bool = True) -> None:
    """Enrich what is missing, route on what is known, and schedule another try for sources that may recover."""
    last_attempt = attempt >= settings.ENRICHMENT_MAX_ATTEMPTS
    outcome = enrich_then_route(case_id, give_up=last_attempt, group=group)
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


@task("cases.group_accepted_reports", queue="intake", soft_time_limit=120, time_limit=150)
def group_accepted_reports(self) -> None:
    """Reports accepted first become reports on their cases, 500 at a time, until none is waiting (bounded:
    what arrives meanwhile schedules its own run)."""
    for _ in range(20):
        if intake_accept_first.group_accepted_reports() < intake_accept_first.GROUP_LIMIT:
            return


@task("cases.enrich_cases", queue="intake", soft_time_limit=120, time_limit=150)
def enrich_cases(self, case_ids: list[int]) -> None:
    """Intake's chunk: grouped into campaigns first, all at once (a fixed number of statements and one
    commit for the chunk, and no case row locked meanwhile), then each case enriched and routed, its
    `campaign.size` signal already stored."""
    campaign_batch.group_cases(case_ids)
    for case_id in case_ids:
        enrich_and_route(case_id, eager=bool(self.request.is_eager), group=False)


@task("cases.fetch_case_media", queue="media", soft_time_limit=120, time_limit=150)
def fetch_case_media(self, case_ids: list[int]) -> int:
    """Store the media copies, then match them against the hash banks; a case with a new hit is routed
    again on it (detection is handed routing, as for enrichment)."""
    fetched = media.fetch_case_media(case_ids)
    campaigns.group_cases_media(case_ids)  # shared pictures group once their bytes (SHA-256) are known
    match_media_banks(case_ids, route=route_locked_case)
    return fetched


@task("cases.enrich_case_again", queue="intake")
def enrich_case_again(self, case_id: int, attempt: int) -> None:
    enrich_and_route(case_id, attempt=attempt, eager=bool(self.request.is_eager))


@task("cases.sweep_unrouted_cases", queue="sweeps", soft_time_limit=240, time_limit=300)
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


@task("cases.deliver_enforcement", queue="enforcement", soft_time_limit=120, time_limit=150)
def deliver_enforcement(self, enforcement_id: int, attempt: int | None = None) -> str:
    """One attempt at an enforcement, if it is due and this worker claims it (`cases.services.outbox`); a
    transient failure schedules the next one. `attempt` is ignored: the row counts its attempts (messages
    sent before it did still carry one)."""
    return outbox.deliver(
        kind=outbox.ENFORCEMENT, message_id=enforcement_id, eager=bool(self.request.is_eager)
    ).state


@task("cases.deliver_vendor_callback", queue="enforcement", soft_time_limit=120, time_limit=150)
def deliver_vendor_callback(self, callback_id: int) -> str:
    """One attempt at a vendor callback, as for enforcements."""
    return outbox.deliver(
        kind=outbox.VENDOR_CALLBACK, message_id=callback_id, eager=bool(self.request.is_eager)
    ).state


@task("cases.sweep_outbox", queue="sweeps", soft_time_limit=120, time_limit=150)
def sweep_outbox(self) -> int:
    """Beat: enforcements and vendor callbacks left pending with no task holding them (the broker refused
    them, lost them, or a worker died) are enqueued again; claims keep them from being sent twice."""
    return sum(outbox.sweep(kind=kind) for kind in outbox.KINDS)


@task("cases.release_held_deliveries", queue="sweeps", soft_time_limit=50, time_limit=60)
def release_held_deliveries(self) -> int:
    """Beat: enforcements and vendor callbacks held for a decision's undo window, now closed, are enqueued."""
    return sum(outbox.release_held(kind=kind) for kind in outbox.KINDS)


@task("cases.lift_expired_decisions", queue="sweeps", soft_time_limit=120, time_limit=150)
def lift_expired_decisions(self) -> int:
    """Beat: send the reversing enforcement of timed actions whose duration is over."""
    return lift()


@task("cases.forget_old_events", queue="sweeps", soft_time_limit=240, time_limit=300)
def forget_old_events_task(self) -> int:
    """Beat: platform events past EVENT_RETENTION_DAYS are forgotten (their cases stay)."""
    return forget_old_events()


@task("cases.refresh_oversight_hours", queue="sweeps", soft_time_limit=240, time_limit=300)
def refresh_oversight_hours_task(self) -> tuple[int, int]:
    """Beat: rebuild the dashboards' roll-ups of the last OVERSIGHT_REFRESH_HOURS hours (recomputed, so a
    duplicate or overlapping run writes the same rows)."""
    now = timezone.now()
    return refresh_oversight_hours(since=now - timedelta(hours=settings.OVERSIGHT_REFRESH_HOURS), until=now)


@task("cases.submit_statements", queue="sweeps", soft_time_limit=240, time_limit=300)
def submit_statements(self) -> int:
    """Beat: due DSA statements of reasons go to the Transparency Database in batches of up to 100 (claimed
    first, so overlapping runs never send one twice). Returns how many were submitted."""
    summary = submit_due_statements()
    if summary.batches:
        logger.info("DSA statements: %s", summary)
    return summary.submitted


@task("cases.purge_expired_content", queue="sweeps", soft_time_limit=540, time_limit=590)
def purge_expired_content(self) -> int:
    """Beat: purge the content of subjects past their policies' retention, in bounded batches."""
    return len(
        purge(
            now=timezone.now(),
            batch_size=settings.RETENTION_BATCH_SIZE,
            max_batches=settings.RETENTION_MAX_BATCHES,
        )
    )
