"""Velocity counters: the database twin on hand-built histories (windows, edges, no future leakage), the live
Redis counters (agreement with the twin, expiry, one round trip per batch, HyperLogLog error, Redis down)."""

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from cases import counters
from cases.counters import (
    COUNTER_NAMES,
    NewSubjectEvent,
    ReportEvent,
    VelocityCounter,
    buckets,
    catalogue,
    counters_at,
    live_counters,
    record_bank_hits,
    record_reports,
)
from cases.detection.enrichment import EnrichmentOutcome, _apply
from cases.detection.sources import SignalDraft
from cases.models import Report, Signal, Subject
from tests import factories

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a fixed moment for the database twin


@pytest.fixture(autouse=True)
def _no_remembered_outage():
    counters.forget_redis_state()
    yield
    counters.forget_redis_state()


@pytest.fixture
def live(settings):
    """The real Redis at TEST_REDIS_URL, under a prefix of this test's own (removed afterwards)."""
    if not REDIS_URL:
        pytest.skip("needs TEST_REDIS_URL (a real Redis)")
    prefix = f"test-velocity-{uuid.uuid4().hex}"
    settings.VELOCITY_REDIS_URL = REDIS_URL
    settings.VELOCITY_KEY_PREFIX = prefix
    settings.VELOCITY_REDIS_TIMEOUT = 2.0
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def subject_of(author="author-a", **extra) -> Subject:
    return factories.SubjectFactory(author_id=author, **extra)


def report(subject, when, *, reporter="", vendor=None) -> Report:
    case = subject.cases.first() or factories.CaseFactory(subject=subject)
    row = factories.ReportFactory(case=case, reporter_id=reporter, **({"vendor": vendor} if vendor else {}))
    Report.objects.filter(pk=row.pk).update(received_at=when)  # auto_now_add: set the history afterwards
    row.received_at = when
    return row


def first_seen(subject, when) -> Subject:
    Subject.objects.filter(pk=subject.pk).update(first_seen_at=when)
    subject.first_seen_at = when
    return subject


def bank_hit(subject, when) -> Signal:
    case = subject.cases.first() or factories.CaseFactory(subject=subject)
    signal = factories.SignalFactory(case=case, source="bank", source_name="bank:kill-words", score=1.0)
    Signal.objects.filter(pk=signal.pk).update(created_at=when)
    return signal


def events(reports) -> list[ReportEvent]:
    return [
        ReportEvent(r.received_at, r.subject_id, r.subject.author_id, r.vendor_id, r.reporter_id)
        for r in reports
    ]


def history(base: datetime):
    """Author A: two posts (one new 2 h before `base`, one old), reports by three people from two vendors, two
    bank hits; one report and one hit too old for any window, one report on another author."""
    acme, other = factories.VendorFactory(slug="acme-v"), factories.VendorFactory(slug="other-v")
    post = first_seen(subject_of(), base - timedelta(hours=2))
    older = first_seen(subject_of(), base - timedelta(days=3))
    reports = [
        report(post, base - timedelta(minutes=10), reporter="u1", vendor=acme),
        report(post, base - timedelta(minutes=20), reporter="u2", vendor=acme),
        report(post, base - timedelta(seconds=20), reporter="u1", vendor=acme),
        report(
            post, base - timedelta(hours=3), reporter="u1", vendor=other
        ),  # other vendor's u1: a 3rd person
        report(older, base - timedelta(hours=5), reporter="u3", vendor=acme),
        report(older, base - timedelta(hours=26), reporter="u4", vendor=acme),  # outside every window
        report(subject_of("author-b"), base - timedelta(minutes=5), reporter="u9", vendor=acme),
    ]
    bank_hit(post, base - timedelta(hours=1, minutes=30))
    bank_hit(older, base - timedelta(hours=4))
    bank_hit(older, base - timedelta(days=2))
    return post, reports


