from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import connection
from django.utils import timezone

from cases.demo import DEMO_PASSWORD, seed_configuration, seed_reports
from cases.demo_platform import PATH, seed_demo_endpoint
from cases.services.oversight_rollup import refresh_oversight_hours
from moderation.audit import Actor
from moderation.services import issue_vendor_token
from queues.services.health_snapshots import record_queue_health


class Command(BaseCommand):
    help = "Load demo policies, actions, queues, vendors, users and a few hundred reports (safe to re-run)."

    def add_arguments(self, parser):
        parser.add_argument("--reports", type=int, default=300)
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the app will be served."
        )
        parser.add_argument(
            "--platform-url",
            default="",
            help="Where run_fake_platform listens (e.g. http://127.0.0.1:8001): made the enforcement endpoint.",
        )

    def handle(self, *args, reports: int, base_url: str, platform_url: str, **options):
        base_url = base_url.rstrip("/")
        seeded = seed_configuration()
        endpoint = None
        if platform_url:
            endpoint = seed_demo_endpoint(url=platform_url.rstrip("/") + PATH)
        created = seed_reports(vendors=seeded["vendors"], count=reports)
        # The lead dashboards read what beat's tasks record; `make run` has no beat, so record the first
        # snapshot and roll-ups now (both are idempotent: a re-run rewrites the same rows).
        now = timezone.now()
        record_queue_health(now=now)
        refresh_oversight_hours(since=now - timedelta(days=1), until=now)
        if connection.vendor == "postgresql":
            # The planner's statistics for the tables just filled: without them it takes each for nearly empty
            # until autovacuum gets round to them (a minute or more), and plans the first pages by that.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        _, token = issue_vendor_token(
            vendor=seeded["vendors"]["user-reports"], label="demo", actor=Actor.system("seed_demo")
        )
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded ({created} new reports)."))
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Review queues: {base_url}/queues/  as agent / {DEMO_PASSWORD}",
                    "    (n: next case, 1-9: action, Enter: decide and next, r: reveal media, ?: all keys)",
                    f"  Lead: lead / {DEMO_PASSWORD} (the team's queues, and cleared for child safety)",
                    f"  Admin: {base_url}/admin/  as admin / {DEMO_PASSWORD}",
                    "  Two-factor (TOTP) is required for leads and admins outside this demo:"
                    " TWO_FACTOR_REQUIRED=privileged make run",
                    f"  Demo vendor token (user-reports): {token}",
                    "  Try:",
                    f"    curl -s -X POST {base_url}/api/v1/reports -H 'Authorization: Bearer {token}' \\",
                    "      -H 'Content-Type: application/json' \\",
                    '      -d \'{"external_id":"curl-1","reason":"spam","subject":{"kind":"post",'
                    '"external_id":"post-1","text":"buy followers"}}\'',
                    f"  API docs: {base_url}/api/docs/",
                    *(
                        [f"  Enforcement webhooks go to {endpoint.url} ({endpoint.name})"]
                        if endpoint is not None
                        else []
                    ),
                    "",
                ]
            )
        )
