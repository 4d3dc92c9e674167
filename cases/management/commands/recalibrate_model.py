import json
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from cases.detection.training import model_for
from cases.services.model_registry import recalibrate_model
from moderation.audit import Actor
from moderation.errors import DomainError
from moderation.models import Policy


class Command(BaseCommand):
    help = (
        "Refit the calibration and threshold of the live (or a named) model on the labels decided since its "
        "training window (or --since): a new version takes its place; print the before/after figures as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--policy", required=True, help="The policy's code.")
        parser.add_argument("--model", help="A model version (default: the policy's live model).")
        parser.add_argument("--since", help="Only labels decided after this ISO 8601 moment.")
        parser.add_argument(
            "--target-precision",
            type=float,
            help="Precision the threshold must reach, 0 < p <= 1 (default: the policy's target precision).",
        )

    def handle(self, *args, policy: str, model: str | None, since: str | None, target_precision, **options):
        found = Policy.objects.filter(code=policy).first()
        if found is None:
            raise CommandError(f"policy: no policy with code {policy!r}")
        target_precision = found.target_precision if target_precision is None else target_precision
        if not 0.0 < target_precision <= 1.0:
            raise CommandError("target-precision: must be above 0 and at most 1")
        try:
            moment = datetime.fromisoformat(since) if since else None
        except ValueError:
            raise CommandError("since: not an ISO 8601 date and time") from None
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # as import_decisions reads naive times
        version = model_for(found, model)
        if version is None:
            raise CommandError(
                f"model: {'no version ' + repr(model) if model else 'no live model'} for {policy}"
            )
        try:
            new = recalibrate_model(
                version_id=version.pk,
                target_precision=target_precision,
                since=moment,
                actor=Actor.system("recalibrate_model"),
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc}") from None
        report = {"version": new.version, "state": new.state} | new.metrics["recalibration"]
        self.stdout.write(json.dumps(report, indent=2))