EXPECTED = {
    "author.reports_1h": 3.0,
    "author.reports_24h": 5.0,
    "author.distinct_reporters_24h": 4.0,  # acme u1, u2, u3 and other's u1
    "author.new_subjects_24h": 1.0,
    "author.bank_hits_24h": 2.0,
    "subject.reports_1h": 3.0,
    "subject.distinct_reporters_24h": 3.0,
    "vendor.reports_1m": 1.0,  # acme's report on the post 20 s before; author B's (5 min) is outside
}


def test_every_counter_is_defined_once_with_a_label_and_a_window():
    assert len(set(COUNTER_NAMES)) == len(COUNTER_NAMES) == 8
    for counter in counters.COUNTERS:
        assert counter.label and counter.window > timedelta(0)
        assert counter.window_ms % counter.bucket_ms == 0


def test_each_counter_from_a_hand_built_history():
    post, _ = history(AT)
    assert counters_at(post, AT) == EXPECTED


def test_the_vendor_rate_is_the_busiest_of_the_given_vendors():
    post, reports = history(AT)
    acme = reports[0].vendor
    for n in range(3):
        report(subject_of(f"x-{n}"), AT - timedelta(seconds=30 + n), vendor=acme)

    assert counters_at(post, AT)["vendor.reports_1m"] == 4.0
    assert counters_at(post, AT, vendor_ids=[reports[3].vendor_id])["vendor.reports_1m"] == 0.0
    assert counters_at(post, AT, vendor_ids=[])["vendor.reports_1m"] == 0.0


def test_window_edges_are_exclusive_at_the_start_and_inclusive_at_the_end():
    subject = subject_of()
    report(subject, AT - timedelta(hours=1))  # exactly one window ago: just outside
    report(subject, AT - timedelta(hours=1) + timedelta(milliseconds=1))  # just inside
    report(subject, AT)  # at the moment itself: inside

    values = counters_at(subject, AT)

    assert values["subject.reports_1h"] == 2.0
    assert values["author.reports_1h"] == 2.0
    assert values["author.reports_24h"] == 3.0


def test_nothing_after_the_moment_counts():
    post, _ = history(AT)
    report(post, AT + timedelta(microseconds=1), reporter="late")
    report(post, AT + timedelta(minutes=5), reporter="later")
    bank_hit(post, AT + timedelta(seconds=1))
    first_seen(subject_of(), AT + timedelta(seconds=1))

    assert counters_at(post, AT) == EXPECTED
    # ...and they count once their moment has come.
    later = counters_at(post, AT + timedelta(minutes=6))
    assert later["subject.reports_1h"] == 5.0 and later["author.bank_hits_24h"] == 3.0


def test_the_twin_costs_five_queries_whatever_the_history(django_assert_num_queries):
    post, _ = history(AT)
    for n in range(30):
        report(post, AT - timedelta(minutes=n), reporter=f"p{n}")
    with django_assert_num_queries(5):
        counters_at(post, AT)


def test_an_author_less_subject_counts_only_itself(django_assert_num_queries):
    subject = subject_of(author="")
    report(subject, AT - timedelta(minutes=1), reporter="u1")
    report(subject_of(author=""), AT - timedelta(minutes=1), reporter="u2")

    with django_assert_num_queries(2):
        values = counters_at(subject, AT)
    assert values["subject.reports_1h"] == 1.0 and values["author.reports_24h"] == 0.0


def test_without_redis_live_values_are_the_twin_now(settings):
    settings.VELOCITY_REDIS_URL = ""
    now = timezone.now()
    post, _ = history(now)
    assert live_counters(post, now=now) == counters_at(post, now)


# --- live, in Redis ---------------------------------------------------------------------------------------


def test_live_counters_agree_with_the_twin_on_the_same_history(live):
    now = timezone.now()
    post, _ = history(now)
    record_reports(events(Report.objects.select_related("subject").all()))
    record_reports([], [NewSubjectEvent(post.first_seen_at, post.author_id)])
    for signal in Signal.objects.filter(source="bank"):
        record_bank_hits(signal.case.subject.author_id, 1, at=signal.created_at)

    assert live_counters(post, now=now) == counters_at(post, now)
    assert live_counters(post, now=now)["author.reports_24h"] == 5.0


