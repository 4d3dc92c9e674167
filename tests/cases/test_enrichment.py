"""Enrichment: scores and context pulled into a case, stored once, retried when a source may recover,
and a case always routed, even with every source down. Vendor fakes are real HTTP servers on loopback."""

import re
import threading

import pytest
from werkzeug import Response

from cases.models import Case, ContextProvider, Scorer, Signal
from cases.tasks import enrich_and_route, sweep_unrouted_cases
from cases.tasks import enrich_then_route as enrich_case
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.ENRICHMENT_DEADLINE_SECONDS = 2.0


@pytest.fixture
def default_queue(db):
    return factories.QueueFactory(slug="general", is_default=True)


@pytest.fixture
def case(policies, vendor):
    subject = factories.SubjectFactory(
        text="you are a worthless idiot", author_id="author 1/2", language="en"
    )
    case = factories.CaseFactory(subject=subject, policy=policies["harassment"])
    factories.ReportFactory(case=case, vendor=vendor)
    return case


@pytest.fixture
def builtin_scorer(db):
    return Scorer.objects.create(name="Built-in", kind=Scorer.Kind.BUILTIN_TEXT)


def http_scorer(url, **fields):
    fields = {"name": "Vendor X", "timeout_seconds": 1.0} | fields
    return Scorer.objects.create(kind=Scorer.Kind.HTTP, url=url, **fields)


def context_provider(url, **fields):
    fields = {"name": "Platform facts", "timeout_seconds": 1.0} | fields
    return ContextProvider.objects.create(url_template=url, **fields)


def test_builtin_model_scores_are_stored_with_model_and_version(case, builtin_scorer, default_queue):
    enrich_and_route(case.pk)

    signal = Signal.objects.get(case=case, source=Signal.Source.SCORER)
    assert signal.label == "profanity"
    assert signal.score > 0.5
    assert signal.model == "alt-profanity-check"
    assert signal.model_version.startswith("1.") and "sklearn" in signal.model_version
    case.refresh_from_db()
    assert case.enriched_at is not None and case.routed_at is not None


def test_http_scorer_and_context_provider_become_signals(case, httpserver, default_queue):
    httpserver.expect_request("/score", method="POST").respond_with_json(
        {
            "model": "tox-v3",
            "categories": [{"category": "toxicity", "score": 0.93}, {"category": "threat", "score": 0.1}],
        }
    )
    httpserver.expect_request(re.compile(r"^/users/.+/facts$")).respond_with_json(
        {"account_age_days": 3, "prior_strikes": 2, "hash_match": False, "country": "NL"}
    )
    http_scorer(httpserver.url_for("/score"), response_format="category_list", label_prefix="x.")
    context_provider(httpserver.url_for("/users/{author_id}/facts"))

    outcome = enrich_case(case_id=case.pk)

    assert outcome.complete and not outcome.failed
    signals = {s.label: s for s in Signal.objects.filter(case=case)}
    assert signals["x.toxicity"].score == pytest.approx(0.93)
    assert signals["x.toxicity"].model_version == "tox-v3"
    assert signals["account_age_days"].value == 3
    assert signals["hash_match"].value is False
    assert signals["country"].value == "NL"
    # The author id was encoded whole into one path segment.
    ((facts_request, _),) = [entry for entry in httpserver.log if entry[0].path.startswith("/users/")]
    assert facts_request.environ["RAW_URI"] == "/users/author%201%2F2/facts"


def test_rerunning_enrichment_adds_no_duplicate_signal_and_calls_nothing_again(
    case, httpserver, default_queue
):
    httpserver.expect_request("/score").respond_with_json({"toxicity": 0.4})
    http_scorer(httpserver.url_for("/score"))

    enrich_and_route(case.pk)
    enrich_and_route(case.pk)  # a re-delivered task

    assert Signal.objects.filter(case=case).count() == 1
    assert len(httpserver.log) == 1


