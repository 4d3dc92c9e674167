"""Token rotation with an overlap window: the new token works at once, the old ones until the window ends."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from moderation.audit import Actor
from moderation.models import AuditEvent, VendorToken
from moderation.services import issue_vendor_token, rotate_vendor_token
from tests import factories

pytestmark = pytest.mark.django_db


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def reads(client) -> int:
    return client.get("/api/v1/reports/999999").status_code  # 404 when authenticated, 401 when not


@pytest.fixture
def vendor(db):
    return factories.VendorFactory(slug="acme")


def test_during_the_overlap_both_tokens_work(vendor):
    _, old = issue_vendor_token(vendor=vendor, actor=Actor.system("test"))

    _, new = rotate_vendor_token(vendor=vendor, actor=Actor.system("test"), overlap_hours=24)

    assert reads(client_with(old)) == 404
    assert reads(client_with(new)) == 404
    assert AuditEvent.objects.filter(verb="vendor_token.rotated").count() == 1


def test_after_the_overlap_the_old_token_is_refused(vendor):
    _, old = issue_vendor_token(vendor=vendor, actor=Actor.system("test"))
    _, new = rotate_vendor_token(vendor=vendor, actor=Actor.system("test"), overlap_hours=1)

    VendorToken.objects.exclude(expires_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert reads(client_with(old)) == 401
    assert reads(client_with(new)) == 404


def test_a_zero_overlap_ends_the_old_token_at_once(vendor):
    _, old = issue_vendor_token(vendor=vendor, actor=Actor.system("test"))

    rotate_vendor_token(vendor=vendor, actor=Actor.system("test"), overlap_hours=0)

    assert reads(client_with(old)) == 401


def test_rotating_never_extends_an_earlier_expiry(vendor):
    token, _ = issue_vendor_token(vendor=vendor, actor=Actor.system("test"))
    soon = timezone.now() + timedelta(hours=1)
    VendorToken.objects.filter(pk=token.pk).update(expires_at=soon)

    rotate_vendor_token(vendor=vendor, actor=Actor.system("test"), overlap_hours=48)

    assert VendorToken.objects.get(pk=token.pk).expires_at == soon


def test_the_command_prints_the_new_token_once(vendor, capsys):
    call_command("rotate_vendor_token", "acme", "--overlap-hours", "2")

    out = capsys.readouterr().out
    plaintext = out.split("(shown once): ")[1].split()[0]
    assert reads(client_with(plaintext)) == 404
    assert "expire in 2 hours" in out
