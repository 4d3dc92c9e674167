import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from cases import statement_selectors as selectors
from cases.models import Case
from cases.services.statements import record_export
from moderation.audit import Actor


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name}: {value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Export the DSA statements of reasons created in a period: JSON (an array, each statement exactly as "
        "submitted to the Transparency Database) or CSV (one row each, spreadsheet-safe). Audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="First day (YYYY-MM-DD), inclusive.")
        parser.add_argument("--until", help="Last day (YYYY-MM-DD), inclusive; default today.")
        parser.add_argument("--format", choices=("json", "csv"), default="json")
        parser.add_argument("--output", help="File to write (default: standard output).")

    def handle(self, *args, since: str, until: str | None, format: str, output: str | None, **options):
        first = _day(since, "since")
        last = _day(until, "until") if until else None
        if last is not None and last < first:
            raise CommandError("--until is before --since.")
        # The command line is the operator's: every case, restricted ones included (as for the admin).
        statements = selectors.statements_in_period(Case.objects.all(), since=first, until=last)
        period_end = last or selectors.period_bounds(first, None)[1].date()
        record_export(actor=Actor.system("export_statements"), since=first, until=period_end, fmt=format)
        parts = (
            selectors.statements_json(statements)
            if format == "json"
            else selectors.statements_csv(statements)
        )
        if not output:
            for part in parts:
                sys.stdout.write(part)
            return
        try:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                for part in parts:
                    stream.write(part)
        except OSError as exc:
            raise CommandError(f"--output: cannot write {output}: {exc.strerror or exc}") from None
