"""Backtests: what a rule (saved, or a proposed snapshot) would have done over the cases of the last N days.

Each case is replayed with what routing could see *then* — the moment it was first routed (or opened): its
reports received by then, its signals created by then, its author's strikes in force then — so a signal that
arrived after routing never makes a rule look better than it was. The period's cases, reports, signals,
strikes and decisions are read in six queries (joins on the period, no per-case query, no id lists) and the
rule is evaluated in Python with `queues.matching.rule_matches`, the function routing itself uses.

Precision and recall are measured against the final human decisions: a case's label is its last live,
non-automated decision in force — positive when it enforces (under the rule's automatic policy, when the rule
names one), negative when it dismisses; a decision overturned on appeal counts as wrong, so its label flips.
A case only an automated decision touched is labelled by its appeal (upheld: positive, overturned: negative).
"""

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.counters import counters_at
from cases.models import Appeal, Case, Decision, Report, Signal, Strike, Subject
from moderation.errors import Invalid
from moderation.models import Action, Policy
from queues.matching import rule_matches
from queues.models import Queue, RoutingRule, ScoreCondition, snapshot_of
from queues.selectors import CaseFacts, rules_use_velocity

# Actions that are not a finding of violation: a dismissal, or handing the case on.
NOT_A_VIOLATION = (Action.Kind.NO_VIOLATION, Action.Kind.ESCALATE)


class _Rows(list):
    """A list that answers `.all()`, like the related managers `rule_matches` reads."""

    def all(self):
        return self


def replayable_rule(snapshot: dict) -> SimpleNamespace:
    """A rule from its snapshot, with just what `rule_matches` reads (nothing is saved)."""
    return SimpleNamespace(
        policies=_Rows(SimpleNamespace(pk=pk) for pk in snapshot.get("policies") or ()),
        vendors=_Rows(SimpleNamespace(pk=pk) for pk in snapshot.get("vendors") or ()),
        subject_kinds=list(snapshot.get("subject_kinds") or ()),
        languages=list(snapshot.get("languages") or ()),
        score_conditions=_Rows(ScoreCondition(**row) for row in snapshot.get("conditions") or ()),
    )


@dataclass
class Backtest:
    days: int
    start: datetime
    end: datetime
    cases: int = 0
    matched: int = 0
    per_day: dict[str, int] = field(default_factory=dict)  # ISO day (UTC, by opening) → matches
    queues: dict[str, int] = field(default_factory=dict)  # queue slug → cases it would have sent there
    decisions: dict[str, int] = field(default_factory=dict)  # "policy/action" → would-be automatic decisions
    automated_per_day: float = 0.0  # live automatic decisions a day (after the daily cap)
    protected: int = 0  # matches on protected subjects: sent to people, never decided
    tp: int = 0
    fp: int = 0
    fn: int = 0
    unlabelled: int = 0  # matched cases no person (or appeal) has judged

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def as_dict(self) -> dict:
        data = asdict(self)
        data |= {"start": self.start.isoformat(), "end": self.end.isoformat()}
        return data | {"precision": self.precision, "recall": self.recall}