def test_live_buckets_expire_once_no_window_reaches_them(live, monkeypatch):
    short = VelocityCounter(
        "author.reports_1h", "test", catalogue.AUTHOR, catalogue.REPORTS, timedelta(seconds=2),
        timedelta(milliseconds=500),
    )  # fmt: skip
    monkeypatch.setattr(catalogue, "COUNTERS", (short,))
    subject = subject_of("expiring")
    record_reports([ReportEvent(timezone.now(), subject.pk, "expiring", 1)])
    keys = list(live.scan_iter(f"{settings.VELOCITY_KEY_PREFIX}:*"))
    assert len(keys) == 1 and 0 < live.pttl(keys[0]) <= 2500
    assert live_counters(subject, vendor_ids=[])["author.reports_1h"] == 1.0

    deadline = timezone.now() + timedelta(seconds=6)
    while live.exists(keys[0]) and timezone.now() < deadline:
        time.sleep(0.05)
    assert not live.exists(keys[0])
    assert live_counters(subject, vendor_ids=[])["author.reports_1h"] == 0.0


def test_every_live_key_expires_within_window_plus_bucket(live):
    now = timezone.now()
    subject = subject_of("ttl")
    record_reports([ReportEvent(now, subject.pk, "ttl", 7, "u1")], [NewSubjectEvent(now, "ttl")])
    record_bank_hits("ttl", 2, at=now)
    windows = {counter.name: counter.window_ms + counter.bucket_ms for counter in counters.COUNTERS}
    keys = list(live.scan_iter(f"{settings.VELOCITY_KEY_PREFIX}:*"))
    assert len(keys) == len(COUNTER_NAMES)
    for key in keys:
        name = key.decode().split(":")[1]
        assert 0 < live.pttl(key) <= windows[name]


def test_distinct_reporters_stay_within_hyperloglog_error(live):
    now = timezone.now()
    subject = subject_of("popular")
    record_reports(
        [
            ReportEvent(now - timedelta(seconds=n % 600), subject.pk, "popular", 1, f"r{n}")
            for n in range(3000)
        ]
        + [ReportEvent(now, subject.pk, "popular", 1, "r1")] * 50  # repeats are one person
    )
    values = live_counters(subject, vendor_ids=[1], now=now)

    assert abs(values["author.distinct_reporters_24h"] - 3000) <= 3000 * 0.03
    assert abs(values["subject.distinct_reporters_24h"] - 3000) <= 3000 * 0.03
    assert values["author.reports_1h"] == 3050.0  # counts are exact


def test_a_hostile_author_id_cannot_pose_as_another_authors_bucket(live):
    now = timezone.now()
    victim = subject_of("victim")
    minute = int(now.timestamp() * 1000) // 60_000
    record_reports([ReportEvent(now, 1, f"victim:{minute}", 1)] * 5)

    assert live_counters(victim, vendor_ids=[], now=now)["author.reports_1h"] == 0.0


@pytest.mark.parametrize("author", ['a"],["x', "back\\slash", "emoji \U0001f600 ünï", "new\nline", "{}[]:,"])
def test_any_author_id_is_recorded_and_read_back(live, author):
    now = timezone.now()
    subject = subject_of(author)
    record_reports(
        [ReportEvent(now, subject.pk, author, 3, "u1"), ReportEvent(now, subject.pk, author, 3, "u2")]
    )

    values = live_counters(subject, vendor_ids=[3], now=now)
    assert values["author.reports_1h"] == 2.0 and values["author.distinct_reporters_24h"] == 2.0


def _round_trips(monkeypatch) -> list[bytes]:
    """Every request sent to Redis from now on (a pipeline is one): the real connection, spied on."""
    buckets._client().ping()  # the connection's own handshake is not the code's round trip
    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def spy(self, command, check_health=True):
        chunks = [command] if isinstance(command, (bytes, str)) else command
        sent.append(b"".join(bytes(c) if not isinstance(c, str) else c.encode() for c in chunks))
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", spy)
    return sent


