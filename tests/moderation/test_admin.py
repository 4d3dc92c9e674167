"""The Django admin: vendor tokens shown once and revocable, evidence read-only, changelists cheap, changes audited."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from cases.models import Case, Report
from moderation.audit import Actor, Verb, record_event
from moderation.models import Action, AuditEvent, Policy, Vendor, VendorToken
from moderation.services import issue_vendor_token
from moderation.tokens import TOKEN_PREFIX, hash_token
from queues.models import Queue, RoutingRule
from tests import factories

pytestmark = pytest.mark.django_db

TOKEN_RE = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]{40,}")  # a whole token, not its prefix
TOKEN_ADD_URL = "/admin/moderation/vendortoken/add/"
TOKEN_CHANGELIST_URL = "/admin/moderation/vendortoken/"


def api_status(token: str, path: str = "/api/v1/reports/1") -> int:
    """What the intake API answers to `token` (404 = authenticated, no such report; 401 = refused)."""
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def add_token_through_admin(admin_client, vendor, label="from the admin"):
    response = admin_client.post(TOKEN_ADD_URL, {"vendor": vendor.pk, "label": label}, follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    return response, messages


def shown_tokens(messages: list[str]) -> list[str]:
    return [token for message in messages for token in TOKEN_RE.findall(message)]


# --- Vendor tokens: issued once, stored hashed -------------------------------------------------------------


def test_adding_a_token_shows_its_plaintext_exactly_once_in_the_messages(admin_client):
    vendor = factories.VendorFactory()

    response, messages = add_token_through_admin(admin_client, vendor)

    tokens = shown_tokens(messages)
    assert len(tokens) == 1, messages
    plaintext = tokens[0]
    assert len([m for m in messages if plaintext in m]) == 1
    assert response.content.decode().count(plaintext) == 1
    # The message has been consumed: the next page does not repeat it.
    assert plaintext not in admin_client.get(TOKEN_CHANGELIST_URL).content.decode()


def test_an_admin_issued_token_is_stored_only_as_its_sha256(admin_client):
    vendor = factories.VendorFactory()

    _, messages = add_token_through_admin(admin_client, vendor, label="siem export")

    (plaintext,) = shown_tokens(messages)
    row = VendorToken.objects.get()
    assert row.vendor == vendor
    assert row.label == "siem export"
    assert row.key_hash == hash_token(plaintext)
    assert row.revoked_at is None
    assert plaintext.startswith(row.prefix)
    assert len(row.prefix) < len(plaintext)
    for column, value in VendorToken.objects.values().get().items():
        assert plaintext not in str(value), f"plaintext token stored in VendorToken.{column}"


def test_an_admin_issued_token_leaves_no_plaintext_in_the_audit_log_or_admin_history(admin_client):
    vendor = factories.VendorFactory()

    _, messages = add_token_through_admin(admin_client, vendor)

    (plaintext,) = shown_tokens(messages)
    for event in AuditEvent.objects.values():
        assert plaintext not in str(event)
    for entry in LogEntry.objects.values():
        assert plaintext not in str(entry)
    issued = AuditEvent.objects.get(verb="vendor_token.issued")
    assert issued.actor_type == AuditEvent.ActorType.USER
    assert issued.actor_label == "admin"
    assert issued.target_id == str(VendorToken.objects.get().pk)


def test_an_admin_issued_token_authenticates_against_the_api(admin_client):
    vendor = factories.VendorFactory()

    _, messages = add_token_through_admin(admin_client, vendor)

    (plaintext,) = shown_tokens(messages)
    assert api_status(plaintext) == 404  # authenticated; the report simply does not exist
    assert api_status(plaintext + "x") == 401


def test_the_token_change_page_never_shows_the_plaintext_again(admin_client):
    vendor = factories.VendorFactory()
    _, messages = add_token_through_admin(admin_client, vendor)
    (plaintext,) = shown_tokens(messages)
    token = VendorToken.objects.get()

    response = admin_client.get(f"/admin/moderation/vendortoken/{token.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert token.prefix in page
    assert plaintext not in page
    assert token.key_hash not in page


def test_a_token_cannot_be_edited_through_its_change_page(admin_client):
    vendor = factories.VendorFactory()
    other = factories.VendorFactory()
    token, _ = issue_vendor_token(vendor=vendor, label="original", actor=Actor.system("test"))

    response = admin_client.post(
        f"/admin/moderation/vendortoken/{token.pk}/change/", {"vendor": other.pk, "label": "changed"}
    )

    assert response.status_code == 403
    token.refresh_from_db()
    assert (token.vendor, token.label) == (vendor, "original")


# --- Vendor tokens: revocation ---------------------------------------------------------------------------


def revoke_through_admin(admin_client, tokens):
    return admin_client.post(
        TOKEN_CHANGELIST_URL,
        {"action": "revoke", "_selected_action": [token.pk for token in tokens]},
        follow=True,
    )


def test_the_revoke_action_revokes_only_the_selected_tokens(admin_client):
    vendor = factories.VendorFactory()
    (first, first_plain), (second, second_plain), (kept, kept_plain) = (
        issue_vendor_token(vendor=vendor, label=label, actor=Actor.system("test"))
        for label in ("a", "b", "c")
    )
    assert api_status(first_plain) == 404

    response = revoke_through_admin(admin_client, [first, second])

    assert response.status_code == 200
    assert "Revoked 2 token(s)." in [str(m) for m in response.context["messages"]]
    first.refresh_from_db()
    second.refresh_from_db()
    kept.refresh_from_db()
    assert first.revoked_at is not None and second.revoked_at is not None
    assert kept.revoked_at is None
    assert api_status(first_plain) == 401
    assert api_status(second_plain) == 401
    assert api_status(kept_plain) == 404


def test_revoking_a_token_is_audited_with_the_admin_as_actor(admin_client, admin_user):
    vendor = factories.VendorFactory()
    token, _ = issue_vendor_token(vendor=vendor, label="a", actor=Actor.system("test"))

    revoke_through_admin(admin_client, [token])

    event = AuditEvent.objects.get(verb="vendor_token.revoked")
    assert event.target_type == "moderation.vendortoken"
    assert event.target_id == str(token.pk)
    assert event.actor_type == AuditEvent.ActorType.USER
    assert event.actor_id == str(admin_user.pk)
    assert event.actor_label == admin_user.username


def test_revoking_an_already_revoked_token_changes_nothing_and_is_not_audited_twice(admin_client):
    vendor = factories.VendorFactory()
    token, _ = issue_vendor_token(vendor=vendor, label="a", actor=Actor.system("test"))
    revoke_through_admin(admin_client, [token])
    token.refresh_from_db()
    revoked_at = token.revoked_at

    response = revoke_through_admin(admin_client, [token])

    assert "Revoked 0 token(s)." in [str(m) for m in response.context["messages"]]
    token.refresh_from_db()
    assert token.revoked_at == revoked_at
    assert AuditEvent.objects.filter(verb="vendor_token.revoked").count() == 1


def test_tokens_cannot_be_deleted_through_the_admin(admin_client):
    token, plaintext = issue_vendor_token(
        vendor=factories.VendorFactory(), label="a", actor=Actor.system("test")
    )

    assert (
        admin_client.post(f"/admin/moderation/vendortoken/{token.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    admin_client.post(
        TOKEN_CHANGELIST_URL, {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"}
    )

    assert VendorToken.objects.filter(pk=token.pk).exists()
    assert api_status(plaintext) == 404


# --- Evidence and history are read-only -------------------------------------------------------------------


def _case():
    case = factories.CaseFactory()
    factories.ReportFactory(case=case)
    return case


def _report():
    return factories.ReportFactory()


def _subject():
    return factories.SubjectFactory()


def _audit_event():
    vendor = factories.VendorFactory()
    return record_event(actor=Actor.system("test"), verb=Verb.ADMIN_CHANGED, target=vendor, data={"n": 1})


READ_ONLY = [
    pytest.param("cases", "case", _case, {"status": Case.Status.RESOLVED, "priority": "99"}, id="case"),
    pytest.param("cases", "report", _report, {"external_id": "tampered", "reason": "tampered"}, id="report"),
    pytest.param("cases", "subject", _subject, {"text": "tampered", "author_id": "tampered"}, id="subject"),
    pytest.param(
        "moderation", "auditevent", _audit_event, {"verb": "tampered", "actor_label": "tampered"}, id="audit"
    ),
]


def _snapshot(obj):
    return type(obj).objects.filter(pk=obj.pk).values().get()


@pytest.mark.parametrize(("app", "model", "make", "_changes"), READ_ONLY)
def test_evidence_changelist_and_change_page_are_viewable(admin_client, app, model, make, _changes):
    obj = make()

    changelist = admin_client.get(f"/admin/{app}/{model}/")
    change_page = admin_client.get(f"/admin/{app}/{model}/{obj.pk}/change/")

    assert changelist.status_code == 200
    assert change_page.status_code == 200
    # Rendered read-only: no save buttons, no delete link.
    page = change_page.content.decode()
    assert 'name="_save"' not in page
    assert f"/admin/{app}/{model}/{obj.pk}/delete/" not in page


@pytest.mark.parametrize(("app", "model", "make", "_changes"), READ_ONLY)
def test_evidence_cannot_be_added_through_the_admin(admin_client, app, model, make, _changes):
    existing = make()
    count = type(existing).objects.count()

    assert admin_client.get(f"/admin/{app}/{model}/add/").status_code == 403
    assert admin_client.post(f"/admin/{app}/{model}/add/", {}).status_code == 403
    assert admin_client.get(f"/admin/{app}/{model}/").context["has_add_permission"] is False
    assert type(existing).objects.count() == count


@pytest.mark.parametrize(("app", "model", "make", "changes"), READ_ONLY)
def test_posting_to_an_evidence_change_page_does_not_modify_it(admin_client, app, model, make, changes):
    obj = make()
    before = _snapshot(obj)

    response = admin_client.post(f"/admin/{app}/{model}/{obj.pk}/change/", changes)

    assert response.status_code == 403
    assert _snapshot(obj) == before


@pytest.mark.parametrize(("app", "model", "make", "_changes"), READ_ONLY)
def test_evidence_cannot_be_deleted_through_the_admin(admin_client, app, model, make, _changes):
    obj = make()

    assert admin_client.get(f"/admin/{app}/{model}/{obj.pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/{app}/{model}/{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    admin_client.post(
        f"/admin/{app}/{model}/", {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )

    assert type(obj).objects.filter(pk=obj.pk).exists()


# --- Changelists stay cheap ------------------------------------------------------------------------------

ROWS = 30
MAX_QUERIES = 15


def _policies():
    actions = factories.ActionFactory.create_batch(3)
    for policy in factories.PolicyFactory.create_batch(ROWS):
        policy.allowed_actions.set(actions)


def _actions():
    factories.ActionFactory.create_batch(ROWS)


def _vendors():
    for vendor in factories.VendorFactory.create_batch(ROWS):
        for label in ("live", "old"):
            issue_vendor_token(vendor=vendor, label=label, actor=Actor.system("test"))
    VendorToken.objects.filter(label="old").update(revoked_at=timezone.now())


def _queues():
    users = factories.UserFactory.create_batch(2)
    for queue in factories.QueueFactory.create_batch(ROWS):
        queue.members.set(users)


def _routing_rules():
    for n in range(ROWS):
        rule = factories.RoutingRuleFactory(
            target_queue=factories.QueueFactory(), auto_action=factories.ActionFactory()
        )
        rule.policies.add(factories.PolicyFactory())
        factories.ScoreConditionFactory(rule=rule)


def _cases():
    queue = factories.QueueFactory()
    for n in range(ROWS):
        case = factories.CaseFactory(queue=queue, assignee=factories.UserFactory(), report_count=1)
        factories.ReportFactory(case=case)


def _reports():
    factories.ReportFactory.create_batch(ROWS)


def _audit_events():
    vendor = factories.VendorFactory()
    for n in range(ROWS):
        record_event(actor=Actor.for_vendor(vendor), verb=list(Verb)[n % 5], target=vendor, case_id=n)


CHANGELISTS = [
    pytest.param("/admin/moderation/policy/", Policy, _policies, id="policy"),
    pytest.param("/admin/moderation/action/", Action, _actions, id="action"),
    pytest.param("/admin/moderation/vendor/", Vendor, _vendors, id="vendor"),
    pytest.param("/admin/queues/queue/", Queue, _queues, id="queue"),
    pytest.param("/admin/queues/routingrule/", RoutingRule, _routing_rules, id="routingrule"),
    pytest.param("/admin/cases/case/", Case, _cases, id="case"),
    pytest.param("/admin/cases/report/", Report, _reports, id="report"),
    pytest.param("/admin/moderation/auditevent/", AuditEvent, _audit_events, id="auditevent"),
]


@pytest.mark.parametrize(("url", "model", "populate"), CHANGELISTS)
def test_changelist_renders_30_rows_in_a_bounded_number_of_queries(
    admin_client, django_assert_max_num_queries, url, model, populate
):
    populate()
    assert model.objects.count() >= ROWS
    admin_client.get(url)  # warm up: session, content types, permission caches

    with django_assert_max_num_queries(MAX_QUERIES):
        response = admin_client.get(url)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= ROWS


def test_vendor_changelist_counts_only_unrevoked_tokens(admin_client):
    _vendors()

    response = admin_client.get("/admin/moderation/vendor/")

    rows = response.context["cl"].result_list
    assert len(rows) == ROWS
    model_admin = response.context["cl"].model_admin
    assert {model_admin.active_tokens(vendor) for vendor in rows} == {1}


# --- Configuration changes are audited --------------------------------------------------------------------


def policy_form(**overrides):
    data = {
        "name": "Spam",
        "code": "spam",
        "description": "",
        "is_active": "on",
        "severity": "2",
        "sla_hours": "24",
        "allowed_actions": [],
        "user_facing_text": "",
        "dsa_category": Policy.DsaCategory.SCAMS_AND_FRAUD,
        "target_precision": "0.9",
        "dsa_ground": Policy.DsaGround.INCOMPATIBLE_CONTENT,
    }
    data.update(overrides)
    return data


def test_changing_a_policy_in_the_admin_records_an_admin_changed_audit_event(admin_client, admin_user):
    policy = factories.PolicyFactory(code="spam", name="Spam", severity=1, sla_hours=72)

    response = admin_client.post(
        f"/admin/moderation/policy/{policy.pk}/change/", policy_form(severity="4", sla_hours="12")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    policy.refresh_from_db()
    assert (policy.severity, policy.sla_hours) == (4, 12)
    event = AuditEvent.objects.get(verb="admin.changed")
    assert event.actor_type == AuditEvent.ActorType.USER
    assert event.actor_id == str(admin_user.pk)
    assert event.actor_label == admin_user.username == "admin"
    assert event.target_type == "moderation.policy"
    assert event.target_id == str(policy.pk)
    assert "severity" in event.data["change"].lower() or "Severity" in event.data["change"]


def test_adding_a_policy_in_the_admin_records_an_admin_added_audit_event(admin_client, admin_user):
    action = factories.ActionFactory(code="remove")

    response = admin_client.post(
        "/admin/moderation/policy/add/",
        policy_form(code="hate", name="Hate", severity="4", allowed_actions=[action.pk]),
    )

    assert response.status_code == 302
    policy = Policy.objects.get(code="hate")
    assert list(policy.allowed_actions.all()) == [action]
    event = AuditEvent.objects.get(verb="admin.added")
    assert event.actor_label == admin_user.username
    assert event.actor_type == AuditEvent.ActorType.USER
    assert (event.target_type, event.target_id) == ("moderation.policy", str(policy.pk))


def test_an_invalid_policy_form_changes_nothing_and_records_no_event(admin_client):
    policy = factories.PolicyFactory(code="spam", name="Spam", severity=1)

    response = admin_client.post(f"/admin/moderation/policy/{policy.pk}/change/", policy_form(severity="9"))

    assert response.status_code == 200  # the form again, with errors
    assert response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert policy.severity == 1
    assert not AuditEvent.objects.filter(verb__startswith="admin.").exists()


def test_deleting_a_policy_in_the_admin_records_an_admin_deleted_audit_event(admin_client, admin_user):
    policy = factories.PolicyFactory(code="spam", name="Spam")
    pk = policy.pk

    response = admin_client.post(f"/admin/moderation/policy/{pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Policy.objects.filter(pk=pk).exists()
    event = AuditEvent.objects.get(verb="admin.deleted")
    assert event.actor_label == admin_user.username
    assert (event.target_type, event.target_id) == ("moderation.policy", str(pk))


def test_the_admin_changing_a_vendor_is_audited_too(admin_client, admin_user):
    vendor = factories.VendorFactory(name="Acme", slug="acme", reliability=0.5)

    response = admin_client.post(
        f"/admin/moderation/vendor/{vendor.pk}/change/",
        {
            "name": "Acme",
            "slug": "acme",
            "reliability": "0.9",
            "is_active": "on",
            "contact": "",
            "dsa_source_type": "SOURCE_ARTICLE_16",
            "tokens-TOTAL_FORMS": "0",
            "tokens-INITIAL_FORMS": "0",
            "tokens-MIN_NUM_FORMS": "0",
            "tokens-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302
    vendor.refresh_from_db()
    assert vendor.reliability == 0.9
    event = AuditEvent.objects.get(verb="admin.changed")
    assert (event.target_type, event.target_id, event.actor_label) == (
        "moderation.vendor",
        str(vendor.pk),
        admin_user.username,
    )


def test_evidence_admins_are_listed_on_the_admin_index_without_add_links(admin_client):
    index = admin_client.get("/admin/").content.decode()

    for app, model in [
        ("cases", "case"),
        ("cases", "report"),
        ("cases", "subject"),
        ("moderation", "auditevent"),
    ]:
        assert f"/admin/{app}/{model}/" in index
        assert f"/admin/{app}/{model}/add/" not in index
