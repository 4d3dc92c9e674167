import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.selectors import bank_named
from cases.services.banks import export_bank_csv


class Command(BaseCommand):
    help = "Export a matching bank's active entries as CSV (value,label,note), spreadsheet-safe."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("file", nargs="?", help="Where to write it (default: standard output).")

    def handle(self, *args, name: str, file: str | None, **options):
        bank = bank_named(name)
        if bank is None:
            raise CommandError(f"name: no bank is called {name!r}.")
        text = export_bank_csv(bank=bank, via="export_bank")
        if file is None:
            sys.stdout.write(text)
            return
        try:
            Path(file).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"file: cannot write {file}: {exc.strerror or exc}") from None
        self.stderr.write(f"Exported bank {name} (revision {bank.revision}) to {file}.")
