"""`/metrics`: every figure after known events, scraped and parsed as Prometheus does.

Event counters live in the test process's registry and accumulate across tests, so those tests compare a
scrape before and after; state (queues, deliveries) is read from this test's database, so it is asserted as is.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from cases.models import Case, Enforcement, VendorCallback
from cases.services.review.decisions import decide_automatically, record_shadow_decision
from moderation.celery import app
from moderation.celery_signals import HEARTBEAT_CACHE_KEY, beat
from moderation.taskdefs import enqueue
from queues.models import Queue, QueueSnapshot
from queues.services.routing import route_case
from tests import factories
from tests.moderation.metrics_scrape import TOKEN, scrape, value
from tests.webhooks import free_port

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


# --- access ---------------------------------------------------------------------------------------------------


def test_metrics_do_not_exist_without_a_configured_token(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_refuse_a_missing_or_wrong_token_like_a_missing_page(client, settings):
    settings.METRICS_TOKEN = TOKEN

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 404
    answered = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answered.status_code == 200
    assert answered["Content-Type"].startswith("text/plain")


def test_metrics_and_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.METRICS_TOKEN = TOKEN

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get("/queues/").status_code == 301  # the rest of the app still is


# --- requests --------------------------------------------------------------------------------------------------


def test_requests_are_counted_and_timed_by_url_name_never_by_raw_path(client, settings):
    before = scrape(client, settings)

    client.get("/healthz")
    client.get("/healthz")
    client.get("/cases/98765/no-such-page-a1b2c3")

    after = scrape(client, settings)
    ok = {"view": "healthz", "method": "GET", "status": "2xx"}
    assert (
        value(after, "moderation_http_requests_total", **ok)
        - value(before, "moderation_http_requests_total", **ok)
        == 2
    )
    missing = {"view": "unresolved", "method": "GET", "status": "4xx"}
    assert (
        value(after, "moderation_http_requests_total", **missing)
        - value(before, "moderation_http_requests_total", **missing)
        == 1
    )
    timed = "moderation_http_request_duration_seconds_count"
    assert value(after, timed, view="healthz") - value(before, timed, view="healthz") == 2
    labels = {item for key in after for item in key[1]}
    assert not any("98765" in label_value or "a1b2c3" in label_value for _, label_value in labels)


# --- intake, enrichment, automation ------------------------------------------------------------------------------


def test_reports_are_counted_per_vendor_once_intake_commits_and_replays_are_not(
    client, settings, api, report_body, review_setup, django_capture_on_commit_callbacks
):
    before = value(scrape(client, settings), "moderation_intake_reports_total", vendor="acme")

    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/reports", report_body(), format="json").status_code == 201
        batch = {"reports": [report_body(external_id="r-2"), report_body(external_id="r-3")]}
        assert api.post("/api/v1/reports/batch", batch, format="json").status_code == 200
        assert api.post("/api/v1/reports", report_body(), format="json").status_code == 200  # a replay

    after = value(scrape(client, settings), "moderation_intake_reports_total", vendor="acme")
    assert after - before == 3


def test_a_rolled_back_intake_counts_nothing(client, settings, vendor, policies):
    from cases.services.intake import accept_reports
    from cases.validation import parse_report

    before = value(scrape(client, settings), "moderation_intake_reports_total", vendor="acme")
    raw = {"external_id": "x-1", "reason": "spam", "subject": {"kind": "post", "external_id": "p"}}
    item, errors = parse_report(raw, {code: policy for code, policy in policies.items()})
    assert not errors
    with pytest.raises(RuntimeError), transaction.atomic():
        accept_reports(vendor=vendor, reports=[item])
        raise RuntimeError("the request failed after intake")

    assert value(scrape(client, settings), "moderation_intake_reports_total", vendor="acme") == before


def test_enrichment_latency_is_observed_once_from_opening_to_first_routing(
    client, settings, review_setup, django_capture_on_commit_callbacks
):
    case = factories.CaseFactory(policy=review_setup.policies["spam"])
    Case.objects.filter(pk=case.pk).update(opened_at=timezone.now() - timedelta(seconds=40))
    name = "moderation_enrichment_latency_seconds"
    before = scrape(client, settings)

    with django_capture_on_commit_callbacks(execute=True):
        route_case(case_id=case.pk)
    with django_capture_on_commit_callbacks(execute=True):
        route_case(case_id=case.pk)  # re-routing is not a second latency

    after = scrape(client, settings)
    assert value(after, f"{name}_count") - value(before, f"{name}_count") == 1
    assert 40 <= value(after, f"{name}_sum") - value(before, f"{name}_sum") < 60
    assert value(after, f"{name}_bucket", le="30.0") == value(before, f"{name}_bucket", le="30.0")
    assert value(after, f"{name}_bucket", le="60.0") - value(before, f"{name}_bucket", le="60.0") == 1


def test_automated_decisions_are_counted_per_rule_and_mode(
    client, settings, review_setup, vendor, django_capture_on_commit_callbacks
):
    rule = factories.RoutingRuleFactory(
        automation_mode="live",
        auto_policy=review_setup.policies["spam"],
        auto_action=review_setup.actions["remove"],
    )
    decided = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
    shadowed = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
    labels = {"rule": str(rule.pk)}
    before = scrape(client, settings)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        locked = Case.objects.select_for_update().select_related("subject").get(pk=decided.pk)
        assert decide_automatically(case=locked, rule=rule) is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert record_shadow_decision(case=shadowed, rule=rule)
        assert not record_shadow_decision(case=shadowed, rule=rule)  # once per case and rule

    after = scrape(client, settings)
    counted = "moderation_automated_decisions_total"
    assert value(after, counted, mode="live", **labels) - value(before, counted, mode="live", **labels) == 1
    assert (
        value(after, counted, mode="shadow", **labels) - value(before, counted, mode="shadow", **labels) == 1
    )


# --- queues and deliveries (state, read at scrape time) ----------------------------------------------------------


def test_queue_depth_oldest_age_and_sla_breaches_per_queue_restricted_included(
    client, settings, review_setup, django_assert_max_num_queries
):
    now = timezone.now()
    general = review_setup.queue
    restricted = factories.QueueFactory(slug="child-safety", is_restricted=True)
    factories.QueueFactory(slug="idle")
    old = factories.OpenCaseFactory(queue=general, sla_due_at=now - timedelta(minutes=5))
    Case.objects.filter(pk=old.pk).update(opened_at=now - timedelta(hours=2))
    factories.OpenCaseFactory(queue=general, sla_due_at=now + timedelta(hours=1))
    factories.OpenCaseFactory(queue=general, status=Case.Status.IN_REVIEW)
    factories.OpenCaseFactory(queue=general, status=Case.Status.RESOLVED, sla_due_at=now - timedelta(days=1))
    factories.OpenCaseFactory(queue=restricted, sla_due_at=now - timedelta(minutes=1))

    # queues (no fresh snapshot, so counted: one more), and one per outbox kind: however many cases
    with django_assert_max_num_queries(4):
        samples = scrape(client, settings)

    assert value(samples, "moderation_queue_depth", queue="general", restricted="false") == 3
    assert value(samples, "moderation_sla_breached_cases", queue="general", restricted="false") == 1
    oldest = value(samples, "moderation_queue_oldest_age_seconds", queue="general", restricted="false")
    assert 7200 <= oldest < 7300
    assert value(samples, "moderation_queue_depth", queue="child-safety", restricted="true") == 1
    assert value(samples, "moderation_sla_breached_cases", queue="child-safety", restricted="true") == 1
    assert ("moderation_queue_depth", frozenset({"queue": "idle", "restricted": "false"}.items())) in samples
    assert value(samples, "moderation_queue_oldest_age_seconds", queue="idle", restricted="false") == 0


def test_a_fresh_queue_snapshot_stands_in_for_counting_the_backlog(
    client, settings, review_setup, django_assert_max_num_queries
):
    now = timezone.now()
    general = review_setup.queue
    factories.OpenCaseFactory(queue=general, sla_due_at=now - timedelta(minutes=5))
    for queue in Queue.objects.filter(is_active=True):
        figures = (
            dict(waiting=40, in_review=2, overdue=7, oldest_waiting_seconds=600) if queue == general else {}
        )
        QueueSnapshot.objects.create(queue=queue, at=now - timedelta(minutes=1), **figures)
    with django_assert_max_num_queries(3):  # the queues with their snapshots, one per outbox kind
        samples = scrape(client, settings)
    assert value(samples, "moderation_queue_depth", queue=general.slug, restricted="false") == 42
    assert value(samples, "moderation_sla_breached_cases", queue=general.slug, restricted="false") == 7
    oldest = value(samples, "moderation_queue_oldest_age_seconds", queue=general.slug, restricted="false")
    assert 660 <= oldest < 720

    QueueSnapshot.objects.update(at=now - timedelta(minutes=3))  # stale: counted again
    samples = scrape(client, settings)
    assert value(samples, "moderation_queue_depth", queue=general.slug, restricted="false") == 1
    assert value(samples, "moderation_sla_breached_cases", queue=general.slug, restricted="false") == 1


def test_deliveries_are_counted_by_kind_and_state_with_the_oldest_pending_age(client, settings, review_setup):
    now = timezone.now()
    vendor = factories.VendorFactory(slug="cb")

    def delivery(model, state, age_minutes=0, **fields):
        decision = factories.DecisionFactory(
            case=factories.OpenCaseFactory(queue=review_setup.queue), action=review_setup.actions["remove"]
        )
        row = model.objects.create(
            decision=decision,
            case=decision.case,
            state=state,
            idempotency_key=f"{model.__name__}-{decision.pk}",
            payload={},
            **fields,
        )
        model.objects.filter(pk=row.pk).update(created_at=now - timedelta(minutes=age_minutes))

    delivery(Enforcement, "pending", age_minutes=10)
    delivery(Enforcement, "pending", age_minutes=1)
    delivery(Enforcement, "failed")
    delivery(Enforcement, "delivered", age_minutes=100)
    delivery(VendorCallback, "failed", vendor=vendor)

    samples = scrape(client, settings)

    assert value(samples, "moderation_outbox_messages", kind="enforcement", state="pending") == 2
    assert value(samples, "moderation_outbox_messages", kind="enforcement", state="failed") == 1
    assert value(samples, "moderation_outbox_messages", kind="enforcement", state="delivered") == 1
    assert value(samples, "moderation_outbox_messages", kind="vendor_callback", state="failed") == 1
    assert value(samples, "moderation_outbox_messages", kind="vendor_callback", state="pending") == 0
    assert 600 <= value(samples, "moderation_outbox_oldest_pending_age_seconds", kind="enforcement") < 660
    assert value(samples, "moderation_outbox_oldest_pending_age_seconds", kind="vendor_callback") == 0


# --- Celery ---------------------------------------------------------------------------------------------------


@app.task(name="tests.ops_succeeds")
def _succeeds():
    return "done"


@app.task(name="tests.ops_explodes")
def _explodes():
    raise ValueError("boom")


def test_celery_tasks_are_counted_timed_and_failures_counted_by_task_name(client, settings):
    before = scrape(client, settings)

    _succeeds.delay()
    _succeeds.delay()
    # As a worker runs it: the failure is recorded, not raised into the caller (an eager failure that
    # propagates to its caller is the caller's exception, and no signal sees it).
    assert _explodes.apply(throw=False).failed()

    after = scrape(client, settings)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("moderation_celery_tasks_total", task="tests.ops_succeeds", state="SUCCESS") == 2
    assert delta("moderation_celery_tasks_total", task="tests.ops_explodes", state="FAILURE") == 1
    assert delta("moderation_celery_task_failures_total", task="tests.ops_explodes") == 1
    assert delta("moderation_celery_task_failures_total", task="tests.ops_succeeds") == 0
    assert delta("moderation_celery_task_duration_seconds_count", task="tests.ops_succeeds") == 2


def test_the_worker_heartbeat_age_is_infinite_until_a_worker_beats(client, settings):
    from django.core.cache import cache

    assert value(scrape(client, settings), "moderation_worker_heartbeat_age_seconds") == float("inf")

    beat(force=True)
    assert 0 <= value(scrape(client, settings), "moderation_worker_heartbeat_age_seconds") < 5

    cache.delete(HEARTBEAT_CACHE_KEY)


def test_an_eager_task_is_no_proof_of_a_worker(client, settings):
    _succeeds.delay()
    enqueue("moderation.record_worker_heartbeat")

    assert value(scrape(client, settings), "moderation_worker_heartbeat_age_seconds") == float("inf")


# --- the broker ------------------------------------------------------------------------------------------------


def test_a_broker_that_is_down_reads_as_down_and_the_scrape_still_answers(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"

    samples = scrape(client, settings)

    assert value(samples, "moderation_broker_up") == 0
    assert not any(name == "moderation_broker_queue_length" for name, _ in samples)
    assert (
        value(samples, "moderation_queue_depth", queue="appeals", restricted="false") == 0
    )  # the rest is there


@pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL (a real Redis broker)")
def test_broker_queue_lengths_count_every_priority_list_of_a_redis_queue(client, settings):
    broker = REDIS_URL.rsplit("/", 1)[0] + "/8"
    server = redis.Redis.from_url(broker)
    server.delete("celery", "celery\x06\x163")
    server.lpush("celery", "a", "b")
    server.lpush("celery\x06\x163", "c")
    settings.CELERY_BROKER_URL = broker
    try:
        samples = scrape(client, settings)
    finally:
        server.delete("celery", "celery\x06\x163")

    assert value(samples, "moderation_broker_up") == 1
    assert value(samples, "moderation_broker_queue_length", queue="celery") == 3


# --- many processes ------------------------------------------------------------------------------------------


def _count_in_another_process(directory, program: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)  # made by gunicorn's and Celery's start hooks in production
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", program], env=env, cwd=ROOT, check=True, timeout=60)


COUNTS = (
    "from moderation import metrics\n"
    "metrics.REPORTS_ACCEPTED.labels(vendor='acme').inc(3)\n"
    "metrics.TASK_FAILURES.labels(task='cases.enrich_cases').inc()\n"
)


def test_in_multiprocess_mode_the_scrape_adds_up_every_processs_counts(
    client, settings, tmp_path, monkeypatch
):
    for _ in range(2):  # two gunicorn workers, say: separate processes, one directory
        _count_in_another_process(tmp_path, COUNTS)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    samples = scrape(client, settings)

    assert value(samples, "moderation_intake_reports_total", vendor="acme") == 6
    assert value(samples, "moderation_celery_task_failures_total", task="cases.enrich_cases") == 2
    assert value(samples, "moderation_queue_depth", queue="appeals", restricted="false") == 0  # state too


def test_the_scrape_adds_up_the_directories_of_web_and_worker_containers(client, settings, tmp_path):
    web, worker = tmp_path / "web", tmp_path / "worker"
    _count_in_another_process(web, COUNTS)
    _count_in_another_process(worker, COUNTS)
    settings.METRICS_MULTIPROC_DIRS = [str(web), str(worker)]

    samples = scrape(client, settings)

    assert value(samples, "moderation_intake_reports_total", vendor="acme") == 6


def test_a_new_run_starts_its_metrics_files_afresh(tmp_path, monkeypatch):
    from moderation.metrics import prepare_multiprocess_dir

    _count_in_another_process(tmp_path / "web", COUNTS)
    assert list((tmp_path / "web").glob("*.db"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "web"))

    prepare_multiprocess_dir()

    assert not list((tmp_path / "web").glob("*.db"))
