"""End to end with a real Celery worker process on a Redis broker, then on RabbitMQ, and PostgreSQL (not eager).

A report posted to the API is committed, its enrichment is enqueued on commit, and a separate worker process
scores it with the built-in model, calls a vendor on loopback (retrying through its failures) and routes it.
Needs PostgreSQL and TEST_REDIS_URL (CI sets both, and TEST_RABBITMQ_URL); elsewhere the module is skipped.
"""

import pytest
from django.db import connection

from cases.models import Case, Scorer, Signal
from queues.models import ScoreCondition
from tests import factories
from tests.celery_worker import BROKERS, REDIS_URL, broker_url, run_worker, wait_for

__all__ = ["REDIS_URL", "_broker_url", "run_worker", "wait_for"]  # other real-worker modules import these

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql' or not REDIS_URL",
        reason="needs PostgreSQL and TEST_REDIS_URL (a real broker)",
    ),
]


def _broker_url() -> str:
    return broker_url("redis")


@pytest.fixture(scope="module", params=BROKERS)
def worker(request, django_db_setup, django_db_blocker):
    yield from run_worker(
        django_db_blocker,
        broker=request.param,
        ENRICHMENT_RETRY_BASE_SECONDS="0.2",
        ENRICHMENT_DEADLINE_SECONDS="3",
    )


@pytest.fixture
def routing(db):
    general = factories.QueueFactory(slug="general", is_default=True)
    offensive = factories.QueueFactory(slug="offensive")
    rule = factories.RoutingRuleFactory(name="offensive text", target_queue=offensive)
    ScoreCondition.objects.create(
        rule=rule, source="scorer", label="profanity", operator="gte", threshold=0.8
    )
    return {"general": general, "offensive": offensive}


def test_posted_report_is_scored_and_routed_by_the_worker(worker, api, report_body, routing):
    Scorer.objects.create(name="Built-in", kind=Scorer.Kind.BUILTIN_TEXT)
    body = report_body(subject={"kind": "message", "external_id": "m-1", "text": "you are a fucking idiot"})

    created = api.post("/api/v1/reports", body, format="json").json()

    case = wait_for(
        lambda: Case.objects.filter(
            pk=created["case_id"], routed_at__isnull=False, enriched_at__isnull=False
        ).first(),
        output=worker,
    )
    assert case.queue == routing["offensive"]
    signal = Signal.objects.get(case=case, source=Signal.Source.SCORER)
    assert signal.model == "alt-profanity-check" and signal.score >= 0.8


def test_worker_retries_a_failing_vendor_until_it_answers(worker, api, report_body, routing, httpserver):
    httpserver.expect_ordered_request("/score").respond_with_data("down", status=500)
    httpserver.expect_ordered_request("/score").respond_with_data("still down", status=503)
    httpserver.expect_ordered_request("/score").respond_with_json({"profanity": 0.97})
    Scorer.objects.create(
        name="Vendor", kind=Scorer.Kind.HTTP, url=httpserver.url_for("/score"), timeout_seconds=2
    )

    created = api.post("/api/v1/reports", report_body(), format="json").json()

    # Routed at once on what was known (default queue), then re-routed when the vendor answered.
    case = wait_for(
        lambda: Case.objects.filter(pk=created["case_id"], queue__slug="offensive").first(), output=worker
    )
    assert Signal.objects.filter(case=case).count() == 1
    assert len(httpserver.log) == 3
    assert case.enrichment_state["attempts"] == 3


def test_redelivered_enrichment_adds_no_duplicate_signal(worker, api, report_body, routing):
    from cases.tasks import enrich_cases

    Scorer.objects.create(name="Built-in", kind=Scorer.Kind.BUILTIN_TEXT)
    created = api.post("/api/v1/reports", report_body(), format="json").json()
    wait_for(
        lambda: Case.objects.filter(pk=created["case_id"], enriched_at__isnull=False).exists(), output=worker
    )

    for _ in range(3):  # the same message delivered again, as after a worker crash with acks_late
        enrich_cases.delay([created["case_id"]])
    wait_for(
        lambda: Case.objects.get(pk=created["case_id"]).enrichment_state.get("attempts", 0) >= 4,
        output=worker,
    )

    assert Signal.objects.filter(case_id=created["case_id"]).count() == 1


def test_worker_recovers_when_its_database_connections_are_killed(worker, api, report_body, routing):
    """Workers keep their connection between tasks; one the server dropped must not wedge them."""
    Scorer.objects.create(name="Built-in", kind=Scorer.Kind.BUILTIN_TEXT)
    first = api.post("/api/v1/reports", report_body(external_id="k-1"), format="json").json()
    wait_for(
        lambda: Case.objects.filter(pk=first["case_id"], routed_at__isnull=False).exists(), output=worker
    )

    with connection.cursor() as cursor:  # as a database restart or a pooler would
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

    body = report_body(
        external_id="k-2", subject={"kind": "post", "external_id": "p-after-kill", "text": "hi"}
    )
    second = api.post("/api/v1/reports", body, format="json").json()
    wait_for(
        lambda: Case.objects.filter(pk=second["case_id"], routed_at__isnull=False).exists(),
        timeout=45,
        output=worker,
    )
