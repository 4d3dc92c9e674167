"""The migration to rule states keeps what was acting acting and what was off off."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.migrations import migrate_to

BEFORE = [("queues", "0007_bank_signals")]
AFTER = [("queues", "0009_rule_states_drop_is_active")]


@pytest.mark.django_db(transaction=True)
def test_active_rules_become_live_and_inactive_ones_paused():
    old = migrate_to(BEFORE)
    rules = old.get_model("queues", "RoutingRule").objects
    rules.create(name="on", is_active=True)
    rules.create(name="off", is_active=False)

    new = migrate_to(AFTER)
    migrated = dict(new.get_model("queues", "RoutingRule").objects.values_list("name", "state"))
    back = migrate_to(BEFORE)
    reverted = dict(back.get_model("queues", "RoutingRule").objects.values_list("name", "is_active"))
    migrate_to(
        MigrationExecutor(connection).loader.graph.leaf_nodes()
    )  # the latest schema for the next tests

    assert migrated == {"on": "live", "off": "paused"}
    assert reverted == {"on": True, "off": False}