def test_a_signal_stored_twice_is_kept_once(case):
    from django.db import transaction

    from cases.detection.enrichment import EnrichmentOutcome, _apply
    from cases.detection.sources import SignalDraft
    from queues.services import lock_case_for_routing

    draft = SignalDraft(
        source="scorer", source_name="s", label="toxicity", score=0.5, dedupe_key="scorer:1:v1:toxicity"
    )
    for _ in range(2):  # as a re-delivered task would
        with transaction.atomic():
            _apply(lock_case_for_routing(case.pk), [draft], EnrichmentOutcome(case.pk))
    assert Signal.objects.filter(case=case).count() == 1


def test_new_subject_content_is_scored_again(case, builtin_scorer, default_queue):
    enrich_case(case_id=case.pk)
    case.subject.content_version = 2
    case.subject.text = "have a lovely day"
    case.subject.save()

    enrich_case(case_id=case.pk)

    scores = list(Signal.objects.filter(case=case).order_by("id").values_list("score", flat=True))
    assert len(scores) == 2 and scores[0] > scores[1]


class TestFailures:
    def test_vendor_500_is_retryable_and_the_case_is_routed_anyway(self, case, httpserver, default_queue):
        httpserver.expect_request("/score").respond_with_data("oops", status=500)
        scorer = http_scorer(httpserver.url_for("/score"))

        outcome = enrich_case(case_id=case.pk)
        from queues.services import route_case

        route_case(case_id=case.pk)

        key = f"scorer:{scorer.pk}:v1"
        assert key in outcome.retryable
        case.refresh_from_db()
        assert case.routed_at is not None and case.queue == default_queue
        assert case.enriched_at is None
        assert "HTTP 500" in case.enrichment_state["errors"][key]

    def test_a_retry_after_the_vendor_recovers_stores_the_signal_and_clears_the_error(
        self, case, httpserver, default_queue
    ):
        scorer = http_scorer(httpserver.url_for("/score"))
        httpserver.expect_ordered_request("/score").respond_with_data("down", status=503)
        httpserver.expect_ordered_request("/score").respond_with_json({"toxicity": 0.91})

        first = enrich_case(case_id=case.pk)
        second = enrich_case(case_id=case.pk)

        assert first.retryable and second.complete
        assert Signal.objects.get(case=case).score == pytest.approx(0.91)
        case.refresh_from_db()
        assert case.enriched_at is not None
        assert f"scorer:{scorer.pk}:v1" not in case.enrichment_state["errors"]
        assert case.enrichment_state["attempts"] == 2

    def test_timeout_is_retryable(self, case, httpserver, default_queue, settings):
        release, answered = threading.Event(), threading.Event()

        def slow(request):
            release.wait(10)  # the test server is single-threaded: let it go once the client gave up
            answered.set()
            return Response("{}", content_type="application/json")

        httpserver.expect_request("/slow").respond_with_handler(slow)
        http_scorer(httpserver.url_for("/slow"), timeout_seconds=0.3)

        try:
            outcome = enrich_case(case_id=case.pk)
            gave_up_first = not answered.is_set()
        finally:
            release.set()

        assert gave_up_first  # enrichment moved on while the scorer was still holding its answer
        assert outcome.retryable and "Timeout" in next(iter(outcome.retryable.values()))

    def test_malformed_response_is_a_final_failure(self, case, httpserver, default_queue):
        httpserver.expect_request("/score").respond_with_data("<html>not json</html>")
        http_scorer(httpserver.url_for("/score"))

        outcome = enrich_case(case_id=case.pk)

        assert outcome.failed and not outcome.retryable
        assert Case.objects.get(pk=case.pk).enriched_at is not None  # nothing left to wait for

    def test_last_attempt_gives_up_on_retryable_failures(self, case, httpserver, default_queue):
        httpserver.expect_request("/score").respond_with_data("down", status=503)
        http_scorer(httpserver.url_for("/score"))

        outcome = enrich_case(case_id=case.pk, give_up=True)

        assert outcome.failed and not outcome.retryable
        assert Case.objects.get(pk=case.pk).enriched_at is not None

    def test_a_case_is_routed_with_every_scorer_down(self, case, httpserver, default_queue, vendor):
        httpserver.expect_request("/a").respond_with_data("", status=500)
        httpserver.expect_request("/b").respond_with_data("", status=502)
        http_scorer(httpserver.url_for("/a"), name="A")
        http_scorer("http://127.0.0.1:9/unreachable", name="B")  # nothing listens on the discard port
        context_provider(httpserver.url_for("/b"))

        enrich_and_route(case.pk, eager=True)

        case.refresh_from_db()
        assert case.routed_at is not None and case.queue == default_queue
        assert set(case.enrichment_state["errors"]) and not Signal.objects.filter(case=case).exists()

    def test_ssrf_guard_refuses_internal_targets(self, case, default_queue, settings):
        settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
        http_scorer("http://169.254.169.254/latest/meta-data/", name="metadata")
        context_provider("http://127.0.0.1:6379/{author_id}", name="redis")

        outcome = enrich_case(case_id=case.pk)

        assert len(outcome.failed) == 2 and not outcome.retryable
        assert all("BlockedDestination" in message for message in outcome.failed.values())


