"""Secrets are write-only in the admin: vendor signing and callback secrets, scorer and context-provider
credentials, the enforcement webhook secret. Never sent back to a browser (form, view-only page, list, history)
nor written to the audit log; an empty post keeps the secret, a typed one rotates it (audited, without it)."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django import forms
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from cases.models import Scorer
from moderation.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

SIGNING = "sign-" + "5e1f" * 10
CALLBACK = "call-" + "c0de" * 10
SCORER_KEY = "Bearer sk-live-" + "9a" * 20
PROVIDER_KEY = "Bearer pk-live-" + "7b" * 20
WEBHOOK = "whsec-" + "3f9c" * 10
NEW_SECRET = "rotated-" + "ab12" * 10


@dataclass
class SecretCase:
    admin_path: str  # app/model
    field: str
    secret: str
    make: Any  # () -> the object holding the secret

    def change_url(self, obj) -> str:
        return f"/admin/{self.admin_path}/{obj.pk}/change/"


CASES = [
    SecretCase("moderation/vendor", "signing_secret", SIGNING, lambda: vendor_with_secrets()),
    SecretCase("moderation/vendor", "callback_secret", CALLBACK, lambda: vendor_with_secrets()),
    SecretCase(
        "cases/scorer", "auth_value", SCORER_KEY, lambda: factories.ScorerFactory(auth_value=SCORER_KEY)
    ),
    SecretCase(
        "cases/contextprovider",
        "auth_value",
        PROVIDER_KEY,
        lambda: factories.ContextProviderFactory(auth_value=PROVIDER_KEY),
    ),
    SecretCase(
        "moderation/enforcementendpoint",
        "secret",
        WEBHOOK,
        lambda: factories.EnforcementEndpointFactory(secret=WEBHOOK),
    ),
]
IDS = [f"{case.admin_path.split('/')[1]}.{case.field}" for case in CASES]
EVERY_SECRET = (SIGNING, CALLBACK, SCORER_KEY, PROVIDER_KEY, WEBHOOK, NEW_SECRET)


def vendor_with_secrets():
    return factories.VendorFactory(
        require_signature=True,
        signing_secret=SIGNING,
        callback_url="https://vendor.example/outcomes",
        callback_secret=CALLBACK,
    )


@pytest.fixture(params=CASES, ids=IDS)
def case(request):
    return request.param


def posted_back(page, **changes) -> dict:
    """What a browser would post back from this change page, with `changes` made (like a person typing)."""
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def stored(case, obj) -> str:
    obj.refresh_from_db()
    return getattr(obj, case.field)


def assert_nowhere_in_the_audit_log():
    for event in AuditEvent.objects.all():
        dumped = json.dumps(event.data)
        assert not any(secret in dumped for secret in EVERY_SECRET), event.verb
    for entry in LogEntry.objects.all():
        assert not any(secret in entry.change_message for secret in EVERY_SECRET)


def test_no_admin_page_shows_the_secret(admin_client, case):
    obj = case.make()

    change = admin_client.get(case.change_url(obj))
    listing = admin_client.get(f"/admin/{case.admin_path}/")
    # A search over the secret's column would be an oracle for guessing it.
    search = admin_client.get(f"/admin/{case.admin_path}/", {"q": case.secret[-12:]})

    html = change.content.decode()
    assert (change.status_code, listing.status_code, search.status_code) == (200, 200, 200)
    assert f'type="password" name="{case.field}"' in html
    assert "A secret is set: leave empty to keep it." in html
    assert case.secret not in html
    assert case.secret not in listing.content.decode()
    assert search.context["cl"].result_count == 0
    optional = case.field != "secret"  # the enforcement webhook cannot work without one
    assert (f'name="clear_{case.field}"' in html) is optional


def test_an_empty_post_keeps_the_secret(admin_client, case):
    obj = case.make()
    page = admin_client.get(case.change_url(obj))

    response = admin_client.post(case.change_url(obj), posted_back(page, **{case.field: ""}))

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert stored(case, obj) == case.secret
    assert not AuditEvent.objects.filter(verb__startswith="admin.secret_").exists()
    (changed,) = AuditEvent.objects.filter(verb="admin.changed")
    assert case.field.replace("_", " ") not in changed.data["change"].lower()


def test_typing_a_new_secret_rotates_it_and_the_audit_log_says_so_without_it(admin_client, case):
    obj = case.make()
    page = admin_client.get(case.change_url(obj))

    response = admin_client.post(case.change_url(obj), posted_back(page, **{case.field: NEW_SECRET}))

    assert response.status_code == 302
    assert stored(case, obj) == NEW_SECRET
    (rotated,) = AuditEvent.objects.filter(verb="admin.secret_rotated")
    assert (rotated.target_id, rotated.data) == (str(obj.pk), {"field": case.field})
    assert_nowhere_in_the_audit_log()
    assert NEW_SECRET not in admin_client.get(case.change_url(obj)).content.decode()
    assert (
        NEW_SECRET not in admin_client.get(case.change_url(obj).replace("change", "history")).content.decode()
    )


def test_a_typed_secret_is_not_echoed_when_the_form_comes_back_with_errors(admin_client, case):
    obj = case.make()
    page = admin_client.get(case.change_url(obj))

    response = admin_client.post(
        case.change_url(obj), posted_back(page, **{case.field: NEW_SECRET, "name": ""})
    )

    assert response.status_code == 200  # "name" is required
    assert NEW_SECRET not in response.content.decode()
    assert case.secret not in response.content.decode()
    assert stored(case, obj) == case.secret


def test_a_view_only_page_says_a_secret_is_set_and_nothing_more(case):
    obj = case.make()
    app_label, model = case.admin_path.split("/")
    viewer = factories.UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=f"view_{model}")
    )
    client = Client()
    client.force_login(viewer)

    page = client.get(case.change_url(obj))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Set (never shown)" in html
    assert case.secret not in html


@pytest.mark.parametrize("case", [c for c in CASES if c.field != "secret"], ids=IDS[:-1])
def test_an_optional_secret_can_be_removed(admin_client, case):
    obj = case.make()
    page = admin_client.get(case.change_url(obj))
    changes = {case.field: "", f"clear_{case.field}": "on"}
    if case.field == "signing_secret":
        changes["require_signature"] = None  # unsigned from now on (a signed vendor needs a secret)
    if case.field == "callback_secret":
        changes["callback_url"] = ""

    response = admin_client.post(case.change_url(obj), posted_back(page, **changes))

    assert response.status_code == 302
    assert stored(case, obj) == ""
    (removed,) = AuditEvent.objects.filter(verb="admin.secret_removed")
    assert removed.data == {"field": case.field}


def test_adding_with_a_secret_stores_it_and_never_shows_it(admin_client):
    response = admin_client.post(
        "/admin/cases/scorer/add/",
        {
            "name": "External",
            "kind": "http",
            "is_enabled": "on",
            "subject_kinds": "[]",
            "url": "https://scorer.example/v1/moderate",
            "auth_header": "Authorization",
            "auth_value": SCORER_KEY,
            "timeout_seconds": "3",
            "request_format": "simple",
            "response_format": "label_scores",
        },
    )

    assert response.status_code == 302
    scorer = Scorer.objects.get(name="External")
    assert scorer.auth_value == SCORER_KEY
    assert SCORER_KEY not in admin_client.get(f"/admin/cases/scorer/{scorer.pk}/change/").content.decode()
    assert_nowhere_in_the_audit_log()
