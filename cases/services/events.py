"""Proactive detection: platform events run through the detectors and the rules before anyone reports.

`ingest_events` is the one path for the REST endpoint and the stream consumer. Per call (a request, or one
batch pulled from the stream), in one transaction and a bounded number of queries whatever the batch size:

1. replays are found by the unique (source, platform event id) key: a redelivered message or a retried POST is
   the same row, acted on once (at-least-once delivery plus this is effectively once);
2. new events run through the detectors: the matching banks (normalised text, URLs) and, when a rule reads it,
   the built-in text model, all batched;
3. one aggregate query reads the authors' event counters from the stored events (a replay is never run
   again, so it never counts twice), and the new events are inserted in one statement;
4. the rules with an event trigger (`EventTrigger`) are matched on those facts (`cases.services.event_rules`);
   the first live match acts: its cases are opened through intake in one call (so one open case per subject
   holds), and a rule that decides automatically decides through the automated-decision path with its
   guards (protected subjects, daily cap, review sample, shadow mode);
5. what came of each event is written back in one statement.

A concurrent handler of the same event (a redelivery while the first consumer is still at it) loses the
unique-key race, rolls back and runs again, finding the winner's rows.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from cases.models import Event
from cases.selectors import lock_case_for_routing
from cases.services.event_rules import EventRule, detect, event_rules, first_live_match, read_counters
from cases.services.intake import ReportInput, SubjectInput, accept_reports, canonical_hash
from cases.services.review.decisions import automation_blocker, decide_automatically, record_shadow_decision
from moderation.models import Vendor
from queues.models import RoutingRule, RuleMatch
from queues.services.rule_guards import take_automation_slot

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
RACE_SQLSTATES = {"23505", "40001", "40P01"}


@dataclass(frozen=True)
class EventInput:
    """A validated event (`cases.event_validation.parse_event`)."""

    external_id: str
    type: str
    subject: SubjectInput
    payload: dict  # canonical, JSON-safe form of the validated event
    occurred_at: datetime | None = None

    @cached_property
    def payload_hash(self) -> str:
        return canonical_hash(self.payload)


@dataclass
class EventOutcome:
    external_id: str
    status: str  # "created" | "duplicate" | "conflict"
    event_id: int | None = None
    outcome: str = Event.Outcome.NONE
    case_id: int | None = None
    rule_id: int | None = None
    detail: str = ""


def ingest_events(*, source: Vendor, events: list[EventInput]) -> list[EventOutcome]:
    """Run `events` from `source` through detection and the event rules; say what happened to each, in order.

    `created` (new: detected, maybe acted on), `duplicate` (this id was seen with the same body: what came of
    it then), `conflict` (this id was seen with a different body: nothing done). Cases are opened and decided
    by the intake and decision services (their audit events, enrichment and routing on commit).
    """
    if not events:
        return []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _ingest_once(source=source, events=events)
        except (IntegrityError, OperationalError) as exc:
            # Another handler stored one of these events first (a redelivery racing the original): its rows
            # are committed now, and the next run finds them as replays.
            if attempt == MAX_ATTEMPTS or not _is_race(exc):
                raise
            logger.info(
                "event ingest retry %s for source %s after %s", attempt, source.pk, type(exc).__name__
            )
    raise AssertionError("unreachable")


def _is_race(exc: Exception) -> bool:
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in RACE_SQLSTATES
    message = str(exc)
    return "UNIQUE constraint failed" in message or "database is locked" in message


def _replay(item: EventInput, row: dict) -> EventOutcome:
    if row["payload_hash"] != item.payload_hash:
        return EventOutcome(
            item.external_id,
            "conflict",
            row["id"],
            detail=f"event id {item.external_id!r} was already used for an event with a different body",
        )
    return EventOutcome(
        item.external_id, "duplicate", row["id"], row["outcome"], row["case_id"], row["rule_id"]
    )


@transaction.atomic
def _ingest_once(*, source: Vendor, events: list[EventInput]) -> list[EventOutcome]:
    now = timezone.now()
    known = {
        row["external_id"]: row
        for row in Event.objects.filter(
            source=source, external_id__in={item.external_id for item in events}
        ).values("id", "external_id", "payload_hash", "outcome", "case_id", "rule_id")
    }
    first: dict[str, int] = {}
    fresh: list[int] = []
    for index, item in enumerate(events):
        if item.external_id not in known and item.external_id not in first:
            first[item.external_id] = index
            fresh.append(index)

    created: dict[int, EventOutcome] = {}
    if fresh:
        items = [events[index] for index in fresh]
        for index, outcome in zip(fresh, _store_and_act(source, items, now), strict=True):
            created[index] = outcome

    outcomes: list[EventOutcome] = []
    for index, item in enumerate(events):
        if index in created:
            outcomes.append(created[index])
        elif item.external_id in known:
            outcomes.append(_replay(item, known[item.external_id]))
        else:  # repeated inside this call: a replay of its first occurrence
            stored = created[first[item.external_id]]
            row = {
                "id": stored.event_id,
                "payload_hash": events[first[item.external_id]].payload_hash,
                "outcome": stored.outcome,
                "case_id": stored.case_id,
                "rule_id": stored.rule_id,
            }
            outcomes.append(_replay(item, row))
    return outcomes


def _store_and_act(source: Vendor, items: list[EventInput], now: datetime) -> list[EventOutcome]:
    rules = event_rules()
    detected = detect(items, rules)
    counters = read_counters(source, items, detected, now=now) if rules else []
    rows = Event.objects.bulk_create(
        [
            Event(
                source=source,
                external_id=item.external_id,
                type=item.type,
                subject_kind=item.subject.kind,
                subject_external_id=item.subject.external_id,
                author_id=item.subject.author_id,
                occurred_at=item.occurred_at,
                received_at=now,
                bank_hits=found.bank_hits,
                payload_hash=item.payload_hash,
            )
            for item, found in zip(items, detected, strict=True)
        ]
    )
    outcomes = [EventOutcome(row.external_id, "created", row.pk) for row in rows]
    if not rules:
        return outcomes
    matches: list[EventRule | None] = []
    for item, found, row, counted in zip(items, detected, rows, counters, strict=True):
        match, watched = first_live_match(rules, item, found, counted, source=source)
        row.shadow_rule_ids = watched
        matches.append(match)
    _act(source, items, rows, matches, outcomes, now)
    changed = [row for row, match in zip(rows, matches, strict=True) if match or row.shadow_rule_ids]
    if changed:
        Event.objects.bulk_update(changed, ["outcome", "case", "rule", "shadow_rule_ids"])
    return outcomes


def _act(source, items, rows, matches, outcomes, now) -> None:
    """Open the cases the matched rules ask for (one intake call for the batch), then let the rules that
    decide automatically decide them."""
    opening = [
        (index, match)
        for index, match in enumerate(matches)
        if match is not None and match.policy is not None
    ]
    for match in matches:
        if match is not None and match.policy is None:
            logger.error("event rule %s has no policy to open a case with", match.rule.pk)
    if not opening:
        return
    reports = [
        ReportInput(
            external_id=f"event:{items[index].external_id}",
            policy=match.policy,
            subject=items[index].subject,
            payload={"event": items[index].payload, "rule": match.rule.pk, "reason": match.policy.code},
            comment=f"Opened by rule {match.rule.name!r} on a {items[index].type} event, before any report.",
            occurred_at=items[index].occurred_at,
        )
        for index, match in opening
    ]
    intake = accept_reports(vendor=source, reports=reports)
    logged: list[RuleMatch] = []
    for (index, match), result in zip(opening, intake, strict=True):
        rule, row, outcome = match.rule, rows[index], outcomes[index]
        row.rule, row.case_id = rule, result.case_id
        row.outcome = (
            _decide(rule, result.case_id, items[index], source) if result.case_id else Event.Outcome.NONE
        )
        outcome.outcome, outcome.case_id, outcome.rule_id = row.outcome, row.case_id, rule.pk
        if result.case_id:
            logged.append(
                RuleMatch(
                    rule=rule,
                    case_id=result.case_id,
                    rule_version=rule.version,
                    mode=RuleMatch.Mode.LIVE,
                    outcome={
                        Event.Outcome.DECIDED: RuleMatch.Outcome.DECIDED,
                        Event.Outcome.SHADOW_DECIDED: RuleMatch.Outcome.WOULD_DECIDE,
                    }.get(row.outcome, RuleMatch.Outcome.ROUTED),
                    matched_at=now,
                    action_id=rule.auto_action_id if rule.automation_mode != "off" else None,
                )
            )
    # Matches feed the same per-rule history as routing's (auto-pause on a surge, shadow agreement).
    RuleMatch.objects.bulk_create(logged, ignore_conflicts=True)


def _decide(rule: RoutingRule, case_id: int, item: EventInput, source: Vendor) -> str:
    """What a matched rule's automatic-decision setting does with the case the event opened (or joined)."""
    if rule.automation_mode == RoutingRule.AutomationMode.OFF:
        return Event.Outcome.CASE_OPENED
    case = lock_case_for_routing(case_id)
    if case is None:
        return Event.Outcome.CASE_OPENED
    if _claims_anothers_content(case.subject, item, source):
        # Detection ran on the event's text, not on what the subject shows: another vendor's content is not
        # decided on this source's word (its text is kept as its own version; people see both).
        return Event.Outcome.CASE_OPENED
    if rule.automation_mode == RoutingRule.AutomationMode.SHADOW:
        record_shadow_decision(case=case, rule=rule)
        return Event.Outcome.SHADOW_DECIDED
    # Live: the decision service's guards (held, protected, sampled), then the rule's daily cap; a case that
    # may not be decided automatically goes to people (routed on commit by intake's enrichment).
    if (
        automation_blocker(case) is None
        and take_automation_slot(rule)
        and decide_automatically(case=case, rule=rule, checked=True) is not None
    ):
        return Event.Outcome.DECIDED
    return Event.Outcome.CASE_OPENED


def _claims_anothers_content(subject, item: EventInput, source: Vendor) -> bool:
    return (
        item.subject.has_content
        and subject.content_vendor_id not in (None, source.pk)
        and subject.content_hash != item.subject.content_hash
    )


def forget_old_events(*, now: datetime | None = None, chunk: int = 5000) -> int:
    """Delete events older than `EVENT_RETENTION_DAYS` (their counters' windows are long past), in chunks so
    no statement holds locks for long. Returns how many were deleted. Cases they opened are kept."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(Event.objects.filter(received_at__lt=cutoff).values_list("id", flat=True)[:chunk])
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += Event.objects.filter(id__in=ids).delete()[0]
