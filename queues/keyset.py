"""Keyset pagination for the queue page: a page is "the next N cases after this one" in the page's order
(its sort key, then the id), never "skip N pages of cases". The database walks the sort's index from the
cursor, so page 500 costs what page 1 costs, and a case arriving meanwhile never shifts a page the agent
is reading (an OFFSET page would repeat or skip a row each time one is inserted above it).

A cursor is the sort key and id of a row, opaque to the agent (URL-safe base64 of JSON), bound to the sort
it was taken in: a cursor from another sort, or one edited by hand, is refused (`Invalid`, field named).
Nullable sort keys (SLA, last report) put the cases without one last, in both directions.
"""

import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from moderation.errors import Invalid

NEXT, PREVIOUS = "after", "before"


@dataclass(frozen=True)
class SortKey:
    """One column of a sort: its field, its direction, whether it may be NULL."""

    name: str
    descending: bool = False
    nullable: bool = False
    moment: bool = False  # a date-time column; otherwise a number


@dataclass
class KeysetPage:
    """One page of rows, with the cursors to the pages around it (None: no such page)."""

    object_list: list
    count: int
    next_cursor: str | None = None
    previous_cursor: str | None = None
    extra: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


def encode_cursor(sort: str, keys: tuple[SortKey, ...], row) -> str:
    values = [_plain(getattr(row, key.name)) for key in keys]
    raw = json.dumps([sort, *values, row.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, *, sort: str, keys: tuple[SortKey, ...], field_name: str) -> tuple[list, int]:
    """(sort key values, id) of a cursor taken in `sort`; Invalid naming `field_name` otherwise."""
    refused = Invalid(
        gettext("This page link is not valid any more: start from the first page."), field=field_name
    )
    try:
        padded = text + "=" * (-len(text) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise refused from None
    if not isinstance(decoded, list) or len(decoded) != len(keys) + 2 or decoded[0] != sort:
        raise refused
    *values, pk = decoded[1:]
    if not isinstance(pk, int) or isinstance(pk, bool) or not 0 < pk < 2**63:
        raise refused
    parsed = []
    for key, value in zip(keys, values, strict=True):
        if value is None:
            if not key.nullable:
                raise refused
            parsed.append(None)
        elif key.moment:
            parsed.append(_moment(value, refused))
        elif _finite_number(value):
            parsed.append(value)
        else:
            raise refused
    return parsed, pk


def _moment(value, refused: Invalid) -> datetime:
    # A hand-edited cursor may hold any JSON where a date-time was: a number, a date that does not exist
    # (2026-02-30), an offset past a day, or no offset at all. Each is the agent's error, never a 500.
    if not isinstance(value, str):
        raise refused
    try:
        moment = parse_datetime(value)
    except ValueError:
        raise refused from None
    if moment is None or moment.tzinfo is None:
        raise refused
    return moment


def _finite_number(value) -> bool:
    # NaN and Infinity parse as JSON in Python, and an integer past 64 bits overflows the database driver.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return -(2**63) < value < 2**63
    return math.isfinite(value)


def page_after(
    rows: QuerySet,
    keys: tuple[SortKey, ...],
    *,
    values: list | None,
    pk: int | None,
    size: int,
    forward: bool,
) -> tuple[list, bool]:
    """Up to `size` rows after (forward) or before the cursor row, in page order, and whether more lie
    beyond them in that direction. One query: the sort's columns, then the id, LIMIT size + 1."""
    ordering = _ordering(keys, forward=forward)
    if pk is not None:
        rows = rows.filter(_beyond(keys, values, pk, forward=forward))
    found = list(rows.order_by(*ordering)[: size + 1])
    more = len(found) > size
    found = found[:size]
    if not forward:
        found.reverse()
    return found, more


def _ordering(keys: tuple[SortKey, ...], *, forward: bool) -> list:
    ordering = []
    for key in keys:
        descending = key.descending != (not forward)
        # NULLs last in page order, so first when walking backwards.
        nulls = ({"nulls_last": True} if forward else {"nulls_first": True}) if key.nullable else {}
        ordering.append(F(key.name).desc(**nulls) if descending else F(key.name).asc(**nulls))
    ordering.append(F("pk").asc() if forward else F("pk").desc())
    return ordering


def _beyond(keys: tuple[SortKey, ...], values: list, pk: int, *, forward: bool) -> Q:
    """Rows strictly after (forward) or before the cursor (values, pk) in page order, as a condition
    (a row comparison spelled out: the columns may go in different directions and may be NULL). The first
    column is also bounded on its own, so the database starts its index scan at the cursor."""
    condition = Q(pk__gt=pk) if forward else Q(pk__lt=pk)
    for key, value in reversed(list(zip(keys, values, strict=True))):
        condition = _strictly(key, value, forward=forward) | (_equal(key, value) & condition)
    first, first_value = keys[0], values[0]
    if first_value is not None and not first.nullable:
        toward = first.descending == forward  # walking toward smaller values
        condition &= Q(**{f"{first.name}__{'lte' if toward else 'gte'}": first_value})
    return condition


def _equal(key: SortKey, value) -> Q:
    return Q(**{f"{key.name}__isnull": True}) if value is None else Q(**{key.name: value})


def _strictly(key: SortKey, value, *, forward: bool) -> Q:
    """Rows whose `key` alone puts them beyond `value` (NULLs sort last in page order)."""
    if value is None:
        # Nothing is after NULL going forward; everything not NULL is before it.
        return Q(pk__in=[]) if forward else Q(**{f"{key.name}__isnull": False})
    smaller = key.descending == forward
    condition = Q(**{f"{key.name}__{'lt' if smaller else 'gt'}": value})
    if key.nullable and forward:
        condition |= Q(**{f"{key.name}__isnull": True})
    return condition


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value
