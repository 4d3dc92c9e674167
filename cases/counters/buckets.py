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
from redis.backoff import NoBackoff
from redis.retry import Retry

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
        # No retries: a slow Redis costs one timeout, then the back-off skips it (`_redis_failed`).
        _clients[key] = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
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


def _bucket_range(counter: VelocityCounter, now_ms: int) -> tuple[int, int]:
    """First and last bucket overlapping (now - window, now]."""
    return (now_ms - counter.window_ms) // counter.bucket_ms, now_ms // counter.bucket_ms


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
    if _client() is None:
        return  # no Redis (or it is backing off): the database twin has these reports anyway
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
    if not author_id or n <= 0 or _client() is None:
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
    args: list[str] = []
    plan: list[tuple[VelocityCounter, int]] = []  # (counter, how many replies it reads)
    for counter in catalogue.COUNTERS:
        ids = _scope_ids(counter, subject, vendor_ids)
        for scope_id in ids:
            first, last = _bucket_range(counter, now_ms)
            args += [
                "h" if counter.distinct else "c",
                f"{_key_head(counter)}{scope_id}:",
                str(first),
                str(last),
            ]
        plan.append((counter, len(ids)))
    try:
        replies = iter(client.eval(_READ_SCRIPT, 0, *args) if args else [])
    except redis.RedisError as exc:
        _redis_failed(exc, "reading")
        return counters_at(subject, now, vendor_ids=vendor_ids)
    return {
        counter.name: float(max((next(replies) for _ in range(count)), default=0)) for counter, count in plan
    }


# Sums each window's buckets in Redis: one command, one number back per window, instead of a pipeline of
# MGETs whose ~200 replies redis-py would parse in Python. ARGV: per window, kind (c: counter, h: distinct),
# key head, first and last bucket.
_READ_SCRIPT = """
local out = {}
for i = 1, #ARGV, 4 do
    local keys = {}
    for bucket = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]) do
        keys[#keys + 1] = ARGV[i + 1] .. string.format('%d', bucket)
    end
    if ARGV[i] == 'h' then
        out[#out + 1] = redis.call('PFCOUNT', unpack(keys))
    else
        local total = 0
        for _, value in ipairs(redis.call('MGET', unpack(keys))) do
            if value then total = total + tonumber(value) end
        end
        out[#out + 1] = total
    end
end
return out
"""


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
