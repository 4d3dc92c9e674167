"""`python manage.py rebuild_health_rollups [--days 31]`: rebuild the dashboards' timing, team and per-rule /
per-model roll-ups of the last N days (a backfill after deploying them, or after correcting past decisions)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cases.services.performance_rollup import refresh_performance_days
from queues.services.health_rollups import rebuild_window


class Command(BaseCommand):
    help = (
        "Rebuild the Queue health and Team roll-ups (TimingBucket, AgentDay) and the Outcomes per-rule and "
        "per-model roll-up (PerformanceDay) for the last N days, today included. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=31)

    def handle(self, *args, days: int, **options):
        if days < 1:
            raise CommandError("days: at least 1.")
        now = timezone.now()
        timing_rows = rebuild_window(days=days, now=now)
        performance_rows = refresh_performance_days(start=now - timedelta(days=days - 1), end=now)
        self.stdout.write(
            f"rebuilt {days} days: {timing_rows} timing and team rows, {performance_rows} rule and model rows"
        )
