"""Bringing labelled decisions from a previous moderation tool: closed, imported cases that train models.

An imported decision is a person's judgement made elsewhere, so it labels (`cases.labels`), but it is history:
nothing is enforced, no strike is given, no vendor is called back, no case is routed or enriched.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from cases.models import Case, Decision, Subject
from moderation.audit import Actor, record_event
from moderation.audit_verbs import Verb
from moderation.content import find_unstorable_text
from moderation.errors import Invalid, InvalidRows
from moderation.models import Action, Policy

IMPORT_ACTOR = "import_decisions"
MAX_TEXT_CHARS = 1_000_000
MAX_LINES = 1_000_000
_CHUNK = 500  # SQLite's bound-parameter limit, with room to spare
_REQUIRED = ("external_id", "text", "policy", "violating", "decided_at")
_KNOWN = frozenset((*_REQUIRED, "language", "kind", "author_id"))


@dataclass
class ImportOutcome:
    imported: int = 0
    already_imported: int = 0
    skipped_bad: list[tuple[int, str, str]] = field(default_factory=list)
    by_policy: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionLine:
    line: int
    external_id: str
    text: str
    kind: str
    language: str
    author_id: str
    policy: Policy
    violating: bool
    decided_at: datetime


def _parse(
    line_no: int, raw: str, policies: dict[str, Policy], now: datetime
) -> tuple[DecisionLine | None, tuple | None]:
    def bad(name: str, message: str):
        return None, (line_no, name, message)

    try:
        item = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return bad("line", f"not JSON ({str(exc)[:80]})")
    if not isinstance(item, dict):
        return bad("line", "expected a JSON object")
    for name in _REQUIRED:
        if name not in item:
            return bad(name, "missing")
    unknown = sorted(set(item) - _KNOWN)
    if unknown:
        return bad(unknown[0][:40], "unknown field")
    problem = find_unstorable_text(item)
    if problem:
        return bad(problem[0] or "line", problem[1])
    strings = {}
    for name, limit in (
        ("external_id", 255),
        ("text", MAX_TEXT_CHARS),
        ("language", 16),
        ("kind", 16),
        ("author_id", 255),
    ):
        value = item.get(name, "")
        if not isinstance(value, str):
            return bad(name, "must be a string")
        if len(value) > limit:
            return bad(name, f"longer than {limit} characters")
        strings[name] = value
    if not strings["external_id"].strip():
        return bad("external_id", "empty")
    kind = strings["kind"] or Subject.Kind.MESSAGE
    if kind not in Subject.Kind.values:
        return bad("kind", f"one of {', '.join(Subject.Kind.values)}")
    code = item["policy"]
    policy = policies.get(code) if isinstance(code, str) else None
    if policy is None:
        return bad("policy", "not the code of an active policy")
    if not isinstance(item["violating"], bool):
        return bad("violating", "must be true or false")
    try:
        decided_at = (
            datetime.fromisoformat(item["decided_at"]) if isinstance(item["decided_at"], str) else None
        )
    except ValueError:
        decided_at = None
    if decided_at is None:
        return bad("decided_at", "not an ISO 8601 date and time")
    if timezone.is_naive(decided_at):
        decided_at = decided_at.replace(tzinfo=UTC)  # a previous tool's naive times are read as UTC
    if decided_at > now:
        return bad("decided_at", "in the future")
    return (
        DecisionLine(
            line_no,
            strings["external_id"],
            strings["text"],
            kind,
            strings["language"],
            strings["author_id"],
            policy,
            item["violating"],
            decided_at,
        ),
        None,
    )


def _actions_for(policies: set[Policy]) -> dict[tuple[int, bool], Action]:
    """The action an imported verdict is recorded with: the policy's first allowed enforcing action for
    "violating", "no violation" otherwise (its kind is what labels read)."""
    no_violation = Action.objects.filter(kind=Action.Kind.NO_VIOLATION, is_active=True).order_by("pk").first()
    chosen: dict[tuple[int, bool], Action] = {}
    for policy in policies:
        enforcing = (
            policy.allowed_actions.filter(is_active=True)
            .exclude(kind__in=(Action.Kind.NO_VIOLATION, Action.Kind.ESCALATE))
            .order_by("pk")
            .first()
        )
        if enforcing is None:
            raise Invalid(
                f"policy {policy.code} allows no enforcing action to record violations with", field="policy"
            )
        if no_violation is None:
            raise Invalid("no active “no violation” action to record dismissals with", field="violating")
        chosen[(policy.pk, True)] = enforcing
        chosen[(policy.pk, False)] = no_violation
    return chosen


def read_decision_lines(lines) -> tuple[list[DecisionLine], list[tuple[int, str, str]]]:
    """Parse decision lines (the import format): the good rows, and (line, field, message) for each bad one."""
    now = timezone.now()
    policies = {policy.code: policy for policy in Policy.objects.filter(is_active=True)}
    rows: list[DecisionLine] = []
    problems: list[tuple[int, str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for line_no, raw in enumerate(lines, start=1):
        if line_no > MAX_LINES:
            raise Invalid(f"more than {MAX_LINES} lines; split the file", field="file")
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.append((line_no, "line", "not UTF-8"))
                continue
        if not raw.strip():
            continue
        row, problem = _parse(line_no, raw, policies, now)
        if problem is None and (row.kind, row.external_id) in seen:
            problem = (line_no, "external_id", f"repeats line {seen[(row.kind, row.external_id)]}")
        if problem is not None:
            problems.append(problem)
            continue
        seen[(row.kind, row.external_id)] = line_no
        rows.append(row)
    return rows, problems


@transaction.atomic(durable=True)
def import_decisions(*, lines, source: str = "", skip_bad: bool = False) -> ImportOutcome:
    """Import labelled decisions (one JSON object a line) as resolved, imported cases. Audited once.

    All or nothing: any bad line raises InvalidRows listing every bad line (line number, field, message) and
    writes nothing; with `skip_bad` the good lines are imported and the bad ones returned. Idempotent by
    (kind, external_id): a subject that already has an imported case is counted, not imported again.
    """
    now = timezone.now()
    rows, problems = read_decision_lines(lines)
    if problems and not skip_bad:
        raise InvalidRows(f"{len(problems)} bad line(s); nothing imported", problems=problems)
    outcome = ImportOutcome(skipped_bad=problems)
    if not rows:
        return outcome
    actions = _actions_for({row.policy for row in rows})

    subjects: dict[tuple[str, str], Subject] = {}
    for kind in {row.kind for row in rows}:
        ids = [row.external_id for row in rows if row.kind == kind]
        for start in range(0, len(ids), _CHUNK):
            for subject in Subject.objects.filter(kind=kind, external_id__in=ids[start : start + _CHUNK]):
                subjects[(kind, subject.external_id)] = subject
    done = set()
    known_ids = [subject.pk for subject in subjects.values()]
    for start in range(0, len(known_ids), _CHUNK):
        done |= set(
            Case.objects.filter(
                kind=Case.Kind.IMPORTED, subject_id__in=known_ids[start : start + _CHUNK]
            ).values_list("subject_id", flat=True)
        )
    fresh = [row for row in rows if subjects.get((row.kind, row.external_id)) is None]
    created = Subject.objects.bulk_create(
        [
            Subject(
                kind=row.kind,
                external_id=row.external_id,
                author_id=row.author_id,
                text=row.text,
                language=row.language,
            )
            for row in fresh
        ],
        batch_size=_CHUNK,
    )
    for subject in created:
        subjects[(subject.kind, subject.external_id)] = subject
    todo = [row for row in rows if subjects[(row.kind, row.external_id)].pk not in done]
    outcome.already_imported = len(rows) - len(todo)
    cases = Case.objects.bulk_create(
        [
            Case(
                subject=subjects[(row.kind, row.external_id)],
                kind=Case.Kind.IMPORTED,
                status=Case.Status.RESOLVED,
                policy=row.policy,
                resolved_at=row.decided_at,
                routed_at=row.decided_at,
            )
            for row in todo
        ],
        batch_size=_CHUNK,
    )
    Decision.objects.bulk_create(
        [
            Decision(
                case=case,
                policy=row.policy,
                action=actions[(row.policy.pk, row.violating)],
                mode=Decision.Mode.LIVE,
                automated=False,
                reason="Imported from the previous tool.",
                subject_version=case.subject.content_version,
                author_id=row.author_id,
            )
            for case, row in zip(cases, todo, strict=True)
        ],
        batch_size=_CHUNK,
    )
    # auto_now_add stamped today on everything; history keeps its own time (three UPDATEs, not one a row).
    Case.objects.filter(kind=Case.Kind.IMPORTED, opened_at__gte=now).update(opened_at=F("resolved_at"))
    Decision.objects.filter(case__kind=Case.Kind.IMPORTED, created_at__gte=now).update(
        created_at=Subquery(Case.objects.filter(pk=OuterRef("case_id")).values("resolved_at")[:1])
    )
    Subject.objects.filter(first_seen_at__gte=now, cases__kind=Case.Kind.IMPORTED).update(
        first_seen_at=Subquery(
            Case.objects.filter(subject=OuterRef("pk"), kind=Case.Kind.IMPORTED).values("resolved_at")[:1]
        )
    )
    outcome.imported = len(todo)
    tally = Counter((row.policy.code, row.violating) for row in todo)
    outcome.by_policy = {
        code: {"violating": tally[(code, True)], "not_violating": tally[(code, False)]}
        for code in sorted({code for code, _ in tally})
    }
    first_policy = todo[0].policy if todo else rows[0].policy
    record_event(
        actor=Actor.system(IMPORT_ACTOR),
        verb=Verb.DECISIONS_IMPORTED,
        target=first_policy,
        data={
            "source": source[:200],
            "imported": outcome.imported,
            "already_imported": outcome.already_imported,
            "skipped_bad": len(problems),
            "by_policy": outcome.by_policy,
        },
    )
    return outcome
