"""`python manage.py backtest_rule RULE_ID [--days 30] [--json]`: what the rule would have done (reads only)."""

import json

from django.core.management.base import BaseCommand, CommandError

from moderation.errors import DomainError
from queues.backtest import backtest_rule
from queues.models import RoutingRule


class Command(BaseCommand):
    help = (
        "Replay a routing rule over the cases opened in the last N days, with the signals they had when they "
        "were routed: matches per day, queues, decisions, precision and recall against human decisions."
    )

    def add_arguments(self, parser):
        parser.add_argument("rule_id", type=int)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")

    def handle(self, *args, rule_id: int, days: int, json: bool, **options):
        rule = RoutingRule.objects.filter(pk=rule_id).first()
        if rule is None:
            raise CommandError(f"rule_id: no routing rule {rule_id}.")
        try:
            result = backtest_rule(rule, days=days)
        except DomainError as refused:
            raise CommandError(f"{refused.field}: {refused.message}") from refused
        if json:
            self.stdout.write(
                _json({"rule": rule.pk, "name": rule.name, "version": rule.version, **result.as_dict()})
            )
            return
        precision = "—" if result.precision is None else f"{result.precision:.3f}"
        recall = "—" if result.recall is None else f"{result.recall:.3f}"
        lines = [
            f"Rule {rule.pk} {rule.name!r} v{rule.version} ({rule.state}), last {days} days",
            f"cases replayed {result.cases}, matched {result.matched}",
            f"precision {precision} (tp {result.tp}, fp {result.fp}), recall {recall} (fn {result.fn}), "
            f"unlabelled {result.unlabelled}",
            f"automatic decisions a day {result.automated_per_day:.2f}, protected sent to people "
            f"{result.protected}",
            "matches per day:",
            *(f"  {day} {count}" for day, count in result.per_day.items()),
            "would route to:",
            *(f"  {queue} {count}" for queue, count in sorted(result.queues.items())),
            "would decide:",
            *(f"  {key} {count}" for key, count in sorted(result.decisions.items())),
        ]
        self.stdout.write("\n".join(lines))


def _json(data: dict) -> str:
    return json.dumps(data, sort_keys=True)
