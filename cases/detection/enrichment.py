"""Enriching a case with signals from scorers and context providers.

Network calls run in parallel threads with a shared deadline, outside any transaction; results are written
in one short transaction. Each source runs once per case (scorers: once per subject content version), so a
re-delivered or retried task calls only the sources still missing and adds no duplicate signal (the unique
`(case, dedupe_key)` constraint backs that up).
"""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases.counters import BANK_SOURCE, record_bank_hits
from cases.detection.bank_hits import compiled_banks, subject_bank_drafts
from cases.detection.campaigns import group_case
from cases.detection.sources import (
    SignalDraft,
    SourceFailed,
    applies_to,
    is_local,
    run_source,
    source_key,
    store_signal_drafts,
)
from cases.detection.trained_scorer import run_trained_scorer
from cases.models import Case, ContextProvider, Scorer, ScoringRecord, Signal
from cases.selectors import enabled_signal_sources, lock_case_for_routing
from moderation.content import find_unstorable_text, printable

logger = logging.getLogger(__name__)


@dataclass
class EnrichmentOutcome:
    case_id: int
    ran: list[str] = field(default_factory=list)
    signals: int = 0
    retryable: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.retryable


# What happens once signals are stored, under the same lock (the caller passes routing in): `route(case,
# also_save=fields)` saves the case with those fields. Without it the fields are just saved.
RouteAfter = Callable[..., object]


def enrich_case(
    *, case_id: int, give_up: bool = False, route: RouteAfter | None = None, group: bool = True
) -> EnrichmentOutcome | None:
    """Run every enabled, applicable source that has not yet run for the case, store what they return and
    hand the case to `route` on everything now known, in one transaction.

    Returns None if the case is gone or resolved. `give_up` (the last attempt) records retryable failures as
    final so the case stops waiting for them. `group=False`: the case's chunk was grouped into campaigns
    just before (`cases.detection.campaign_batch.group_cases`, committed), so it is not grouped again here.
    """
    return _enrich(case_id=case_id, give_up=give_up, route=route, group=group)


def _enrich(
    *, case_id: int, give_up: bool, route: RouteAfter | None, group: bool
) -> EnrichmentOutcome | None:
    # Compile any bank that changed before the case row is locked: a big bank takes a moment to build, and
    # no routing lock should wait for it.
    compiled_banks()
    if all(is_local(source) for source in enabled_signal_sources()):
        # Nothing to wait for on the network: score, store and route under one lock, in one transaction.
        with transaction.atomic():
            case = lock_case_for_routing(case_id)
            if case is None or case.status == Case.Status.RESOLVED:
                return None
            outcome = EnrichmentOutcome(case_id=case_id)
            drafts = _run_sources(_pending_sources(case), case, outcome, give_up=give_up)
            drafts += _bank_drafts(case)
            _apply(case, drafts, outcome, route=route, group=group)
            return outcome

    # Network calls happen outside any transaction (no row lock held while a vendor thinks).
    case = Case.objects.select_related("subject").filter(pk=case_id).first()
    if case is None or case.status == Case.Status.RESOLVED:
        return None
    outcome = EnrichmentOutcome(case_id=case_id)
    drafts = _run_sources(_pending_sources(case), case, outcome, give_up=give_up)
    drafts += _bank_drafts(case)
    with transaction.atomic():
        locked = lock_case_for_routing(case_id)
        if locked is not None:
            _apply(locked, drafts, outcome, route=route, group=group)
    return outcome


def _pending_sources(case: Case) -> dict[str, Scorer | ContextProvider]:
    done = set(case.enrichment_state.get("done", []))
    return {
        source_key(source, case.subject): source
        for source in enabled_signal_sources()
        if applies_to(source, case.subject)
        and source_key(source, case.subject) not in done
        and may_receive(source, case)
    }


def may_receive(source: Scorer | ContextProvider, case: Case) -> bool:
    """Restricted content (child safety...) leaves the process only for sources a superuser vetted for it
    (`receives_restricted_content`); the built-in model runs here and sends nothing anywhere."""
    return not case.is_restricted or is_local(source) or source.receives_restricted_content


