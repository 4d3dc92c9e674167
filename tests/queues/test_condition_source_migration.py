"""The migration that makes conditions name their source reads existing ones the safe way."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.migrations import migrate_to

BEFORE = [("queues", "0005_appeals_and_restricted_queues")]
AFTER = [("queues", "0006_condition_signal_source")]


@pytest.mark.django_db(transaction=True)
def test_existing_conditions_trust_only_our_scorers_and_strikes_are_a_system_fact():
    old = migrate_to(BEFORE)
    rule = old.get_model("queues", "RoutingRule").objects.create(name="old rule")
    conditions = old.get_model("queues", "ScoreCondition").objects
    conditions.create(rule=rule, label="profanity", operator="gte", threshold=0.9)
    conditions.create(rule=rule, label="author.active_strikes", operator="gte", threshold=2)

    new = migrate_to(AFTER)
    migrated = list(
        new.get_model("queues", "ScoreCondition")
        .objects.order_by("label")
        .values_list("label", "source", "source_name")
    )
    migrate_to(
        MigrationExecutor(connection).loader.graph.leaf_nodes()
    )  # the latest schema for the next tests

    assert migrated == [("author.active_strikes", "system", ""), ("profanity", "scorer", "")]