def test_disabled_and_non_applicable_sources_are_skipped(case, httpserver):
    http_scorer(httpserver.url_for("/off"), name="off", is_enabled=False)
    http_scorer(httpserver.url_for("/media-only"), name="media", subject_kinds=["media"])

    outcome = enrich_case(case_id=case.pk)

    assert outcome.ran == [] and len(httpserver.log) == 0


def test_scores_arriving_later_reroute_the_case(case, httpserver, default_queue, policies):
    from queues.models import ScoreCondition

    target = factories.QueueFactory(slug="urgent")
    rule = factories.RoutingRuleFactory(name="toxic", target_queue=target)
    ScoreCondition.objects.create(rule=rule, source="scorer", label="toxicity", operator="gte", threshold=0.8)
    scorer = http_scorer(httpserver.url_for("/score"))
    httpserver.expect_ordered_request("/score").respond_with_data("", status=503)
    httpserver.expect_ordered_request("/score").respond_with_json({"toxicity": 0.95})

    enrich_and_route(case.pk, eager=True)
    assert Case.objects.get(pk=case.pk).queue == default_queue
    enrich_and_route(case.pk, attempt=1, eager=True)

    assert Case.objects.get(pk=case.pk).queue == target
    assert scorer.pk


def test_sweeper_routes_cases_stuck_unrouted(case, default_queue, settings):
    settings.ROUTING_GRACE_SECONDS = 0
    Case.objects.filter(pk=case.pk).update(opened_at="2026-01-01T00:00:00Z")

    swept = sweep_unrouted_cases.apply().get()

    assert swept == 1
    assert Case.objects.get(pk=case.pk).routed_at is not None


def test_sweeper_leaves_recent_and_routed_cases_alone(case, default_queue, settings):
    settings.ROUTING_GRACE_SECONDS = 3600
    assert sweep_unrouted_cases.apply().get() == 0


def test_unstorable_values_from_a_provider_are_a_final_failure_not_a_crash(case, httpserver, default_queue):
    httpserver.expect_request("/facts").respond_with_json({"bio": "nul\u0000here", "ok": 1})
    provider = context_provider(httpserver.url_for("/facts"))

    outcome = enrich_case(case_id=case.pk)

    key = f"context:{provider.pk}"
    assert key in outcome.failed and "NUL" in outcome.failed[key]
    case.refresh_from_db()
    assert case.routed_at is not None and key in case.enrichment_state["errors"]
    assert not Signal.objects.filter(case=case).exists()


def test_nan_in_a_scorer_response_is_malformed(case, httpserver, default_queue):
    httpserver.expect_request("/score").respond_with_data(
        '{"toxicity": NaN}', content_type="application/json"
    )
    http_scorer(httpserver.url_for("/score"))

    outcome = enrich_case(case_id=case.pk)

    assert outcome.failed and "MalformedResponse" in next(iter(outcome.failed.values()))
