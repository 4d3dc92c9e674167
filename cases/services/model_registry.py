"""Trained model versions: registering a candidate, shadowing it, promoting it and rolling back. Audited.

Promotion is earned on data, never asserted: the candidate and the live model are scored on the candidate's
held-out labels (the most recent window, unseen by either in training) and the candidate must beat the live
model on ROC-AUC or PR-AUC without being worse on either, nor on any language or subject-kind slice big
enough to measure, by more than `SLICE_TOLERANCE`.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from cases.detection.learned import ArtefactTampered, TextClassifier, dump, load
from cases.detection.training import NotEnoughLabels, held_out_examples, measure, recalibrate
from cases.models import ModelVersion
from moderation.audit import Actor, record_event
from moderation.audit_verbs import Verb
from moderation.errors import Conflict, Invalid, NotFound
from moderation.models import Policy

SLICE_TOLERANCE = 0.02  # AUC points a slice may lose (its sampling noise at MIN_SLICE examples is larger)


def _version_string(policy: Policy, now: datetime) -> str:
    return f"{policy.code}-{now:%Y%m%d%H%M%S%f}"[:64]


@transaction.atomic(durable=True)
def register_candidate(
    *,
    policy: Policy,
    model: TextClassifier,
    algorithm: str,
    metrics: dict,
    threshold: float | None,
    target_precision: float,
    label_counts: dict,
    window_start: datetime,
    window_end: datetime,
    held_out_from: datetime,
    actor: Actor,
) -> ModelVersion:
    """Store a freshly trained model as a candidate (serves nothing yet). Returns it."""
    artefact, digest = dump(model)
    now = timezone.now()
    version = ModelVersion.objects.create(
        policy=policy,
        version=_version_string(policy, now),
        algorithm=algorithm[:120],
        artefact=artefact,
        artefact_sha256=digest,
        metrics=metrics,
        threshold=threshold,
        target_precision=target_precision,
        label_counts=label_counts,
        window_start=window_start,
        window_end=window_end,
        held_out_from=held_out_from,
    )
    record_event(
        actor=actor,
        verb=Verb.MODEL_TRAINED,
        target=version,
        data={"policy": policy.code, "version": version.version, "sha256": digest, "labels": label_counts},
    )
    return version


def _locked(version_id: int) -> ModelVersion:
    version = ModelVersion.objects.select_for_update().select_related("policy").filter(pk=version_id).first()
    if version is None:
        raise NotFound("No such model version.", field="version")
    return version


@transaction.atomic(durable=True)
def shadow_model(*, version_id: int, actor: Actor) -> ModelVersion:
    """Score new cases with this candidate beside the live model; its signals are recorded, no rule reads them."""
    version = _locked(version_id)
    if version.state not in (ModelVersion.State.CANDIDATE, ModelVersion.State.RETIRED):
        raise Conflict(f"A {version.state} model cannot go into shadow.", field="version")
    version.state = ModelVersion.State.SHADOW
    version.save(update_fields=["state"])
    record_event(actor=actor, verb=Verb.MODEL_SHADOWED, target=version, data={"version": version.version})
    return version


def compare(candidate: ModelVersion, live: ModelVersion) -> dict:
    """Both models' figures on the candidate's held-out labels, and whether the candidate may replace the live one."""
    examples = held_out_examples(candidate)
    try:
        ours, theirs = measure(load(candidate), examples, None), measure(load(live), examples, None)
    except ArtefactTampered as exc:
        raise Conflict(str(exc), field="version") from None
    if ours["roc_auc"] is None:
        return {"candidate": ours, "live": theirs, "better": False, "reasons": ["held-out set has one class"]}
    reasons = []
    for metric in ("roc_auc", "pr_auc"):
        if ours[metric] < theirs[metric] - SLICE_TOLERANCE:
            reasons.append(f"{metric} {ours[metric]:.4f} < live {theirs[metric]:.4f}")
    if not (ours["roc_auc"] > theirs["roc_auc"] or ours["pr_auc"] > theirs["pr_auc"]):
        reasons.append("beats the live model on neither ROC-AUC nor PR-AUC")
    for dimension, groups in ours["slices"].items():
        for value, part in groups.items():
            other = theirs["slices"][dimension].get(value, {})
            measured = part.get("roc_auc") is not None and other.get("roc_auc") is not None
            if measured and part["roc_auc"] < other["roc_auc"] - SLICE_TOLERANCE:
                reasons.append(
                    f"{dimension}={value}: roc_auc {part['roc_auc']:.4f} < live {other['roc_auc']:.4f}"
                )
    for figures in (ours, theirs):
        figures.pop("curves", None)
    return {"candidate": ours, "live": theirs, "better": not reasons, "reasons": reasons}


@transaction.atomic(durable=True)
def promote_model(*, version_id: int, actor: Actor) -> ModelVersion:
    """Make a candidate (or shadow) the policy's live model, if it beats the live one on the same held-out
    labels without a worse slice (else Conflict, naming why). The old live model is retired, kept for rollback."""
    version = _locked(version_id)
    if version.state not in (ModelVersion.State.CANDIDATE, ModelVersion.State.SHADOW):
        raise Conflict(
            f"Only a candidate or shadow model is promoted; this one is {version.state}.", field="version"
        )
    live = (
        ModelVersion.objects.select_for_update()
        .filter(policy_id=version.policy_id, state=ModelVersion.State.LIVE)
        .first()
    )
    comparison = None
    if live is not None:
        comparison = compare(version, live)
        if not comparison["better"]:
            raise Conflict(
                f"{version.version} does not beat the live {live.version}: "
                + "; ".join(comparison["reasons"]),
                field="version",
            )
        live.state = ModelVersion.State.RETIRED
        live.save(update_fields=["state"])
    version.state = ModelVersion.State.LIVE
    version.promoted_at = timezone.now()
    version.save(update_fields=["state", "promoted_at"])
    record_event(
        actor=actor,
        verb=Verb.MODEL_PROMOTED,
        target=version,
        data={
            "version": version.version,
            "replaced": live.version if live else None,
            "candidate_roc_auc": comparison["candidate"]["roc_auc"] if comparison else None,
            "live_roc_auc": comparison["live"]["roc_auc"] if comparison else None,
        },
    )
    return version


@transaction.atomic(durable=True)
def rollback_model(*, version_id: int, actor: Actor) -> ModelVersion:
    """Put an earlier (retired) version of a policy's model live again, at once and without comparison: the
    way back when a promoted model misbehaves in production. The current live one is retired."""
    version = _locked(version_id)
    if version.state != ModelVersion.State.RETIRED or version.promoted_at is None:
        raise Invalid("Roll back to a model that was live before (a retired one).", field="version")
    try:
        load(version)
    except ArtefactTampered as exc:
        raise Conflict(str(exc), field="version") from None
    live = (
        ModelVersion.objects.select_for_update()
        .filter(policy_id=version.policy_id, state=ModelVersion.State.LIVE)
        .first()
    )
    if live is not None:
        live.state = ModelVersion.State.RETIRED
        live.save(update_fields=["state"])
    version.state = ModelVersion.State.LIVE
    version.save(update_fields=["state"])
    record_event(
        actor=actor,
        verb=Verb.MODEL_ROLLED_BACK,
        target=version,
        data={"version": version.version, "replaced": live.version if live else None},
    )
    return version


@transaction.atomic(durable=True)
def recalibrate_model(
    *, version_id: int, target_precision: float, actor: Actor, since: datetime | None = None
) -> ModelVersion:
    """A new version of the model with its calibration and threshold refitted on the labels decided since its
    training window (or `since`), taking the old one's place: a live model's recalibration goes live and
    the old one is retired (kept for rollback); a candidate's or shadow's stays a candidate or shadow.

    Not a promotion: the linear model (the ranking the promotion guard compares) is the same, only the scores
    and the threshold move, and every signal carries the new version. Audited with the before/after figures.
    """
    version = _locked(version_id)
    if version.state == ModelVersion.State.RETIRED:
        raise Invalid("Recalibrate a candidate, shadow or live model, not a retired one.", field="version")
    try:
        result = recalibrate(version, target_precision=target_precision, since=since)
    except ArtefactTampered as exc:
        raise Conflict(str(exc), field="version") from None
    except NotEnoughLabels as exc:
        raise Invalid(str(exc), field="since") from None
    artefact, digest = dump(result.model)
    state = version.state
    version.state = ModelVersion.State.RETIRED  # first: one live model per policy
    version.save(update_fields=["state"])
    now = timezone.now()
    new = ModelVersion.objects.create(
        policy=version.policy,
        version=_version_string(version.policy, now),
        state=state,
        algorithm=version.algorithm,
        artefact=artefact,
        artefact_sha256=digest,
        metrics=version.metrics | {"recalibration": result.figures},
        threshold=result.threshold,
        target_precision=target_precision,
        label_counts=version.label_counts,
        window_start=version.window_start,
        window_end=version.window_end,
        held_out_from=version.held_out_from,
        promoted_at=now if state == ModelVersion.State.LIVE else None,
    )
    record_event(
        actor=actor,
        verb=Verb.MODEL_RECALIBRATED,
        target=new,
        data={
            "version": new.version,
            "replaced": version.version,
            "labels": result.figures["n"],
            "threshold_before": version.threshold,
            "threshold_after": result.threshold,
        },
    )
    return new
