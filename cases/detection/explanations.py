"""Why our model scored a case as it did, for the case page: the live score, how close it is to the
threshold (an unsure case is worth a person's look), the live rules it disagrees with (a rule's automatic
decision, live or shadow, on the other side of the threshold), and the features that pushed it most.

The features are rebuilt as the model saw them (the scoring record's moment and content version), so the
explanation is of the score that was given, not of what the case looks like now.
"""

from dataclasses import dataclass

from cases.detection.features import features_at
from cases.detection.learned import ArtefactTampered, load
from cases.models import Case, Decision, ScoringRecord
from moderation.models import Action


@dataclass(frozen=True)
class ScoreExplanation:
    policy: str
    version: str
    score: float
    threshold: float | None
    unsure: bool
    pushes: list[tuple[str, float]]  # (feature, contribution to the linear score), strongest first
    disagreements: tuple[tuple[str, bool], ...] = ()  # (rule name, the rule says violating)


def explain_case(case: Case, *, top: int = 8) -> ScoreExplanation | None:
    """The latest live-model score of the case, explained; None when no trained model scored it."""
    record = (
        ScoringRecord.objects.filter(case=case, is_shadow=False)
        .select_related("model_version__policy")
        .order_by("-scored_at", "-pk")
        .first()
    )
    if record is None:
        return None
    version = record.model_version
    try:
        model = load(version)
    except ArtefactTampered:
        return None
    features = features_at(case, record.scored_at, record.content_version)
    pushes = model.explain(features, top=top) if features.digest == record.feature_hash else []
    return ScoreExplanation(
        policy=version.policy.name,
        version=version.version,
        score=record.score,
        threshold=version.threshold,
        unsure=version.is_unsure(record.score),
        pushes=pushes,
        disagreements=tuple(
            (name, violating)
            for name, policy_id, violating in _rule_verdicts(case)
            if policy_id == version.policy_id and version.disagrees(record.score, violating)
        ),
    )


def _rule_verdicts(case: Case) -> list[tuple[str, int, bool]]:
    """(rule name, policy id, violating) of every rule decision on the case, live or shadow, and of the rule
    that routed it (an automatic decision that was capped or sent to people still says what it would do)."""
    verdicts = {
        (decision.rule.name, decision.policy_id, decision.action.kind != Action.Kind.NO_VIOLATION)
        for decision in Decision.objects.filter(case=case, rule__isnull=False).select_related(
            "rule", "action"
        )
        if decision.action.kind != Action.Kind.ESCALATE
    }
    rule = case.routed_by_rule if case.routed_by_rule_id else None
    if rule is not None and rule.verdict is not None:
        verdicts.add((rule.name, *rule.verdict))
    return sorted(verdicts)