def backtest_rule(rule: RoutingRule | dict, *, days: int, now: datetime | None = None) -> Backtest:
    """Replay `rule` (a saved rule, or a snapshot as `snapshot_of` writes it) over the cases opened in the
    last `days` days. Reads only. Raises Invalid (field `days`) outside 1..RULE_BACKTEST_MAX_DAYS."""
    if not isinstance(days, int) or not 1 <= days <= settings.RULE_BACKTEST_MAX_DAYS:
        raise Invalid(
            _("Backtest between 1 and %(days)d days.") % {"days": settings.RULE_BACKTEST_MAX_DAYS},
            field="days",
        )
    snapshot = snapshot_of(rule) if isinstance(rule, RoutingRule) else rule
    end = now or timezone.now()
    start = end - timedelta(days=days)
    result = Backtest(days=days, start=start, end=end)
    result.per_day = {
        (start.date() + timedelta(days=n)).isoformat(): 0 for n in range((end.date() - start.date()).days + 1)
    }
    history = _History.load(start, end)
    replayed = replayable_rule(snapshot)
    automation = snapshot.get("automation_mode") or RoutingRule.AutomationMode.OFF
    decides = automation != RoutingRule.AutomationMode.OFF
    queue_slugs = dict(Queue.objects.values_list("pk", "slug"))
    default_queue = (
        Queue.objects.filter(is_default=True, is_active=True).values_list("slug", flat=True).first()
    )
    target = queue_slugs.get(snapshot.get("target_queue")) or default_queue or "(no queue)"
    decision_key = _decision_key(snapshot) if decides else ""
    live_per_day: Counter[str] = Counter()
    with_velocity = rules_use_velocity([replayed])
    for case in history.cases:
        result.cases += 1
        matched = rule_matches(replayed, history.facts(case, with_velocity=with_velocity))
        label = history.label(case.pk, snapshot.get("auto_policy"))
        if matched:
            result.matched += 1
            day = case.opened_at.date().isoformat()
            result.per_day[day] = result.per_day.get(day, 0) + 1
            if decides and case.is_protected:
                result.protected += 1
                result.queues[target] = result.queues.get(target, 0) + 1
            elif decides:
                result.decisions[decision_key] = result.decisions.get(decision_key, 0) + 1
                if automation == RoutingRule.AutomationMode.LIVE:
                    live_per_day[day] += 1
                else:  # a shadow decision: the case is routed for real
                    result.queues[target] = result.queues.get(target, 0) + 1
            else:
                result.queues[target] = result.queues.get(target, 0) + 1
            if label is None:
                result.unlabelled += 1
            elif label:
                result.tp += 1
            else:
                result.fp += 1
        elif label:
            result.fn += 1
    cap = snapshot.get("max_automated_per_day") or settings.RULE_DEFAULT_DAILY_CAP
    result.automated_per_day = sum(min(count, cap) for count in live_per_day.values()) / days
    return result


def _decision_key(snapshot: dict) -> str:
    policy = Policy.objects.filter(pk=snapshot.get("auto_policy")).values_list("code", flat=True).first()
    action = Action.objects.filter(pk=snapshot.get("auto_action")).values_list("code", flat=True).first()
    return f"{policy or '?'}/{action or '?'}"


@dataclass(slots=True)
class _Case:
    pk: int
    opened_at: datetime
    routed_at: datetime | None
    policy_id: int | None
    severity: int | None
    reporter_count: int
    kind: str
    language: str
    author_id: str
    is_protected: bool
    subject_id: int


