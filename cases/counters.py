"""Velocity counters: how fast reports, reporters, new subjects and bank hits arrive around a case.

Each counter is a routing fact (`[system] author.reports_24h ≥ 20`) with two sources that agree:

- live, from Redis (`VELOCITY_REDIS_URL`): one key per time bucket (an INCRBY counter, or a HyperLogLog for
  distinct counts), expiring once no window can reach it. A read sums the buckets of the window, which is
  rounded out to whole buckets: a live value covers between `window` and `window + bucket` of history.
- point in time, from the database (`counters_at`): exactly (at - window, at], never anything after `at`, so
  a backtest sees what a rule would have seen then. With no Redis configured, or Redis unreachable, the live
  values come from here too, so intake and routing never depend on Redis being up.

Recording is after commit, one Redis round trip per intake request or batch (a pipeline). Events recorded
while Redis was down are missing from the live values until their buckets expire; the twin has them.
"""

import logging
import time
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import CharField, Count, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from cases.models import Report, Signal, Subject

logger = logging.getLogger(__name__)

AUTHOR, SUBJECT, VENDOR = "author", "subject", "vendor"
REPORTS, REPORTERS, NEW_SUBJECTS, BANK_HITS = "reports", "reporters", "new_subjects", "bank_hits"
BANK_SOURCE = "bank"  # `Signal.source` of matching-bank hits


@dataclass(frozen=True)
class VelocityCounter:
    """One counter: what it counts (`event`) about whom (`scope`) over which `window`, in `bucket` steps."""

    name: str
    label: str  # plain words, for the case page
    scope: str  # author | subject | vendor
    event: str  # reports | reporters (distinct) | new_subjects | bank_hits
    window: timedelta
    bucket: timedelta

    @property
    def distinct(self) -> bool:
        return self.event == REPORTERS

    @property
    def window_ms(self) -> int:
        return int(self.window.total_seconds() * 1000)

    @property
    def bucket_ms(self) -> int:
        return int(self.bucket.total_seconds() * 1000)


MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
DAY = 24 * HOUR

# The one list: routing's system facts, the case page and the benchmark all read it.
COUNTERS: tuple[VelocityCounter, ...] = (
    VelocityCounter("author.reports_1h", "Reports on this author, last hour", AUTHOR, REPORTS, HOUR, MINUTE),
    VelocityCounter("author.reports_24h", "Reports on this author, last 24 h", AUTHOR, REPORTS, DAY, HOUR),
    VelocityCounter(
        "author.distinct_reporters_24h", "People reporting this author, last 24 h", AUTHOR, REPORTERS, DAY, HOUR
    ),
    VelocityCounter(
        "author.new_subjects_24h", "New posts/messages by this author reported, last 24 h", AUTHOR,
        NEW_SUBJECTS, DAY, HOUR,
    ),  # fmt: skip
    VelocityCounter(
        "author.bank_hits_24h", "Matching-bank hits on this author, last 24 h", AUTHOR, BANK_HITS, DAY, HOUR
    ),
    VelocityCounter("subject.reports_1h", "Reports on this content, last hour", SUBJECT, REPORTS, HOUR, MINUTE),
    VelocityCounter(
        "subject.distinct_reporters_24h", "People reporting this content, last 24 h", SUBJECT, REPORTERS, DAY,
        HOUR,
    ),  # fmt: skip
    VelocityCounter(
        "vendor.reports_1m", "Reports from this case's busiest vendor, last minute", VENDOR, REPORTS, MINUTE,
        timedelta(seconds=5),
    ),  # fmt: skip
)
COUNTER_NAMES: tuple[str, ...] = tuple(counter.name for counter in COUNTERS)


@dataclass(frozen=True)
class ReportEvent:
    """What a stored report contributes to the counters."""

    received_at: datetime
    subject_id: int
    author_id: str
    vendor_id: int
    reporter_id: str = ""

    @property
    def reporter_key(self) -> str:
        # Reporter ids are the vendor's; no reporter id counts as the vendor itself (as the case's count does).
        return f"{self.vendor_id}:{self.reporter_id}"


@dataclass(frozen=True)
class NewSubjectEvent:
    first_seen_at: datetime
    author_id: str


# --- Redis --------------------------------------------------------------------------------------------------

_clients: dict[tuple[str, float], redis.Redis] = {}
_down_until = 0.0  # after a failure, skip Redis for a moment instead of paying the timeout on every call
_last_logged = 0.0
DOWN_BACKOFF_SECONDS = 5.0
LOG_EVERY_SECONDS = 60.0


def _client() -> redis.Redis | None:
    url = settings.VELOCITY_REDIS_URL
    if not url or time.monotonic() < _down_until:
        return None
    timeout = settings.VELOCITY_REDIS_TIMEOUT
    key = (url, timeout)
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
    return _clients[key]


def _redis_failed(exc: Exception, doing: str) -> None:
    global _down_until, _last_logged
    now = time.monotonic()
    _down_until = now + DOWN_BACKOFF_SECONDS
    if now - _last_logged >= LOG_EVERY_SECONDS:
        _last_logged = now
        logger.warning("velocity counters: Redis unavailable while %s (%s); using the database", doing, exc)


