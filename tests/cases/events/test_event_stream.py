"""The stream path against the real NATS JetStream server: dead letters, redelivery, and the REST endpoint
giving the same result (consumer run in this process, so on SQLite and PostgreSQL alike)."""

import time
from io import StringIO

import pytest
from django.core.management import call_command

from cases.management.event_stream import EventStream
from cases.models import Case, Event, Report
from queues.models import ScoreCondition
from tests.cases.events.nats_server import NATS_URL
from tests.cases.events.world import event_body, event_rule


@pytest.fixture(autouse=True)
def _banks_reload_at_once(settings):
    settings.BANK_RELOAD_SECONDS = 0


def consume(stream, vendor, **options) -> str:
    out = StringIO()
    call_command(
        "consume_events", source=vendor.slug, stdout=out, **stream.command_options(once=True, **options)
    )
    return out.getvalue()


def test_bad_messages_land_on_the_dead_letter_subject_with_their_reason_and_are_acked(stream, vendor, world):
    stream.publish(
        b"{not json",
        b'{"id": "n", "type": "message.posted", "subject": {"kind": "message", "external_id": "m"}, "x": NaN}',
        event_body("typo") | {"colour": "red"},
        event_body("good", text="free crypto"),
    )

    output = consume(stream, vendor)

    dead = stream.dead_letters()
    assert len(dead) == 3, dead
    reasons = [body["reason"] for _, body in dead]
    assert reasons[0].startswith("not JSON")
    assert "NaN is not valid JSON" in reasons[1]
    assert reasons[2] == "validation_error: colour" and dead[2][1]["fields"] == {"colour": ["Unknown field."]}
    assert dead[2][0]["Dead-Letter-Reason"] == "validation_error: colour"
    assert '"typo"' in dead[2][1]["original"]
    assert stream.consumer() == {"pending": 0, "ack_pending": 0}  # all four acked, none redelivered
    assert list(Event.objects.values_list("external_id", flat=True)) == ["good"]
    assert "dead-lettered 3" in output


def test_a_redelivered_message_counts_once_and_opens_one_case(stream, vendor, review_setup):
    rule = event_rule(
        policy=review_setup.policies["spam"],
        conditions=[(ScoreCondition.Source.SYSTEM, "event.author_events_1h", ScoreCondition.Operator.GTE, 2)],
    )
    stream.publish(event_body("e1", text="one"), event_body("e2", text="two"))
    # A consumer that stores the batch and dies before acking: the server redelivers after ack_wait.
    crashed = EventStream(
        url=NATS_URL,
        stream=stream.name,
        subject=stream.subject,
        durable=stream.durable,
        dead_letter=stream.dead_letter,
        ack_wait=1.0,
        max_deliver=5,
        source=vendor,
    )
    crashed.open()
    try:
        msgs = crashed.fetch(10)
        assert len(msgs) == 2
        from cases.event_validation import parse_event
        from cases.management.event_stream import decode
        from cases.services.events import ingest_events

        ingest_events(source=vendor, events=[parse_event(decode(msg.data))[0] for msg in msgs])
    finally:
        crashed.close()
    assert stream.consumer()["ack_pending"] == 2
    time.sleep(1.2)

    output = consume(stream, vendor, ack_wait=1.0)

    assert "duplicate 2" in output and "created 0" in output
    assert stream.consumer() == {"pending": 0, "ack_pending": 0}
    assert Event.objects.count() == 2
    assert Case.objects.count() == 1 and Report.objects.count() == 1  # e2 was the author's second event
    assert Event.objects.get(external_id="e2").rule_id == rule.pk


def test_the_stream_and_the_rest_endpoint_give_the_same_result_for_the_same_event(stream, api, vendor, world):
    by_rest = api.post("/api/v1/events", event_body("rest-1", text="wire the fee"), format="json").json()
    stream.publish(event_body("stream-1", text="wire the fee"), event_body("rest-1", text="wire the fee"))

    output = consume(stream, vendor)

    by_stream = Event.objects.get(external_id="stream-1")
    assert "created 1, duplicate 1" in output  # the event already posted is the same row
    assert (by_stream.outcome, by_stream.rule_id, by_stream.bank_hits) == (
        by_rest["outcome"],
        by_rest["rule_id"],
        Event.objects.get(external_id="rest-1").bank_hits,
    )
    assert (
        Report.objects.get(case=by_stream.case).reason
        == Report.objects.get(case_id=by_rest["case_id"]).reason
    )
    assert Event.objects.count() == 2 and Case.objects.count() == 2
