"""On PostgreSQL the statements every page and decision repeats are prepared once per connection and then
only executed: PostgreSQL stops parsing and planning them (`DB_PREPARED_STATEMENTS`, moderation/settings.py)."""

import pytest
from django.db import connection

from moderation.models import Policy
from tests import factories
from tests.query_plans import postgres_only

pytestmark = [pytest.mark.django_db, postgres_only]


def prepared() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_a_statement_run_often_is_prepared_once_and_then_reused():
    before = prepared()
    for code in ("spam", "hate", "harassment", "scam", "csam", "other", "spam"):
        list(Policy.objects.filter(code=code, is_active=True))

    new = prepared() - before
    assert len(new) == 1  # seven runs with different values: one statement, prepared once
    (statement,) = new
    assert "moderation_policy" in statement and "$1" in statement  # the values travel apart from the SQL


def test_values_never_become_part_of_the_sql():
    kept = factories.PolicyFactory()
    hostile = "x'); DROP TABLE moderation_policy; --"
    for _ in range(6):
        assert list(Policy.objects.filter(code=hostile)) == []

    assert not any(hostile in statement for statement in prepared())
    assert Policy.objects.filter(pk=kept.pk).exists()