class _History:
    """The period's cases and everything known about them, read in bulk, answered per case in memory."""

    def __init__(self) -> None:
        self.cases: list[_Case] = []
        self.as_of: dict[int, datetime] = {}
        self.reports: dict[int, list[tuple]] = defaultdict(list)
        self.signals: dict[int, list[tuple]] = defaultdict(list)
        self.strikes: dict[str, list[tuple]] = defaultdict(list)
        self.decisions: dict[int, list[tuple]] = defaultdict(list)

    @classmethod
    def load(cls, start: datetime, end: datetime) -> "_History":
        history = cls()
        period = {"opened_at__gte": start, "opened_at__lte": end, "kind": Case.Kind.REPORT}
        in_period = {f"case__{key}": value for key, value in period.items()}
        # Rows, not model instances: building three models per case cost more than the replay itself.
        history.cases = [
            _Case(*row)
            for row in Case.objects.filter(**period)
            .order_by("opened_at", "pk")
            .values_list(
                "pk",
                "opened_at",
                "routed_at",
                "policy_id",
                "policy__severity",
                "reporter_count",
                "subject__kind",
                "subject__language",
                "subject__author_id",
                "subject__is_protected",
                "subject_id",
            )
        ]
        # What routing saw: the case as it was when first routed (a case never routed: when it opened).
        history.as_of = {case.pk: case.routed_at or case.opened_at for case in history.cases}
        for case_id, *row in Report.objects.filter(**in_period).values_list(
            "case_id", "policy_id", "vendor_id", "vendor__reliability", "received_at"
        ):
            history.reports[case_id].append(row)
        for case_id, *row in Signal.objects.filter(**in_period).values_list(
            "case_id", "source", "source_name", "label", "score", "value", "created_at"
        ):
            history.signals[case_id].append(row)
        authors = Case.objects.filter(**period).exclude(subject__author_id="").values("subject__author_id")
        for author_id, *row in Strike.objects.filter(author_id__in=authors).values_list(
            "author_id", "created_at", "removed_at", "expires_at"
        ):
            history.strikes[author_id].append(row)
        for case_id, *row in (
            Decision.objects.filter(**in_period, mode=Decision.Mode.LIVE, review_state__in=Decision.IN_FORCE)
            .order_by("created_at", "id")
            .values_list("case_id", "automated", "policy_id", "action__kind", "appeal__state")
        ):
            history.decisions[case_id].append(row)
        return history

    def facts(self, case: _Case, *, with_velocity: bool = False) -> CaseFacts:
        as_of = self.as_of[case.pk]
        reports = [row for row in self.reports[case.pk] if row[3] <= as_of]
        signals: dict[tuple[str, str], dict[str, float]] = {}
        max_score = None
        for source, source_name, label, score, value, created_at in self.signals[case.pk]:
            if created_at > as_of:
                continue  # arrived after routing: the rule could not have seen it
            number = score if score is not None else _numeric(value)
            if number is None:
                continue
            by_name = signals.setdefault((source, label), {})
            by_name[source_name] = max(by_name.get(source_name, number), number)
            if score is not None and source != Signal.Source.CONTEXT:
                max_score = score if max_score is None else max(max_score, score)
        strikes = sum(
            1
            for created_at, removed_at, expires_at in self.strikes.get(case.author_id, ())
            if created_at <= as_of
            and (removed_at is None or removed_at > as_of)
            and (expires_at is None or expires_at > as_of)
        )
        signals[(ScoreCondition.Source.SYSTEM, "author.active_strikes")] = {"": float(strikes)}
        if with_velocity:
            # Counters as they stood when the case was routed (a few aggregate queries a case, paid only by
            # rules that read a counter): the same point-in-time twin routing falls back on.
            subject = Subject(pk=case.subject_id, author_id=case.author_id)
            at_the_time = counters_at(subject, as_of, vendor_ids={row[1] for row in reports})
            for name, value in at_the_time.items():
                signals[(ScoreCondition.Source.SYSTEM, name)] = {"": value}
        return CaseFacts(
            policy_ids={row[0] for row in reports} | ({case.policy_id} if case.policy_id else set()),
            vendor_ids={row[1] for row in reports},
            subject_kind=case.kind,
            language=(case.language or "").lower(),
            severity=case.severity if case.policy_id else 1,
            distinct_reporters=case.reporter_count,
            vendor_reliability=max((row[2] for row in reports), default=0.0),
            signals=signals,
            max_score=max_score,
        )

    def label(self, case_id: int, policy_id: int | None) -> bool | None:
        """True: a violation (under `policy_id` if given); False: none; None: nobody has judged it."""
        decisions = self.decisions[case_id]
        human = [row for row in decisions if not row[0]]
        if human:
            _, decided_policy, kind, appeal_state = human[-1]
            violation = kind not in NOT_A_VIOLATION and (policy_id is None or decided_policy == policy_id)
            return not violation if appeal_state == Appeal.State.OVERTURNED else violation
        for _, decided_policy, kind, appeal_state in reversed(decisions):
            # Only automation decided: an appeal is the one human judgement of it.
            if appeal_state in (Appeal.State.UPHELD, Appeal.State.OVERTURNED) and kind not in NOT_A_VIOLATION:
                upheld = appeal_state == Appeal.State.UPHELD
                return upheld and (policy_id is None or decided_policy == policy_id)
        return None


def _numeric(value) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return None
