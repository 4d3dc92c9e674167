"""python manage.py rotate_vendor_token SLUG [--overlap-hours 24]: a new token; the old ones expire later."""

from django.core.management.base import BaseCommand, CommandError

from moderation.audit import Actor
from moderation.models import Vendor
from moderation.services import rotate_vendor_token


class Command(BaseCommand):
    help = "Issue a new API token for a vendor; its current tokens keep working for the overlap, then expire."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--overlap-hours", type=float, default=24.0)

    def handle(self, slug, overlap_hours, **options):
        vendor = Vendor.objects.filter(slug=slug).first()
        if vendor is None:
            raise CommandError(f"No vendor {slug!r}.")
        try:
            _, plaintext = rotate_vendor_token(
                vendor=vendor, actor=Actor.system("rotate_vendor_token"), overlap_hours=overlap_hours
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"New token for {vendor.slug} (shown once): {plaintext}")
        self.stdout.write(f"Its previous tokens expire in {overlap_hours:g} hours.")
