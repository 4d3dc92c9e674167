"""Live velocity counters in Redis: one key per time bucket, an INCRBY counter or a HyperLogLog (distinct
counts), expiring once no window can reach it. A read sums the window's buckets in one round trip; recording
a batch is one script call. Every call has a short timeout, and a failure falls back to the database twin
(`point_in_time`) for reads and drops the counts for writes: Redis down never fails intake or routing."""

import json
import logging
import time
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import redis
from django.conf import settings
from django.utils import timezone

from cases.counters import catalogue
from cases.counters.catalogue import (
    AUTHOR,
    BANK_HITS,
    NEW_SUBJECTS,
    REPORTERS,
    REPORTS,
    SUBJECT,
    VENDOR,
    NewSubjectEvent,
    ReportEvent,
    VelocityCounter,
)
from cases.counters.point_in_time import counters_at
from cases.models import Report, Subject

logger = logging.getLogger(__name__)

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


def _key_head(counter: VelocityCounter) -> str:
    return f"{settings.VELOCITY_KEY_PREFIX}:{counter.name}:"


def _key(counter: VelocityCounter, scope_id: str, bucket: int) -> str:
    # The bucket is always the last part, so an id containing ':' cannot pose as another id's bucket.
    return f"{_key_head(counter)}{scope_id}:{bucket}"


def _bucket_keys(counter: VelocityCounter, scope_id: str, now_ms: int) -> list[str]:
    """Keys of every bucket overlapping (now - window, now]."""
    last = now_ms // counter.bucket_ms
    first = (now_ms - counter.window_ms) // counter.bucket_ms
    return [_key(counter, scope_id, bucket) for bucket in range(first, last + 1)]


# One script call records a whole batch, its keys and amounts in one JSON argument. A pipeline of INCRBY/
# PFADD/PEXPIREAT commands is one round trip too, but redis-py packs and parses every command and argument in
# Python: a 500-report batch is ~5,000 commands, ~250 ms of CPU; as one JSON argument it costs a few ms
# (bench/velocity.py). Numbers travel as strings (Lua's are doubles). Single-node Redis: a batch's keys span
# hash slots, so this is not for Redis Cluster.
_RECORD_SCRIPT = """
local batch = cjson.decode(ARGV[1])
for _, row in ipairs(batch[1]) do
    redis.call('INCRBY', row[1], row[2])
    redis.call('PEXPIREAT', row[1], row[3])
end
for _, row in ipairs(batch[2]) do
    local members = row[3]
    for first = 1, #members, 500 do
        redis.call('PFADD', row[1], unpack(members, first, math.min(first + 499, #members)))
    end
    redis.call('PEXPIREAT', row[1], row[2])
end
return #batch[1] + #batch[2]
"""


def _write(increments: Tally, members: dict[str, set[str]], expiry: dict[str, int]) -> None:
    if not increments and not members:
        return
    client = _client()
    if client is None:
        return
    batch = [
        [[key, str(amount), str(expiry[key])] for key, amount in increments.items()],
        [[key, str(expiry[key]), sorted(values)] for key, values in members.items()],
    ]
    payload = json.dumps(batch, ensure_ascii=False, separators=(",", ":"))
    try:
        client.eval(_RECORD_SCRIPT, 0, payload)  # one round trip for the whole batch
    except redis.RedisError as exc:
        _redis_failed(exc, "recording")


def _expiry(counter: VelocityCounter, bucket: int) -> int:
    # Needed until the window no longer reaches the bucket's end.
    return (bucket + 1) * counter.bucket_ms + counter.window_ms


def record_reports(reports: Iterable[ReportEvent], new_subjects: Iterable[NewSubjectEvent] = ()) -> None:
    """Count stored reports (and subjects intake created) into the live counters: one round trip in all.

    Call after commit. Never raises for Redis: a failure is logged (once a minute) and the counts dropped.
    """
    increments: Tally = Tally()
    members: dict[str, set[str]] = defaultdict(set)
    expiry: dict[str, int] = {}
    # Hot (a 500-report batch is 3,000 keys): what each counter needs, looked up once per call.
    plan = [
        (counter.scope, counter.distinct, counter.bucket_ms, counter.window_ms, _key_head(counter))
        for counter in catalogue.COUNTERS
        if counter.event in (REPORTS, REPORTERS)
    ]
    for event in reports:
        at_ms = _ms(event.received_at)
        ids = {AUTHOR: event.author_id, SUBJECT: str(event.subject_id), VENDOR: str(event.vendor_id)}
        for scope, distinct, bucket_ms, window_ms, head in plan:
            scope_id = ids[scope]
            if not scope_id:
                continue  # no author known: nothing to count against
            bucket = at_ms // bucket_ms
            key = f"{head}{scope_id}:{bucket}"
            if distinct:
                members[key].add(event.reporter_key)
            else:
                increments[key] += 1
            expiry[key] = (bucket + 1) * bucket_ms + window_ms
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
    for counter in catalogue.COUNTERS:
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
    for counter in catalogue.COUNTERS:
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
