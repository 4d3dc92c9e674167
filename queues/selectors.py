"""Read-side queries for routing."""

from dataclasses import dataclass, field

from cases.models import Case, Report, Signal
from moderation.config_cache import ConfigCache
from queues.models import Queue, RoutingRule


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
    # label → strongest numeric value (ML score, vendor score or numeric context fact; booleans are 0/1)
    signals: dict[str, float] = field(default_factory=dict)
    # strongest ML or vendor score (context facts excluded), None without any
    max_score: float | None = None


def case_facts(case: Case) -> CaseFacts:
    reports = list(
        Report.objects.filter(case=case)
        .values_list("policy_id", "vendor_id", "vendor__reliability")
        .distinct()
    )
    signals: dict[str, float] = {}
    max_score: float | None = None
    for label, score, value, source in Signal.objects.filter(case=case).values_list(
        "label", "score", "value", "source"
    ):
        number = score if score is not None else _numeric(value)
        if number is None:
            continue
        signals[label] = max(signals.get(label, number), number)
        if score is not None and source != Signal.Source.CONTEXT:
            max_score = score if max_score is None else max(max_score, score)
    facts = CaseFacts(
        policy_ids={policy_id for policy_id, _, _ in reports}
        | ({case.policy_id} if case.policy_id else set()),
        vendor_ids={vendor_id for _, vendor_id, _ in reports},
        subject_kind=case.subject.kind,
        language=(case.subject.language or "").lower(),
        severity=case.policy.severity if case.policy_id else 1,
        distinct_reporters=case.reporter_count,
        vendor_reliability=max((reliability for _, _, reliability in reports), default=0.0),
        signals=signals,
        max_score=max_score,
    )
    return facts


def _numeric(value) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _load_routing_config() -> tuple[list[RoutingRule], Queue | None]:
    """Active rules (with everything matching needs, prefetched) and the default queue."""
    rules = list(
        RoutingRule.objects.filter(is_active=True)
        .select_related("target_queue", "auto_action", "auto_policy")
        .prefetch_related("policies", "vendors", "score_conditions")
        .order_by("position", "id")
    )
    return rules, Queue.objects.filter(is_default=True, is_active=True).first()


# Read for every case a worker routes, so cached; saving a rule, condition, queue, policy, action or vendor
# clears it (`queues.apps`).
_routing_config = ConfigCache(_load_routing_config)
forget_routing_config = _routing_config.forget


def active_rules() -> list[RoutingRule]:
    return _routing_config.get()[0]


def default_queue() -> Queue | None:
    return _routing_config.get()[1]


@dataclass(frozen=True)
class ShadowScore:
    """How a shadow rule's verdicts compare with what people later decided on the same cases."""

    recorded: int  # shadow decisions the rule recorded
    reviewed: int  # …on cases a person has since decided
    agreed: int  # …where the person took the same action

    @property
    def precision(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None


def shadow_scores(rule_ids: list[int]) -> dict[int, ShadowScore]:
    """Per rule: shadow decisions, how many were reviewed by a person, and how many the person agreed with.

    The person's verdict is the latest live, non-automated decision on the case. Two queries for any number of
    rules (admin list pages call this once per page).
    """
    from cases.models import Decision

    shadows = list(
        Decision.objects.filter(rule_id__in=rule_ids, mode=Decision.Mode.SHADOW).values_list(
            "rule_id", "case_id", "action_id"
        )
    )
    human: dict[int, int] = {}
    for case_id, action_id in (
        Decision.objects.filter(
            case_id__in={case_id for _, case_id, _ in shadows}, mode=Decision.Mode.LIVE, automated=False
        )
        .order_by("case_id", "created_at", "id")
        .values_list("case_id", "action_id")
    ):
        human[case_id] = action_id  # ordered: the last one wins
    counts: dict[int, list[int]] = {rule_id: [0, 0, 0] for rule_id in rule_ids}
    for rule_id, case_id, action_id in shadows:
        tally = counts[rule_id]
        tally[0] += 1
        if case_id in human:
            tally[1] += 1
            tally[2] += human[case_id] == action_id
    return {rule_id: ShadowScore(*tally) for rule_id, tally in counts.items()}
