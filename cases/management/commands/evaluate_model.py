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

    def handle(self, *args, policy: str, file: str, model: str | None, **options):
        found = Policy.objects.filter(code=policy).first()
        if found is None:
            raise CommandError(f"policy: no policy with code {policy!r}")
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
            figures = evaluate_lines(version, lines)
        except ArtefactTampered as exc:
            raise CommandError(f"model: {exc}") from None
        self.stdout.write(json.dumps(figures, indent=2))
