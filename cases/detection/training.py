"""Training a policy's classifier on its labels, split by time, and evaluating it the same way every time.

Labels (`cases.labels`) are sorted by when the human decided; the oldest 60 % train, the next 20 % choose the
calibration and the threshold (validation), the most recent 20 % are held out and only measured on. Features
are those of the moment each case was first scored by a trained model (its `ScoringRecord`), else the moment
it was routed or opened: what a model serving then would have seen.
"""

import time
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min

from cases.detection.evaluation import curves, evaluate, threshold_for_precision
from cases.detection.features import Features, Moment, features_for, features_of_text
from cases.detection.learned import ALGORITHM, TextClassifier, load
from cases.labels import Label, policy_labels
from cases.models import Case, ModelVersion, ScoringRecord
from moderation.models import Policy

TRAIN_SHARE, VALIDATION_SHARE = 0.6, 0.2
MIN_LABELS = 50


class NotEnoughLabels(Exception):
    pass


@dataclass
class Example:
    label: Label
    features: Features
    language: str
    kind: str


@dataclass
class Trained:
    model: TextClassifier
    metrics: dict
    threshold: float | None
    label_counts: dict
    window_start: datetime
    window_end: datetime
    held_out_from: datetime
    seconds: float


def examples(labels: list[Label]) -> list[Example]:
    """Labels with their point-in-time features, in the labels' order."""
    case_ids = [label.case_id for label in labels]
    cases, first_scored = {}, {}
    for start in range(0, len(case_ids), 500):
        chunk = case_ids[start : start + 500]
        cases |= Case.objects.select_related("subject").in_bulk(chunk)
        for row in (
            ScoringRecord.objects.filter(case_id__in=chunk, is_shadow=False)
            .values("case_id")
            .annotate(at=Min("scored_at"))
        ):
            first_scored[row["case_id"]] = row["at"]
    first_versions = {}
    if first_scored:
        for record in ScoringRecord.objects.filter(case_id__in=list(first_scored), is_shadow=False).only(
            "case_id", "scored_at", "content_version"
        ):
            if record.scored_at == first_scored[record.case_id]:
                first_versions[record.case_id] = record.content_version
    moments = []
    for label in labels:
        case = cases[label.case_id]
        at = first_scored.get(case.pk) or case.routed_at or case.opened_at
        moments.append(Moment(case, at, first_versions.get(case.pk)))
    features = features_for(moments)
    return [
        Example(label, f, cases[label.case_id].subject.language or "", cases[label.case_id].subject.kind)
        for label, f in zip(labels, features, strict=True)
    ]


def measure(model: TextClassifier, held_out: list[Example], threshold: float | None) -> dict:
    scores = model.scores([e.features for e in held_out])
    labels = [e.label.violating for e in held_out]
    slices = {"language": [e.language for e in held_out], "kind": [e.kind for e in held_out]}
    return evaluate(labels, scores, threshold=threshold, slices=slices) | {"curves": curves(labels, scores)}


def train(*, policy_id: int, target_precision: float, since: datetime | None = None) -> Trained:
    started = time.perf_counter()
    labels = policy_labels(policy_id, since=since)
    if len(labels) < MIN_LABELS:
        raise NotEnoughLabels(f"{len(labels)} labels; training needs at least {MIN_LABELS}")
    data = examples(labels)
    n = len(data)
    train_end, validation_end = int(n * TRAIN_SHARE), int(n * (TRAIN_SHARE + VALIDATION_SHARE))
    fit, validation, held_out = data[:train_end], data[train_end:validation_end], data[validation_end:]
    for name, part in (("training", fit), ("validation", validation)):
        if len({e.label.violating for e in part}) < 2:
            raise NotEnoughLabels(f"the {name} window has only one class of label")
    model = TextClassifier().fit([e.features for e in fit], [e.label.violating for e in fit])
    model.calibrate([e.features for e in validation], [e.label.violating for e in validation])
    validation_scores = model.scores([e.features for e in validation])
    threshold = threshold_for_precision(
        [e.label.violating for e in validation], validation_scores, target_precision
    )
    metrics = {
        "algorithm": ALGORITHM,
        "target_precision": target_precision,
        "threshold": threshold,
        "split": {"train": len(fit), "validation": len(validation), "held_out": len(held_out)},
        "held_out": measure(model, held_out, threshold),
    }
    counts = {
        "violating": sum(e.label.violating for e in data),
        "not_violating": sum(not e.label.violating for e in data),
    }
    return Trained(
        model=model,
        metrics=metrics,
        threshold=threshold,
        label_counts=counts,
        window_start=data[0].label.decided_at,
        window_end=data[-1].label.decided_at,
        held_out_from=held_out[0].label.decided_at,
        seconds=time.perf_counter() - started,
    )


