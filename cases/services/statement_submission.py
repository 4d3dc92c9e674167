"""Submitting statements of reasons to the EU DSA Transparency Database, in batches of up to 100.

Not an outbox row kind (`cases.services.outbox` sends one signed webhook per row; the TDB takes a bearer
token and up to 100 statements a call), but the same discipline:

- a batch is **claimed** by compare-and-set before the call: one UPDATE marks due, pending, unclaimed rows
  with this worker's token and a lease longer than the call can take; only rows carrying the token are
  sent, so two beat runs (or a run and a lead's retry) never send one statement twice at once;
- the HTTP call (through `moderation.outbound`) holds no transaction; the outcome is recorded with UPDATEs
  that compare on the token, audit events in the same transaction;
- idempotent by puid: the TDB refuses a known puid with 422 and lists it in `errors.existing_puids` (the
  single endpoint: `existing.puid`). Such a statement is already there: it counts as submitted. As the TDB
  creates none of a refused batch, the batch's other statements are released to go in the next batch;
- 422 with `statement_<n>` errors: those statements fail with the TDB's errors (a lead retries after fixing
  the configuration); the rest are released;
- 5xx, 408, 429, timeouts, refused connections: the batch is retried with exponential backoff and jitter until
  `DSA_SUBMIT_MAX_ATTEMPTS`, then failed; any other refusal (401: a bad token) fails the batch at once.
"""

import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cases.models import StatementOfReasons
from cases.statement_rules import MAX_BATCH
from moderation import outbound, taskdefs
from moderation.audit import Actor, Verb, audit_event, record_events

logger = logging.getLogger(__name__)

PENDING = StatementOfReasons.State.PENDING
SUBMITTED = StatementOfReasons.State.SUBMITTED
FAILED = StatementOfReasons.State.FAILED
CLAIM_MARGIN_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
ACTOR = Actor.system("dsa_tdb")


@dataclass
class Submission:
    """What one run did, for the task's log and tests."""

    submitted: int = 0
    duplicates: int = 0
    failed: int = 0
    retrying: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)


