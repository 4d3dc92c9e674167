from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cases.retention_selectors import purge_preview
from cases.services.retention import purge_expired_content


class Command(BaseCommand):
    help = (
        "Purge the content of subjects whose cases are past their policy's retention (what the beat task "
        "does). --dry-run prints what would be purged and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be purged; purge nothing."
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            help="At most this many subjects (default: one beat run's worth).",
        )

    def handle(self, *args, dry_run: bool, limit: int | None, **options):
        batch = settings.RETENTION_BATCH_SIZE
        limit = limit if limit is not None else batch * settings.RETENTION_MAX_BATCHES
        if limit < 1:
            raise CommandError("--limit: give a positive number.")
        now = timezone.now()
        if dry_run:
            rows = purge_preview(now=now, limit=limit)
            for row in rows:
                self.stdout.write(
                    f"would purge subject {row['subject_id']} ({row['subject']}): cases "
                    f"{', '.join(map(str, row['cases']))}; policies {', '.join(row['policies'])}; "
                    f"{row['versions']} versions, {row['media_urls']} media, {row['reports']} reports"
                )
            self.stdout.write(f"{len(rows)} subjects would be purged (dry run: nothing changed).")
            return
        purged = purge_expired_content(now=now, batch_size=min(batch, limit), max_batches=-(-limit // batch))
        for item in purged:
            self.stdout.write(
                f"purged subject {item.subject_id} under {item.policy}: {item.versions} versions, "
                f"{item.media_files} media files, {item.reports} reports, {item.signals} bank signals"
            )
        self.stdout.write(f"{len(purged)} subjects purged.")
