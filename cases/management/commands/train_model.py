import json
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from cases.detection.training import NotEnoughLabels, train
from cases.services.model_registry import register_candidate
from moderation.audit import Actor
from moderation.models import Policy


class Command(BaseCommand):
    help = (
        "Train the policy's classifier on its labels (final human decisions), split by time into train / "
        "validation / most recent held-out; print the held-out evaluation as JSON and register a candidate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--policy", required=True, help="The policy's code.")
        parser.add_argument("--since", help="Only labels decided at or after this ISO 8601 moment.")
        parser.add_argument(
            "--target-precision",
            type=float,
            help="Precision the threshold must reach, 0 < p <= 1 (default: the policy's target precision).",
        )

    def handle(self, *args, policy: str, since: str | None, target_precision: float | None, **options):
        found = Policy.objects.filter(code=policy).first()
        if found is None:
            raise CommandError(f"policy: no policy with code {policy!r}")
        if target_precision is None:
            target_precision = found.target_precision
        if not 0.0 < target_precision <= 1.0:
            raise CommandError("target-precision: must be above 0 and at most 1")
        try:
            moment = datetime.fromisoformat(since) if since else None
        except ValueError:
            raise CommandError("since: not an ISO 8601 date and time") from None
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # as import_decisions reads naive times
        try:
            trained = train(policy_id=found.pk, target_precision=target_precision, since=moment)
        except NotEnoughLabels as exc:
            raise CommandError(f"policy: {exc}") from None
        version = register_candidate(
            policy=found,
            model=trained.model,
            algorithm=trained.metrics["algorithm"],
            metrics=trained.metrics,
            threshold=trained.threshold,
            target_precision=target_precision,
            label_counts=trained.label_counts,
            window_start=trained.window_start,
            window_end=trained.window_end,
            held_out_from=trained.held_out_from,
            actor=Actor.system("train_model"),
        )
        figures = {k: v for k, v in trained.metrics["held_out"].items() if k != "curves"}
        report = {
            "version": version.version,
            "state": version.state,
            "training_seconds": round(trained.seconds, 2),
            "labels": trained.label_counts,
            **{k: v for k, v in trained.metrics.items() if k != "held_out"},
            "held_out": figures,
        }
        self.stdout.write(json.dumps(report, indent=2))