def forget_redis_state() -> None:
    """Tests: forget clients and a remembered outage (settings changed)."""
    global _down_until, _last_logged
    _clients.clear()
    _down_until = _last_logged = 0.0


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _key(counter: VelocityCounter, scope_id: str, bucket: int) -> str:
    # The bucket is always the last part, so an id containing ':' cannot pose as another id's bucket.
    return f"{settings.VELOCITY_KEY_PREFIX}:{counter.name}:{scope_id}:{bucket}"


def _bucket_keys(counter: VelocityCounter, scope_id: str, now_ms: int) -> list[str]:
    """Keys of every bucket overlapping (now - window, now]."""
    last = now_ms // counter.bucket_ms
    first = (now_ms - counter.window_ms) // counter.bucket_ms
    return [_key(counter, scope_id, bucket) for bucket in range(first, last + 1)]


def _scope_id(counter: VelocityCounter, event: ReportEvent) -> str:
    if counter.scope == AUTHOR:
        return event.author_id
    if counter.scope == SUBJECT:
        return str(event.subject_id)
    return str(event.vendor_id)


def _write(increments: Tally, members: dict[tuple[str, int], set[str]], expiry: dict[str, int]) -> None:
    if not increments and not members:
        return
    client = _client()
    if client is None:
        return
    pipe = client.pipeline(transaction=False)
    for key, amount in increments.items():
        pipe.incrby(key, amount)
    for (key, _), values in members.items():
        pipe.pfadd(key, *sorted(values))
    for key, at_ms in expiry.items():
        pipe.pexpireat(key, at_ms)
    try:
        pipe.execute()  # one round trip for the whole batch
    except redis.RedisError as exc:
        _redis_failed(exc, "recording")


def _expiry(counter: VelocityCounter, bucket: int) -> int:
    # Needed until the window no longer reaches the bucket's end.
    return (bucket + 1) * counter.bucket_ms + counter.window_ms


def record_reports(reports: Iterable[ReportEvent], new_subjects: Iterable[NewSubjectEvent] = ()) -> None:
    """Count stored reports (and subjects intake created) into the live counters: one pipeline in all.

    Call after commit. Never raises for Redis: a failure is logged (once a minute) and the counts dropped.
    """
    increments: Tally = Tally()
    members: dict[tuple[str, int], set[str]] = defaultdict(set)
    expiry: dict[str, int] = {}
    for event in reports:
        at_ms = _ms(event.received_at)
        for counter in COUNTERS:
            if counter.event not in (REPORTS, REPORTERS):
                continue
            scope_id = _scope_id(counter, event)
            if not scope_id:
                continue  # no author known: nothing to count against
            bucket = at_ms // counter.bucket_ms
            key = _key(counter, scope_id, bucket)
            if counter.distinct:
                members[(key, bucket)].add(event.reporter_key)
            else:
                increments[key] += 1
            expiry[key] = _expiry(counter, bucket)
    for subject in new_subjects:
        if subject.author_id:
            _tally(NEW_SUBJECTS, subject.author_id, subject.first_seen_at, 1, increments, expiry)
    _write(increments, members, expiry)


def record_bank_hits(author_id: str, n: int, *, at: datetime | None = None) -> None:
    """Count `n` matching-bank hits against the author (call after the bank signals commit)."""
    if not author_id or n <= 0:
        return
    increments: Tally = Tally()
    expiry: dict[str, int] = {}
    _tally(BANK_HITS, author_id, at or timezone.now(), n, increments, expiry)
    _write(increments, {}, expiry)


def _tally(event: str, author_id: str, at: datetime, n: int, increments: Tally, expiry: dict) -> None:
    at_ms = _ms(at)
    for counter in COUNTERS:
        if counter.event == event and counter.scope == AUTHOR:
            bucket = at_ms // counter.bucket_ms
            key = _key(counter, author_id, bucket)
            increments[key] += n
            expiry[key] = _expiry(counter, bucket)


def live_counters(
    subject: Subject, *, vendor_ids: Iterable[int] | None = None, now: datetime | None = None
) -> dict[str, float]:
    """Every counter for the subject, its author and its vendors, now: from Redis in one round trip, or from
    the database twin without Redis. `vendor_ids`: the vendors whose rate counts (default: every vendor
    that reported the subject)."""
    now = now or timezone.now()
    client = _client()
    if client is None:
        return counters_at(subject, now, vendor_ids=vendor_ids)
    if vendor_ids is None:
        vendor_ids = _subject_vendor_ids(subject, now)
    vendor_ids = sorted(set(vendor_ids))
    now_ms = _ms(now)
    pipe = client.pipeline(transaction=False)
    plan: list[tuple[VelocityCounter, int]] = []  # (counter, how many replies it reads)
    for counter in COUNTERS:
        ids = _scope_ids(counter, subject, vendor_ids)
        for scope_id in ids:
            keys = _bucket_keys(counter, scope_id, now_ms)
            if counter.distinct:
                pipe.pfcount(*keys)
            else:
                pipe.mget(keys)
        plan.append((counter, len(ids)))
    try:
        replies = iter(pipe.execute())
    except redis.RedisError as exc:
        _redis_failed(exc, "reading")
        return counters_at(subject, now, vendor_ids=vendor_ids)
    values: dict[str, float] = {}
    for counter, count in plan:
        totals = [next(replies) for _ in range(count)]
        totals = [float(t) if counter.distinct else float(sum(int(v) for v in t if v)) for t in totals]
        values[counter.name] = max(totals, default=0.0)
    return values


