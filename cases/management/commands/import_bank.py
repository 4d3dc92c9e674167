from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.models import Bank
from cases.services.banks import import_into_bank
from moderation.errors import DomainError, InvalidRows


class Command(BaseCommand):
    help = (
        "Import a CSV (header: value[,label][,note]) into a matching bank, creating the bank if missing. "
        "All or nothing: any bad line refuses the whole file."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The bank's name (a slug); signals are labelled bank:<name>.")
        parser.add_argument("file", help="UTF-8 CSV file.")
        parser.add_argument("--kind", required=True, choices=Bank.Kind.values)
        parser.add_argument(
            "--replace", action="store_true", help="Make the bank hold exactly the file (others removed)."
        )
        parser.add_argument("--description", default="", help="For a new bank.")

    def handle(self, *args, name: str, file: str, kind: str, replace: bool, description: str, **options):
        path = Path(file)
        try:
            with path.open("rb") as handle:
                data = handle.read(settings.BANK_IMPORT_MAX_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"file: cannot read {file}: {exc.strerror or exc}") from None
        try:
            outcome, created = import_into_bank(
                name=name,
                kind=kind,
                data=data,
                replace=replace,
                description=description,
                source=path.name,
                via="import_bank",
            )
        except InvalidRows as exc:
            lines = [f"  line {line}, {field}: {message}" for line, field, message in exc.problems]
            raise CommandError("\n".join([f"{exc.message.split(':')[0]}:", *lines])) from None
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        verb = "Created" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} bank {name} ({kind}), revision {outcome.revision}: {outcome.added} added, "
                f"{outcome.updated} updated, {outcome.removed} removed, {outcome.unchanged} unchanged, "
                f"{outcome.duplicates} duplicate line(s) skipped."
            )
        )
