"""Held-out figures for a yes/no model: ranking (ROC-AUC, PR-AUC), the operating point at a target precision,
calibration, and the same per language and subject kind, as one JSON-able dict."""

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

MIN_SLICE = 30  # a slice smaller than this, or with one class only, gets counts but no AUC


def threshold_for_precision(labels, scores, target: float) -> float | None:
    """The lowest score whose "violating above it" reaches `target` precision (None: never reached)."""
    y, p = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    if y.sum() == 0 or y.sum() == len(y):
        return None
    precision, _, thresholds = precision_recall_curve(y, p)
    reached = np.nonzero(precision[:-1] >= target)[0]
    return float(thresholds[reached[0]]) if len(reached) else None


def expected_calibration_error(labels, scores, bins: int = 10) -> float:
    y, p = np.asarray(labels, dtype=float), np.asarray(scores, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(error)


def _ranking(y: np.ndarray, p: np.ndarray) -> dict:
    if len(y) == 0 or y.min() == y.max():
        return {"roc_auc": None, "pr_auc": None}
    return {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p))}


def evaluate(labels, scores, *, threshold: float | None, slices: dict[str, list[str]] | None = None) -> dict:
    """Figures on (labels, scores); `threshold` is chosen elsewhere (on validation data), never here."""
    y, p = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    out = {"n": len(y), "positives": int(y.sum()), **_ranking(y, p)}
    if threshold is not None and len(y):
        flagged = p >= threshold
        hits = int((flagged & (y == 1)).sum())
        out["precision_at_threshold"] = float(hits / flagged.sum()) if flagged.any() else None
        out["recall_at_threshold"] = float(hits / y.sum()) if y.sum() else None
    out["calibration_error"] = expected_calibration_error(y, p) if len(y) else None
    out["slices"] = {}
    for dimension, values in (slices or {}).items():
        groups = {}
        for value in sorted(set(values)):
            mask = np.array([v == value for v in values])
            part = {"n": int(mask.sum()), "positives": int(y[mask].sum())}
            if mask.sum() >= MIN_SLICE:
                part |= _ranking(y[mask], p[mask])
            groups[value or "(none)"] = part
        out["slices"][dimension] = groups
    return out


def curves(labels, scores, points: int = 50) -> dict:
    """Precision-recall and calibration points, for the admin's plots."""
    y, p = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    if len(y) == 0 or y.min() == y.max():
        return {"pr": [], "calibration": []}
    precision, recall, _ = precision_recall_curve(y, p)
    step = max(1, len(precision) // points)
    pr = [[float(r), float(q)] for q, r in list(zip(precision, recall, strict=True))[::step]]
    edges = np.linspace(0.0, 1.0, 11)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, 9)
    calibration = [
        [float(p[which == b].mean()), float(y[which == b].mean()), int((which == b).sum())]
        for b in range(10)
        if (which == b).any()
    ]
    return {"pr": pr, "calibration": calibration}
