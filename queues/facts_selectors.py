"""What routing rules look at: a case's facts (now, or as they stood for a backtest) and the boosts read
from them. Read-side only; `queues.selectors` re-exports these names for the callers that predate it."""

from dataclasses import dataclass, field
from datetime import datetime

from cases.counters import COUNTER_NAMES, counters_at, live_counters
from cases.models import Case, ModelVersion, Report, Signal
from cases.track_record import active_strike_count, reporter_weight
from queues.models import RoutingRule, ScoreCondition


@dataclass
class CaseFacts:
    """What routing rules can look at."""

    policy_ids: set[int]
    vendor_ids: set[int]
    subject_kind: str
    language: str
    severity: int
    distinct_reporters: int
    vendor_reliability: float
    reporter_accuracy: float = 1.0
    # (source, label) → {source name → strongest numeric value}: ML scores, vendor scores, numeric context
    # facts (booleans are 0/1) and system facts, kept apart by who said them (`ScoreCondition.source`).
    signals: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    # strongest ML or vendor score (context facts excluded), None without any
    max_score: float | None = None


def case_facts(case: Case, *, as_of: datetime | None = None, with_velocity: bool = True) -> CaseFacts:
    """What rules see of the case now, or (`as_of`, for backtests) as it stood then: only reports received
    and signals created by `as_of`, with system facts (strikes, velocity counters) computed for that moment
    from the database. A fixed number of queries either way. `with_velocity=False` leaves the counters out
    (routing, when no rule it evaluates reads one)."""
    report_rows = Report.objects.filter(case=case)
    # A shadow model's score is for comparing models, never a routing fact nor the case's strongest score.
    signal_rows = Signal.objects.filter(case=case).exclude(source=Signal.Source.SHADOW_MODEL)
    if as_of is not None:
        report_rows = report_rows.filter(received_at__lte=as_of)
        signal_rows = signal_rows.filter(created_at__lte=as_of)
    reports = list(report_rows.values_list("policy_id", "vendor_id", "vendor__reliability").distinct())
    signals: dict[tuple[str, str], dict[str, float]] = {}
    max_score: float | None = None
    for label, score, value, source, source_name in signal_rows.values_list(
        "label", "score", "value", "source", "source_name"
    ):
        number = score if score is not None else _numeric(value)
        if number is None:
            continue
        by_name = signals.setdefault((source, label), {})
        by_name[source_name] = max(by_name.get(source_name, number), number)
        # A bank hit is a match (1.0 or a PDQ similarity), not a probability: it counts through its own
        # conditions (`[bank] bank:<name>`), not as the case's strongest score.
        if score is not None and source not in (Signal.Source.CONTEXT, Signal.Source.BANK):
            max_score = score if max_score is None else max(max_score, score)
    # Repeat offenders: routing rules can match on the author's active strikes (a system-fact ScoreCondition
    # on `author.active_strikes`) to raise priority or send them to a specialist queue.
    signals[(ScoreCondition.Source.SYSTEM, "author.active_strikes")] = {
        "": float(active_strike_count(case.subject.author_id, as_of=as_of))
    }
    # Velocity (`author.reports_24h` ≥ 20...): the rate of the vendors that reported this case counts.
    vendor_ids = {vendor_id for _, vendor_id, _ in reports}
    if not with_velocity:
        velocity = {}
    elif as_of is None:
        velocity = live_counters(case.subject, vendor_ids=vendor_ids)
    else:
        velocity = counters_at(case.subject, as_of, vendor_ids=vendor_ids)
    for name, value in velocity.items():
        signals[(ScoreCondition.Source.SYSTEM, name)] = {"": value}
    # Muted (bad-faith) reporters do not raise priority; the others count by their track record.
    muted_reporters, accuracy = reporter_weight(case.pk)
    reporter_count = case.reporter_count if as_of is None else _reporters_by(case, as_of)
    facts = CaseFacts(
        policy_ids={policy_id for policy_id, _, _ in reports}
        | ({case.policy_id} if case.policy_id else set()),
        vendor_ids={vendor_id for _, vendor_id, _ in reports},
        subject_kind=case.subject.kind,
        language=(case.subject.language or "").lower(),
        severity=case.policy.severity if case.policy_id else 1,
        distinct_reporters=max(reporter_count - muted_reporters, 0),
        reporter_accuracy=accuracy,
        vendor_reliability=max((reliability for _, _, reliability in reports), default=0.0),
        signals=signals,
        max_score=max_score,
    )
    return facts


def model_lead_boost(facts: "CaseFacts", rules: list[RoutingRule] = ()) -> float:
    """Leads for review: a case our live model is unsure about (its score near the model's threshold), or on
    which it disagrees with a live rule that matched (the rule's automatic decision, live or shadow, says
    violating and the score is under the threshold, or the other way round), is raised, so people label
    exactly where the model (or the rule) learns most. No query unless a trained model scored the case."""
    trained = {
        label.removeprefix("trained."): max(by_name.values())
        for (source, label), by_name in facts.signals.items()
        if source == ScoreCondition.Source.SCORER and label.startswith("trained.") and by_name
    }
    if not trained:
        return 0.0
    live = list(
        ModelVersion.objects.filter(
            state=ModelVersion.State.LIVE, policy__code__in=list(trained)
        ).select_related("policy")
    )
    boost = 0.0
    if any(version.is_unsure(trained[version.policy.code]) for version in live):
        boost += ModelVersion.UNSURE_PRIORITY_BOOST
    by_policy = {version.policy_id: version for version in live}
    for policy_id, violating in (rule.verdict for rule in rules if rule.verdict is not None):
        version = by_policy.get(policy_id)
        if version is not None and version.disagrees(trained[version.policy.code], violating):
            boost += ModelVersion.DISAGREEMENT_PRIORITY_BOOST
            break  # once a case, however many rules it contradicts
    return boost


def rules_use_velocity(rules) -> bool:
    """Any of these rules has a velocity-counter condition (uses the prefetched conditions)."""
    return any(
        condition.source == ScoreCondition.Source.SYSTEM and condition.label in COUNTER_NAMES
        for rule in rules
        for condition in rule.score_conditions.all()
    )


def _reporters_by(case: Case, at: datetime) -> int:
    """The case's distinct reporters as counted by `at` (the stored count is today's)."""
    return (
        Report.objects.filter(case=case, received_at__lte=at)
        .order_by()
        .values_list("vendor_id", "reporter_id")
        .distinct()
        .count()
    )


def _numeric(value) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return None