def _scope_ids(counter: VelocityCounter, subject: Subject, vendor_ids: list[int]) -> list[str]:
    if counter.scope == AUTHOR:
        return [subject.author_id] if subject.author_id else []
    if counter.scope == SUBJECT:
        return [str(subject.pk)]
    return [str(vendor_id) for vendor_id in vendor_ids]


def _subject_vendor_ids(subject: Subject, at: datetime) -> list[int]:
    return list(
        Report.objects.filter(subject=subject, received_at__lte=at)
        .order_by()
        .values_list("vendor_id", flat=True)
        .distinct()[:50]
    )


# --- the database twin ------------------------------------------------------------------------------------


def _of(scope: str, event: str) -> list[VelocityCounter]:
    return [counter for counter in COUNTERS if counter.scope == scope and counter.event in event]


def _window_counts(queryset, time_field: str, counters: list[VelocityCounter], at: datetime, reporter=None):
    """One aggregate query: each counter's count over its own window ending at `at` (inclusive)."""
    if not counters:
        return {}
    widest = max(counter.window for counter in counters)
    rows = queryset.filter(**{f"{time_field}__gt": at - widest, f"{time_field}__lte": at})
    aggregates = {}
    for index, counter in enumerate(counters):
        in_window = Q(**{f"{time_field}__gt": at - counter.window})
        if counter.distinct:
            aggregates[f"c{index}"] = Count(reporter, filter=in_window, distinct=True)
        else:
            aggregates[f"c{index}"] = Count("pk", filter=in_window)
    result = rows.order_by().aggregate(**aggregates)
    return {counter.name: float(result[f"c{index}"] or 0) for index, counter in enumerate(counters)}


def _reporter_expression():
    return Concat(Cast("vendor_id", CharField()), Value(":"), "reporter_id", output_field=CharField())


def counters_at(
    subject: Subject, at: datetime, *, vendor_ids: Iterable[int] | None = None
) -> dict[str, float]:
    """Every counter as it stood at `at`, from the database: events in (at - window, at] only.

    At most five aggregate queries whatever the history (author reports, new subjects, bank hits, subject
    reports, vendor reports). `vendor_ids` default: the vendors that had reported the subject by `at`.
    """
    values = dict.fromkeys(COUNTER_NAMES, 0.0)
    reporter = _reporter_expression()
    author = subject.author_id
    if author:
        values |= _window_counts(
            Report.objects.filter(subject__author_id=author).annotate(reporter_key=reporter),
            "received_at",
            _of(AUTHOR, (REPORTS, REPORTERS)),
            at,
            reporter="reporter_key",
        )
        values |= _window_counts(
            Subject.objects.filter(author_id=author), "first_seen_at", _of(AUTHOR, (NEW_SUBJECTS,)), at
        )
        values |= _window_counts(
            Signal.objects.filter(source=BANK_SOURCE, case__subject__author_id=author),
            "created_at",
            _of(AUTHOR, (BANK_HITS,)),
            at,
        )
    values |= _window_counts(
        Report.objects.filter(subject=subject).annotate(reporter_key=reporter),
        "received_at",
        _of(SUBJECT, (REPORTS, REPORTERS)),
        at,
        reporter="reporter_key",
    )
    values |= _vendor_counts(subject, at, vendor_ids)
    return values


def _vendor_counts(subject: Subject, at: datetime, vendor_ids: Iterable[int] | None) -> dict[str, float]:
    """The busiest of the vendors' report rates: one grouped query (the vendors' own look-up is a subquery)."""
    counters = _of(VENDOR, (REPORTS,))
    if not counters:
        return {}
    if vendor_ids is None:
        vendors = Report.objects.filter(subject=subject, received_at__lte=at).values("vendor_id")
    else:
        vendors = sorted(set(vendor_ids))
        if not vendors:
            return {counter.name: 0.0 for counter in counters}
    widest = max(counter.window for counter in counters)
    aggregates = {
        f"c{index}": Count("pk", filter=Q(received_at__gt=at - counter.window))
        for index, counter in enumerate(counters)
    }
    rows = list(
        Report.objects.filter(vendor_id__in=vendors, received_at__gt=at - widest, received_at__lte=at)
        .order_by()
        .values("vendor_id")
        .annotate(**aggregates)
    )
    return {
        counter.name: float(max((row[f"c{index}"] for row in rows), default=0))
        for index, counter in enumerate(counters)
    }
