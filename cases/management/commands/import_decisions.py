from django.core.management.base import BaseCommand, CommandError

from cases.services.decision_import import import_decisions
from moderation.errors import DomainError, InvalidRows


class Command(BaseCommand):
    help = (
        "Import labelled decisions from a previous tool (JSON lines: external_id, text, policy, violating, "
        "decided_at; optional language, kind, author_id) as closed, imported cases. All or nothing unless "
        "--skip-bad. Nothing is enforced; re-importing the same external_id does nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="UTF-8 JSON lines file.")
        parser.add_argument(
            "--skip-bad", action="store_true", help="Import the good lines, report the bad ones."
        )

    def handle(self, *args, file: str, skip_bad: bool, **options):
        try:
            with open(file, "rb") as handle:
                outcome = import_decisions(lines=handle, source=file, skip_bad=skip_bad)
        except OSError as exc:
            raise CommandError(f"file: cannot read {file}: {exc.strerror or exc}") from None
        except InvalidRows as exc:
            lines = [f"  line {line}, {name}: {message}" for line, name, message in exc.problems[:100]]
            more = len(exc.problems) - len(lines)
            raise CommandError(
                "\n".join([str(exc), *lines] + ([f"  … and {more} more"] if more > 0 else []))
            ) from None
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc}") from None
        for line, name, message in outcome.skipped_bad:
            self.stderr.write(f"skipped line {line}, {name}: {message}")
        self.stdout.write(
            f"imported {outcome.imported}, already imported {outcome.already_imported}, "
            f"skipped {len(outcome.skipped_bad)}; {outcome.by_policy}"
        )