@dataclass
class Recalibrated:
    model: TextClassifier
    threshold: float | None
    figures: dict


def recalibrate(
    version: ModelVersion,
    *,
    target_precision: float,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Recalibrated:
    """The version's model with its calibration (isotonic) and threshold refitted on the most recent labels:
    those decided after its training window (or `since`). The linear model, so the ranking, is untouched;
    what moves is the score a case gets and where the threshold lies, so that precision at the threshold
    holds when the share of violations drifts (SpamAssassin: 22 % spam in validation, 6 % a year later).
    `until` ends the window (the bench keeps the later labels to measure on)."""
    start = since or version.window_end
    labels = [
        label
        for label in policy_labels(version.policy_id, since=start, until=until)
        if label.decided_at > start
    ]
    if len(labels) < MIN_LABELS:
        raise NotEnoughLabels(f"{len(labels)} labels since {start:%Y-%m-%d %H:%M}; needs {MIN_LABELS}")
    recent = examples(labels)
    truth = [e.label.violating for e in recent]
    if len(set(truth)) < 2:
        raise NotEnoughLabels("the recent window has only one class of label")
    model = load(version)
    before = model.scores([e.features for e in recent])
    model.calibrate([e.features for e in recent], truth)
    after = model.scores([e.features for e in recent])
    threshold = threshold_for_precision(truth, after, target_precision)
    figures = {
        "from_version": version.version,
        "window": [recent[0].label.decided_at.isoformat(), recent[-1].label.decided_at.isoformat()],
        "n": len(recent),
        "positives": sum(truth),
        "target_precision": target_precision,
        "threshold_before": version.threshold,
        "threshold_after": threshold,
        "before": evaluate(truth, before, threshold=version.threshold),
        "after": evaluate(truth, after, threshold=threshold),
    }
    return Recalibrated(model=model, threshold=threshold, figures=figures)


def held_out_examples(version: ModelVersion) -> list[Example]:
    """The candidate's held-out labels (as they stand now): where promotion compares it with the live model."""
    labels = [
        label
        for label in policy_labels(version.policy_id, since=version.held_out_from)
        if version.window_end is None or label.decided_at <= version.window_end
    ]
    return examples(labels)


def evaluate_lines(version: ModelVersion, lines, *, target_precision: float | None = None) -> dict:
    """Score labelled lines (the import format's `DecisionLine`s, as texts with no history here) with
    `version` and measure it at its own threshold: a golden-set evaluation. With `target_precision`, also
    where the threshold reaching that precision on these lines lies, and the recall there (`at_target`):
    whether the model's threshold still holds on this set."""
    model = load(version)
    scores = model.scores(
        [features_of_text(line.text, kind=line.kind, language=line.language) for line in lines]
    )
    labels = [line.violating for line in lines]
    slices = {"language": [line.language for line in lines], "kind": [line.kind for line in lines]}
    out = {"model": version.version, "threshold": version.threshold} | evaluate(
        labels, scores, threshold=version.threshold, slices=slices
    )
    if target_precision is not None:
        threshold = threshold_for_precision(labels, scores, target_precision)
        at = evaluate(labels, scores, threshold=threshold) if threshold is not None else {}
        out["at_target"] = {
            "target_precision": target_precision,
            "threshold": threshold,
            "precision": at.get("precision_at_threshold"),
            "recall": at.get("recall_at_threshold"),
        }
    return out


def model_for(policy: Policy, version: str | None = None) -> ModelVersion | None:
    """The named version of the policy's model, else its live one."""
    versions = ModelVersion.objects.filter(policy=policy)
    return (
        versions.filter(version=version).first()
        if version
        else versions.filter(state=ModelVersion.State.LIVE).first()
    )
