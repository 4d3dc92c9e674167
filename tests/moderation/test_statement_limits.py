"""A read under a time limit of its own: the limit and the planner setting hold for that read only."""

import pytest
from django.db import DatabaseError, connection

from moderation.statement_limits import within_statement_timeout

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="statement timeouts are PostgreSQL's"),
]


def setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


def test_the_read_runs_under_the_limit_and_a_walk_with_sorts_priced_out():
    before = (setting("statement_timeout"), setting("enable_sort"))
    seen = within_statement_timeout(1234, lambda: (setting("statement_timeout"), setting("enable_sort")))
    walked = within_statement_timeout(
        1234, lambda: (setting("statement_timeout"), setting("enable_sort")), walk=True
    )

    assert seen == ("1234ms", "on")
    assert walked == ("1234ms", "off")
    assert (setting("statement_timeout"), setting("enable_sort")) == before  # put back


def test_a_read_over_its_limit_raises_and_leaves_the_connection_as_it_was():
    before = (setting("statement_timeout"), setting("enable_sort"))

    def slow():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")

    with pytest.raises(DatabaseError):
        within_statement_timeout(50, slow, walk=True)

    assert (setting("statement_timeout"), setting("enable_sort")) == before
    assert setting("server_version")  # the connection still answers
