from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from moderation.audit import Actor
from moderation.models import Vendor
from moderation.services import issue_vendor_token


class Command(BaseCommand):
    help = "Create a vendor (or reuse one by name) and print a new API token for it."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--reliability", type=float, default=0.5)
        parser.add_argument("--label", default="created by create_vendor")

    def handle(self, *args, name: str, reliability: float, label: str, **options):
        if not 0.0 <= reliability <= 1.0:
            raise CommandError("--reliability must be between 0 and 1")
        slug = slugify(name)[:64]
        if not slug:
            raise CommandError("NAME must contain letters or digits")
        vendor, _ = Vendor.objects.get_or_create(
            name=name, defaults={"slug": slug, "reliability": reliability}
        )
        _, plaintext = issue_vendor_token(vendor=vendor, label=label, actor=Actor.system("create_vendor"))
        self.stdout.write(plaintext)
