from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from moderation.audit import Actor
from moderation.models import Vendor
from moderation.services import issue_vendor_token


class Command(BaseCommand):
    help = "Create a vendor (or reuse one by name) and print a new API token for it."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--reliability", type=float, default=0.5, help="For a new vendor (0..1).")
        parser.add_argument("--label", default="created by create_vendor")

    def handle(self, *args, name: str, reliability: float, label: str, **options):
        if not 0.0 <= reliability <= 1.0:  # also false for NaN
            raise CommandError("--reliability must be between 0 and 1")
        slug = slugify(name)[:64]
        if not slug:
            raise CommandError("NAME must contain letters or digits")
        vendor = Vendor.objects.filter(name=name).first()
        if vendor is None:
            if Vendor.objects.filter(slug=slug).exists():
                raise CommandError(f"Another vendor already uses the slug {slug!r}; choose a different name.")
            vendor = Vendor.objects.create(name=name, slug=slug, reliability=reliability)
        elif options.get("verbosity", 1) > 1:
            self.stderr.write(f"Reusing vendor {vendor.name!r} (reliability {vendor.reliability}).")
        _, plaintext = issue_vendor_token(vendor=vendor, label=label, actor=Actor.system("create_vendor"))
        self.stdout.write(plaintext)
