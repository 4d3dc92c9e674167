import json

from django.core.management.base import BaseCommand, CommandError

from cases.detection.learned import ArtefactTampered
from cases.detection.training import evaluate_lines, model_for
from cases.services.decision_import import read_decision_lines
from moderation.errors import DomainError
from moderation.models import Policy


class Command(BaseCommand):
    help = (
        "Score a labelled file (the import_decisions format) with the live or a named model; print the JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--policy", required=True, help="The policy's code.")
        parser.add_argument("file", help="UTF-8 JSON lines, as for import_decisions.")
        parser.add_argument("--model", help="A model version (default: the policy's live model).")
        parser.add_argument(
            "--target-precision",
            type=float,
            help="Also report the threshold reaching this precision on the file, 0 < p <= 1 (default: the "
            "policy's target precision).",
        )

    def handle(self, *args, policy: str, file: str, model: str | None, target_precision, **options):
        found = Policy.objects.filter(code=policy).first()
        if found is None:
            raise CommandError(f"policy: no policy with code {policy!r}")
        if target_precision is None:
            target_precision = found.target_precision
        if not 0.0 < target_precision <= 1.0:
            raise CommandError("target-precision: must be above 0 and at most 1")
        version = model_for(found, model)
        if version is None:
            raise CommandError(
                f"model: {'no version ' + repr(model) if model else 'no live model'} for {policy}"
            )
        try:
            with open(file, "rb") as handle:
                lines, problems = read_decision_lines(handle)
        except OSError as exc:
            raise CommandError(f"file: cannot read {file}: {exc.strerror or exc}") from None
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc}") from None
        if problems:
            raise CommandError(
                "\n".join(
                    [f"{len(problems)} bad line(s)"] + [f"  line {n}, {f}: {m}" for n, f, m in problems[:100]]
                )
            )
        lines = [line for line in lines if line.policy.pk == found.pk]
        try:
            figures = evaluate_lines(version, lines, target_precision=target_precision)
        except ArtefactTampered as exc:
            raise CommandError(f"model: {exc}") from None
        self.stdout.write(json.dumps(figures, indent=2))