def _run_sources(
    pending: dict[str, Scorer | ContextProvider], case: Case, outcome: EnrichmentOutcome, *, give_up: bool
) -> list[SignalDraft]:
    """Local sources inline; remote ones in parallel threads under the shared deadline."""
    subject = case.subject
    drafts: list[SignalDraft] = []
    remote = {key: source for key, source in pending.items() if not is_local(source)}
    for key, source in pending.items():
        if key not in remote and source.kind == Scorer.Kind.TRAINED:
            # Trained models see the case (its signals, author and counters so far), not the subject alone.
            _collect(key, lambda source=source: run_trained_scorer(source, case), drafts, outcome)
        elif key not in remote:
            _collect(key, lambda source=source: run_source(source, subject), drafts, outcome)
    if remote:
        deadline = settings.ENRICHMENT_DEADLINE_SECONDS
        # Not a context manager: on deadline we stop waiting; stragglers finish (bounded by their own
        # timeouts) in the background and their results are dropped.
        pool = ThreadPoolExecutor(max_workers=min(8, len(remote)), thread_name_prefix="enrich")
        futures = {pool.submit(run_source, source, subject): key for key, source in remote.items()}
        finished, unfinished = wait(futures, timeout=deadline)
        pool.shutdown(wait=False, cancel_futures=True)
        for future in finished:
            _collect(futures[future], future.result, drafts, outcome)
        for future in unfinished:
            outcome.retryable[futures[future]] = f"no result within the {deadline:g}s enrichment deadline"
    if give_up:
        outcome.failed.update(outcome.retryable)
        outcome.retryable = {}
    return drafts


def _bank_drafts(case: Case) -> list[SignalDraft]:
    """Matching banks run here, in-process, on every pass (restricted cases too: nothing leaves the process);
    their dedupe keys make a repeated pass add nothing. Media hash banks see the copies stored so far; the
    media task runs them again once it has stored more (`cases.detection.bank_hits.match_media_banks`)."""
    try:
        return subject_bank_drafts(case.subject)
    except Exception:  # a bank bug must not keep the case from being routed on everything else
        logger.exception("matching banks crashed on case %s", case.pk)
        return []


def _collect(key: str, result, drafts: list[SignalDraft], outcome: EnrichmentOutcome) -> None:
    try:
        produced = result()
        for draft in produced:
            # A remote source is as hostile as a report: nothing the database cannot store gets through.
            problem = find_unstorable_text([draft.label, draft.value])
            if problem:
                raise SourceFailed(
                    f"unstorable value for {printable(draft.label)!r}: {problem[1]}", retryable=False
                )
        drafts.extend(produced)
        outcome.ran.append(key)
    except SourceFailed as exc:
        (outcome.retryable if exc.retryable else outcome.failed)[key] = str(exc)
    except Exception as exc:  # a bug in one source must not stop the others or the routing
        logger.exception("signal source %s crashed on case %s", key, outcome.case_id)
        outcome.failed[key] = f"{type(exc).__name__}: {exc}"[:300]


def _apply(
    case: Case,
    drafts: list[SignalDraft],
    outcome: EnrichmentOutcome,
    *,
    route: RouteAfter | None = None,
    group: bool = True,
) -> None:
    """Store the drafts, merge the enrichment state and route. The caller holds the case's row lock."""
    case_id = case.pk
    # Banks run on every pass and their dedupe keys keep one signal per hit; the author's live counter must
    # count only the hits this pass really adds (as the database twin counts rows), or twenty reports on one
    # message would make twenty "bank hits". Exact under the case row lock the caller holds.
    bank_keys = [draft.dedupe_key for draft in drafts if draft.source == BANK_SOURCE]
    known = (
        set(
            Signal.objects.filter(case_id=case_id, dedupe_key__in=bank_keys).values_list(
                "dedupe_key", flat=True
            )
        )
        if bank_keys
        else set()
    )
    store_signal_drafts(case_id, drafts)
    records = [ScoringRecord(case_id=case_id, **draft.scoring) for draft in drafts if draft.scoring]
    if records:
        ScoringRecord.objects.bulk_create(records, ignore_conflicts=True)
    bank_hits = len(set(bank_keys) - known)
    if bank_hits:  # the author's live bank-hit counter, once the signals are committed
        author_id = case.subject.author_id
        transaction.on_commit(lambda: record_bank_hits(author_id, bank_hits), robust=True)
    state = dict(case.enrichment_state)
    done = set(state.get("done", [])) | set(outcome.ran) | set(outcome.failed)
    errors = {key: message for key, message in state.get("errors", {}).items() if key not in outcome.ran}
    # An overlapping run may have finished a source this run saw fail: done wins over retryable.
    errors.update({key: message for key, message in outcome.retryable.items() if key not in done})
    errors.update(outcome.failed)
    state.update(done=sorted(done), errors=errors, attempts=state.get("attempts", 0) + 1)
    case.enrichment_state = state
    # A local step: the case's `campaign.size` signal must be stored before routing reads its signals.
    if group:
        group_case(case)
    changed = ("enrichment_state",)
    if outcome.complete:
        case.enriched_at = timezone.now()
        changed += ("enriched_at",)
    if route is not None:
        route(case, also_save=changed)
    else:
        case.save(update_fields=[*changed, "updated_at"])
    outcome.signals = len(drafts)