def due_statements(now):
    return StatementOfReasons.objects.filter(state=PENDING).filter(
        (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    )


def submit_due_statements(*, max_batches: int = 20) -> Submission:
    """Send due statements, a batch of up to 100 at a time, until none is due or `max_batches` were sent.
    Does nothing while `DSA_TDB_URL` is unset (statements wait, pending)."""
    summary = Submission()
    if not settings.DSA_TDB_URL:
        return summary
    for _ in range(max_batches):
        batch = _claim_batch()
        if not batch:
            break
        summary.batches += 1
        _send(batch, summary)
    return summary


def _claim_batch() -> list[StatementOfReasons]:
    now = timezone.now()
    ids = list(due_statements(now).order_by("created_at", "id").values_list("pk", flat=True)[:MAX_BATCH])
    if not ids:
        return []
    token = secrets.token_hex(16)
    lease = now + timedelta(seconds=settings.DSA_TDB_TIMEOUT_SECONDS + CLAIM_MARGIN_SECONDS)
    # Compare-and-set: rows another worker claimed (or that changed state) since the read stay theirs.
    due_statements(now).filter(pk__in=ids).update(claim_token=token, claimed_until=lease)
    return list(
        StatementOfReasons.objects.filter(claim_token=token, state=PENDING).order_by("created_at", "id")
    )


def _send(batch: list[StatementOfReasons], summary: Submission) -> None:
    body = json.dumps({"statements": [s.payload for s in batch]}, ensure_ascii=False).encode("utf-8")
    headers = {
        "Authorization": f"Bearer {settings.DSA_TDB_TOKEN}",
        "Content-Type": "application/json",
    }
    try:
        response = outbound.request(
            "POST", settings.DSA_TDB_URL, headers=headers, data=body, timeout=settings.DSA_TDB_TIMEOUT_SECONDS
        )
    except outbound.BadStatus as exc:
        if exc.status == 422:
            _refused(batch, _json(exc.body), summary)
        else:
            _failed_call(
                batch, f"HTTP {exc.status}: {_message(exc.body)}", exc.retryable, exc.status, summary
            )
        return
    except outbound.OutboundError as exc:
        _failed_call(batch, str(exc)[:400] or type(exc).__name__, exc.retryable, None, summary)
        return
    uuids = {
        item.get("puid"): str(item.get("uuid", ""))[:64]
        for item in (_json(response.body).get("statements") or [])
        if isinstance(item, dict)
    }
    _record(batch, submitted=batch, duplicates=[], uuids=uuids, status=response.status)
    summary.submitted += len(batch)


def _refused(batch: list[StatementOfReasons], answer: dict, summary: Submission) -> None:
    errors = answer.get("errors") if isinstance(answer.get("errors"), dict) else {}
    existing = {str(p) for p in errors.get("existing_puids") or [] if isinstance(p, str)}
    if isinstance(answer.get("existing"), dict) and answer["existing"].get("puid"):
        existing.add(str(answer["existing"]["puid"]))
    refused = {}
    for key, value in errors.items():
        if key.startswith("statement_") and key[10:].isdigit() and int(key[10:]) < len(batch):
            refused[batch[int(key[10:])].pk] = (
                value if isinstance(value, dict) else {"statement": [str(value)]}
            )
    duplicates = [s for s in batch if s.puid in existing]
    invalid = [s for s in batch if s.pk in refused and s.puid not in existing]
    if not duplicates and not invalid:
        # Refused as a whole for a reason we cannot pin on a statement: nothing a retry would change.
        _failed_call(batch, f"HTTP 422: {_message(answer)}", False, 422, summary)
        return
    _record(batch, submitted=duplicates, duplicates=duplicates, refused=refused, invalid=invalid, status=422)
    summary.duplicates += len(duplicates)
    summary.submitted += len(duplicates)
    summary.failed += len(invalid)


@transaction.atomic
def _record(
    batch: list[StatementOfReasons],
    *,
    submitted: list[StatementOfReasons],
    duplicates: list[StatementOfReasons],
    uuids: dict | None = None,
    refused: dict | None = None,
    invalid: list[StatementOfReasons] = (),
    status: int,
) -> None:
    """The outcome for a claimed batch. Statements neither submitted nor refused are released unclaimed and
    due now (the TDB created nothing of a refused batch): the next batch carries them, no attempt counted."""
    now = timezone.now()
    token = batch[0].claim_token
    mine = StatementOfReasons.objects.filter(claim_token=token, state=PENDING)
    events = []
    duplicate_ids = {s.pk for s in duplicates}
    done = mine.filter(pk__in=[s.pk for s in submitted])
    done.filter(pk__in=duplicate_ids).update(duplicate=True)
    done.update(
        state=SUBMITTED, submitted_at=now, attempts=F("attempts") + 1, last_status=status, last_error="",
        claimed_until=None, claim_token="", next_attempt_at=None,
    )  # fmt: skip
    if uuids:
        for statement in submitted:
            statement.tdb_uuid = uuids.get(statement.puid, "")
        StatementOfReasons.objects.bulk_update([s for s in submitted if s.tdb_uuid], ["tdb_uuid"])
    for statement in submitted:
        events.append(
            _event(Verb.STATEMENT_SUBMITTED, statement, {"duplicate": statement.pk in duplicate_ids})
        )
    for statement in invalid:
        errors = (refused or {}).get(statement.pk, {})
        mine.filter(pk=statement.pk).update(
            state=FAILED, attempts=F("attempts") + 1, last_status=status, validation_errors=errors,
            last_error=("Refused by the TDB: " + json.dumps(errors, ensure_ascii=False))[:500],
            claimed_until=None, claim_token="", next_attempt_at=None,
        )  # fmt: skip
        events.append(_event(Verb.STATEMENT_FAILED, statement, {"status": status, "errors": errors}))
    mine.update(claimed_until=None, claim_token="", next_attempt_at=now)
    record_events(events)


@transaction.atomic
def _failed_call(
    batch: list[StatementOfReasons], error: str, retryable: bool, status: int | None, summary: Submission
) -> None:
    """The call failed for the whole batch: back off (each statement by its own attempt count) or fail."""
    now = timezone.now()
    token = batch[0].claim_token
    events = []
    for statement in batch:
        attempt = statement.attempts - statement.attempts_before_retry + 1
        final = not retryable or attempt >= settings.DSA_SUBMIT_MAX_ATTEMPTS
        countdown = (
            None
            if final
            else taskdefs.backoff_seconds(
                attempt, base=settings.DSA_RETRY_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS
            )
        )
        updated = StatementOfReasons.objects.filter(pk=statement.pk, claim_token=token, state=PENDING).update(
            state=FAILED if final else PENDING,
            attempts=F("attempts") + 1,
            last_error=error[:500],
            last_status=status,
            claimed_until=None,
            claim_token="",
            next_attempt_at=None if final else now + timedelta(seconds=countdown),
        )
        if updated and final:
            summary.failed += 1
            events.append(_event(Verb.STATEMENT_FAILED, statement, {"status": status, "error": error[:500]}))
        elif updated:
            summary.retrying += 1
    summary.errors.append(error)
    record_events(events)
    logger.warning("DSA TDB submission of %d statement(s) failed: %s", len(batch), error)


def _event(verb: Verb, statement: StatementOfReasons, data: dict):
    return audit_event(
        actor=ACTOR,
        verb=verb,
        target=statement,
        case_id=statement.case_id,
        data={"puid": statement.puid} | data,
    )


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _message(answer) -> str:
    if isinstance(answer, bytes):
        answer = _json(answer)
    return str(answer.get("message", ""))[:300] if isinstance(answer, dict) else ""