def test_a_500_report_batch_is_recorded_in_one_round_trip(
    live, api, report_body, monkeypatch, django_capture_on_commit_callbacks
):
    items = [
        report_body(
            external_id=f"b-{n}",
            subject={"kind": "post", "external_id": f"p-{n % 5}", "author_id": "burst"},
            reporter={"id": f"u-{n}"},
        )
        for n in range(500)
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        assert api.post("/api/v1/reports/batch", {"reports": items}, format="json").status_code == 200

    sent = _round_trips(monkeypatch)
    writes = []
    for callback in callbacks:
        before = len(sent)
        callback()
        if any(b"INCRBY" in request for request in sent[before:]):
            writes.append(len(sent) - before)
    assert writes == [1]  # one callback wrote, in one round trip (one script call)

    subject = Subject.objects.get(external_id="p-0")
    values = live_counters(subject)
    assert values["author.reports_24h"] == 500.0
    assert values["author.new_subjects_24h"] == 5.0
    assert values["subject.reports_1h"] == 100.0
    assert abs(values["author.distinct_reporters_24h"] - 500) <= 15


def test_routing_after_intake_sees_the_batch_it_came_with(
    live, api, report_body, django_capture_on_commit_callbacks
):
    """The counters are recorded before enrichment runs, so a burst rule fires on the burst itself."""
    general = factories.QueueFactory(slug="general", is_default=True)
    burst_queue = factories.QueueFactory(slug="bursts")
    rule = factories.RoutingRuleFactory(name="burst", target_queue=burst_queue)
    factories.ScoreConditionFactory(
        rule=rule, source="system", label="author.reports_1h", operator="gte", threshold=3
    )
    items = [
        report_body(
            external_id=f"x-{n}", subject={"kind": "post", "external_id": f"burst-{n}", "author_id": "b"}
        )
        for n in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/reports/batch", {"reports": items}, format="json").status_code == 200
    assert set(Report.objects.values_list("case__queue__slug", flat=True)) == {"bursts"}

    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/reports", report_body(external_id="y", subject={"kind": "post", "external_id": "calm",
                                                                          "author_id": "c"}), format="json")  # fmt: skip
    assert Report.objects.get(external_id="y").case.queue == general


def test_a_live_read_is_one_round_trip(live, monkeypatch, django_assert_num_queries):
    subject = subject_of("reader")
    sent = _round_trips(monkeypatch)
    with django_assert_num_queries(0):
        live_counters(subject, vendor_ids=[1, 2])
    assert len(sent) == 1


