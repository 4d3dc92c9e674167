"""The migration to one outbox keeps every row of both kinds, with its state: vendor notifications become
vendor callbacks (the same table, renamed), and pending ones are left for the sweeper as the outbox expects."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests import factories
from tests.migrations import migrate_to

BEFORE = [("cases", "0021_media_restriction")]
AFTER = [("cases", "0022_one_outbox")]


@pytest.mark.django_db(transaction=True)
def test_enforcements_and_vendor_notifications_survive_with_their_state():
    # Cases, decisions and vendors are made with today's factories first (later migrations add columns the
    # old state lacks); going back to BEFORE keeps the rows.
    decision = factories.DecisionFactory()
    other_decision = factories.DecisionFactory()
    vendor, other_vendor = factories.VendorFactory(), factories.VendorFactory()
    old = migrate_to(BEFORE)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    enforcements = old.get_model("cases", "Enforcement").objects
    enforcements.create(
        decision_id=decision.pk,
        case_id=decision.case_id,
        kind="apply",
        state="pending",
        idempotency_key="enf_1_apply",
        payload={"id": "enf_1_apply"},
        attempts=2,
        last_attempt_at=an_hour_ago,
    )
    enforcements.create(
        decision_id=other_decision.pk,
        case_id=other_decision.case_id,
        kind="apply",
        state="delivered",
        idempotency_key="enf_2_apply",
        payload={},
        attempts=1,
        last_status=200,
        delivered_at=an_hour_ago,
    )
    notifications = old.get_model("cases", "VendorNotification").objects
    notifications.create(
        vendor_id=vendor.pk,
        decision_id=decision.pk,
        case_id=decision.case_id,
        state="pending",
        idempotency_key="out_1",
        payload={"type": "case.decided"},
        attempts=3,
        last_error="HTTP 503",
    )
    notifications.create(
        vendor_id=other_vendor.pk,
        decision_id=decision.pk,
        case_id=decision.case_id,
        state="failed",
        idempotency_key="out_2",
        payload={},
        attempts=8,
        last_status=400,
        last_error="HTTP 400",
    )

    new = migrate_to(AFTER)
    callbacks = {
        row.pop("idempotency_key"): row
        for row in new.get_model("cases", "VendorCallback").objects.values(
            "idempotency_key",
            "vendor_id",
            "decision_id",
            "state",
            "attempts",
            "last_error",
            "last_status",
            "payload",
            "next_attempt_at",
            "claimed_until",
            "attempts_before_retry",
        )
    }
    migrated = {
        row["idempotency_key"]: row
        for row in new.get_model("cases", "Enforcement").objects.values(
            "idempotency_key", "state", "attempts", "next_attempt_at", "claimed_until", "last_status"
        )
    }
    migrate_to(
        MigrationExecutor(connection).loader.graph.leaf_nodes()
    )  # the latest schema for the next tests

    assert callbacks == {
        "out_1": {
            "vendor_id": vendor.pk,
            "decision_id": decision.pk,
            "state": "pending",
            "attempts": 3,
            "last_error": "HTTP 503",
            "last_status": None,
            "payload": {"type": "case.decided"},
            "next_attempt_at": None,
            "claimed_until": None,
            "attempts_before_retry": 0,
        },  # held by no task: the first sweep sends it (no sweeper took vendor notifications before)
        "out_2": {
            "vendor_id": other_vendor.pk,
            "decision_id": decision.pk,
            "state": "failed",
            "attempts": 8,
            "last_error": "HTTP 400",
            "last_status": 400,
            "payload": {},
            "next_attempt_at": None,
            "claimed_until": None,
            "attempts_before_retry": 0,
        },
    }
    pending, delivered = migrated["enf_1_apply"], migrated["enf_2_apply"]
    assert (pending["state"], pending["attempts"], pending["claimed_until"]) == ("pending", 2, None)
    assert pending["next_attempt_at"] == an_hour_ago  # the sweeper's stale window runs from its last attempt
    assert (delivered["state"], delivered["attempts"], delivered["last_status"]) == ("delivered", 1, 200)
    assert delivered["next_attempt_at"] is None
