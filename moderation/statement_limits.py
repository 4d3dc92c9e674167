"""Reads that must not hold a connection: a statement timeout of their own on PostgreSQL.

A substring search over millions of texts (global search, a queue's text filter) can take seconds for a
common word. `within_statement_timeout` runs one read under a limit of its own and raises DatabaseError
when it fires; the caller says "narrow it down". Nothing else on the connection is affected.
"""

from django.db import connection, transaction


def within_statement_timeout(milliseconds: int, read, *, walk: bool = False):
    """`read()` under a statement timeout of `milliseconds` (PostgreSQL; elsewhere just `read()`), inside a
    savepoint; DatabaseError when the limit fires. `walk`: with sorts priced out, so a read ordered by an
    index walks that index instead of matching everything first and sorting (the planner, guessing how rare
    a substring is, sometimes prefers that).

    The limit is still armed while a savepoint that timed out rolls back: keep it well above a rollback's
    time on a loaded machine (tens of milliseconds, not one)."""
    if connection.vendor != "postgresql":
        return read()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout'), current_setting('enable_sort')")
        before = cursor.fetchone()
    # SET LOCAL inside a savepoint: a timeout rolls the savepoint back (and the settings with it); on success
    # the previous ones are put back, since releasing a savepoint would keep ours for the whole request.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true), set_config('enable_sort', %s, true)",
                [str(milliseconds), "off" if walk else before[1]],
            )
        found = read()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true), set_config('enable_sort', %s, true)",
                list(before),
            )
    return found