def test_bank_signals_feed_the_authors_live_counter_after_commit(live, django_capture_on_commit_callbacks):
    case = factories.CaseFactory(subject=subject_of("banked"))
    drafts = [
        SignalDraft(
            source="bank", source_name=f"bank:b{n}", label=f"bank:b{n}", dedupe_key=f"bank:{n}", score=1.0
        )
        for n in range(2)
    ] + [SignalDraft(source="scorer", source_name="m", label="toxicity", dedupe_key="s", score=0.4)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _apply(case, drafts, EnrichmentOutcome(case_id=case.pk))
    assert live_counters(case.subject, vendor_ids=[])["author.bank_hits_24h"] == 0.0  # not before commit

    for callback in callbacks:
        callback()
    assert live_counters(case.subject, vendor_ids=[])["author.bank_hits_24h"] == 2.0


# --- Redis down -------------------------------------------------------------------------------------------


def test_redis_down_falls_back_to_the_twin_and_logs_once(settings, caplog):
    settings.VELOCITY_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.VELOCITY_REDIS_TIMEOUT = 0.2
    now = timezone.now()
    post, reports = history(now)

    with caplog.at_level(logging.WARNING, logger="cases.counters"):
        record_reports(events(reports[:1]))  # no exception
        first = live_counters(post, now=now)
        buckets._down_until = 0.0  # past the back-off: Redis tried again
        second = live_counters(post, now=now)

    assert first == second == counters_at(post, now)
    assert len([r for r in caplog.records if "Redis unavailable" in r.message]) == 1


def test_intake_and_routing_work_with_redis_down(
    settings, api, report_body, django_capture_on_commit_callbacks
):
    settings.VELOCITY_REDIS_URL = "redis://127.0.0.1:1/0"
    settings.VELOCITY_REDIS_TIMEOUT = 0.2
    factories.QueueFactory(slug="general", is_default=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/reports", report_body(), format="json")

    assert response.status_code == 201
    assert Report.objects.get().case.queue.slug == "general"


def test_a_hung_redis_costs_one_timeout_then_is_skipped(settings):
    """A Redis that accepts connections and never answers (a listening socket nobody reads)."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        settings.VELOCITY_REDIS_URL = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        settings.VELOCITY_REDIS_TIMEOUT = 0.5
        subject = subject_of("patient")
        report(subject, timezone.now() - timedelta(minutes=1), reporter="u1")

        began = time.monotonic()
        first = live_counters(subject)
        waited = time.monotonic() - began
        began = time.monotonic()
        record_reports(events(Report.objects.select_related("subject").all()))
        second = live_counters(subject)
        skipped = time.monotonic() - began

    assert first == second and first["subject.reports_1h"] == 1.0
    assert 0.5 <= waited < 1.0  # one timeout: a single retry would already make it 1 s
    assert skipped < 0.4  # backing off: Redis is not tried again at once


def test_enrichment_passes_again_do_not_count_the_same_bank_hit_again(
    live, settings, django_capture_on_commit_callbacks
):
    """Attack: banks run on every enrichment pass (each new report on a case is one) and the signal's dedupe
    key keeps one row, but the live counter added every pass: twenty reports on one message with one banked
    word made `author.bank_hits_24h` 20 while the database twin (and the backtest) said 1."""
    from cases.detection.bank_hits import forget_compiled_banks
    from cases.detection.enrichment import enrich_case
    from tests.banks import bank_of

    settings.BANK_RELOAD_SECONDS = 0
    forget_compiled_banks()
    bank_of("kill-words", "keyword", ["kill"])
    case = factories.CaseFactory(subject=subject_of("repeat-target", text="I will kill you"))

    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            enrich_case(case_id=case.pk)

    assert Signal.objects.filter(case=case, source="bank").count() == 1
    live_value = live_counters(case.subject, vendor_ids=[])["author.bank_hits_24h"]
    assert live_value == counters_at(case.subject, timezone.now())["author.bank_hits_24h"] == 1.0


def test_media_bank_hits_found_after_the_copy_is_stored_count_for_the_author(
    live, settings, django_capture_on_commit_callbacks
):
    """The media task's bank pass wrote hash-bank signals (the twin counts them) but never told the live
    counter, so routing missed an author's hash hits that a backtest then saw."""
    import hashlib

    from cases.demo import png_bytes
    from cases.detection.bank_hits import forget_compiled_banks, match_media_banks
    from cases.models import MediaFile
    from cases.selectors import media_url_hash
    from tests.banks import bank_of

    settings.BANK_RELOAD_SECONDS = 0
    forget_compiled_banks()
    picture = png_bytes(3, 3, (1, 2, 3))
    bank_of("known-bad", "sha256", [hashlib.sha256(picture).hexdigest()])
    url = "https://cdn.example/a.png"
    case = factories.CaseFactory(subject=subject_of("hash-author", media_urls=[url]))
    MediaFile.objects.create(
        url=url,
        url_hash=media_url_hash(url),
        state=MediaFile.State.STORED,
        content=picture,
        content_type="image/png",
        size=len(picture),
        sha256=hashlib.sha256(picture).hexdigest(),
        md5=hashlib.md5(picture).hexdigest(),
    )

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            match_media_banks([case.pk])

    live_value = live_counters(case.subject, vendor_ids=[])["author.bank_hits_24h"]
    assert live_value == counters_at(case.subject, timezone.now())["author.bank_hits_24h"] == 1.0
