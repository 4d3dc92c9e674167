"""What the event tests share: a live spam rule with an event trigger over a scam bank, and a JetStream stream
of the test's own (unique name, deleted after) on the real NATS server."""

import pytest

from tests.cases.events.nats_server import delete_stream, new_stream
from tests.cases.events.world import event_rule, scam_bank


@pytest.fixture
def stream():
    stream = new_stream()
    yield stream
    delete_stream(stream)


@pytest.fixture
def world(review_setup):
    scam_bank()
    return event_rule(policy=review_setup.policies["spam"], target_queue=review_setup.queue)
