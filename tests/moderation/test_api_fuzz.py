"""The vendor API fuzzed from its own published OpenAPI schema (schemathesis), in-process over WSGI.

For every operation in `/api/schema/`, schema-valid and schema-violating requests are sent with a valid vendor
token; every answer must be documented (status code, content type, body shape), never a 5xx, refuse what the
schema forbids and accept what it allows, and demand the token it declares (schemathesis' default checks).
Runs are bounded and deterministic (fixed seed, derandomized Hypothesis, no example database) so CI is stable.
"""

import itertools
from datetime import UTC, timedelta

import jsonschema_rs
import pytest
import schemathesis
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from hypothesis import HealthCheck, settings
from rest_framework.settings import api_settings
from schemathesis.generation.stateful import run_state_machine_as_test

from cases.event_validation import KINDS_BY_TYPE
from cases.models import Appeal, Case
from cases.serializers import web_url
from cases.services import review
from cases.services.appeals import appeals_queue, resolve_appeal
from cases.validation import EARLIEST_OCCURRED_AT
from tests import factories

MAX_EXAMPLES = 25  # per operation, in the fuzzing phase; the coverage phase adds its own boundary cases
SEED = 20261120

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,  # Hypothesis `derandomize`: the same cases on every run and machine
            "database": "none",  # no .hypothesis/ replay of earlier failures: a run depends only on the code
            # NUL cannot be stored (PostgreSQL text) and is refused with 400 everywhere; the schema does not
            # spell that out on every string, so generating it would only report "valid data rejected".
            # tests/cases/test_intake_hostile_input.py covers NUL and lone surrogates.
            "allow-x00": False,
        },
        "operations": [
            {
                # A batch validates each item on its own (one bad item never loses the good ones): an item
                # that breaks the schema is answered 207 with that item's error, not 400 for the whole batch.
                "include-path": "/api/v1/reports/batch",
                "checks": {
                    "negative_data_rejection": {
                        "expected-statuses": [207, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422]
                    }
                },
            },
            {
                # The events endpoint takes a batch too (`{"events": [...]}`), validated item by item alike.
                "include-path": "/api/v1/events",
                "checks": {
                    "negative_data_rejection": {
                        "expected-statuses": [207, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422]
                    }
                },
            },
        ],
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), config=CONFIG)

FUZZ_SETTINGS = settings(
    # One vendor, one token and one (rolled back) test transaction serve all of an operation's examples: the
    # state they leave (reports, cases, idempotency keys) is what a real vendor's later requests meet too.
    # Generating nested report bodies can trip `too_slow` on a busy CI machine; the run is bounded anyway.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)


@pytest.fixture
def generous_rate_limit(settings):
    """The fuzzer sends hundreds of requests a second from one vendor. The default API_RATE_LIMIT (6000/min)
    would turn part of a run into 429s, which are documented and so would pass silently while testing
    nothing; raised here for the run (the limit itself is tested in test_api_limits.py)."""
    rates = {**settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}), "vendor": "1000000/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    api_settings.reload()
    from moderation.api_errors import VendorRateThrottle

    VendorRateThrottle.THROTTLE_RATES = rates  # read once at import by DRF: set it where it is read
    yield
    api_settings.reload()
    VendorRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


@pytest.fixture
def wsgi_in_test_transaction(db):
    """Requests go through Django's real WSGI handler, in this thread and on the test's connection, so they
    see the test's rows and are rolled back with it (`db`: fast on SQLite and PostgreSQL alike, and no
    on-commit work such as enrichment or enforcement delivery runs). The handler closes "old" connections when
    a request starts and ends; inside the test transaction that would close ours, so - as Django's own test
    client does - that signal receiver is disconnected while the test runs."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth(api, generous_rate_limit, wsgi_in_test_transaction) -> dict:
    """The headers of the vendor `acme` with a valid token; the policies spam, harassment and child-safety are
    active. Passed to each call (not set on the generated case: the coverage phase builds its cases before the
    token exists), so schemathesis knows them as explicit credentials and its auth check probes the same
    request without them and with a wrong token, expecting 401."""
    return {"Authorization": f"Bearer {api.token}"}


# --- business rules JSON Schema cannot express --------------------------------------------------------------


def _meets_rules_the_schema_cannot_state(case, policies: dict) -> None:
    """Turn a schema-valid report body into one the documented business rules accept too, changing only what
    JSON Schema cannot say: `reason` must be an active policy code (the catalogue lives in the database),
    `occurred_at` must fall between 2000-01-01 and a day from now, URLs must be http(s) (the schema can only
    say "uri"), and a label may appear once among `scores`. Everything else is sent as generated."""
    body = case.body
    if case.operation.path == "/api/v1/reports" and isinstance(body, dict):
        _fix_report(body, policies)
    elif case.operation.path == "/api/v1/reports/batch" and isinstance(body, dict):
        for item in body.get("reports") or []:
            if isinstance(item, dict):
                _fix_report(item, policies)
    elif case.operation.path == "/api/v1/events" and isinstance(body, dict):
        for item in body["events"] if isinstance(body.get("events"), list) else [body]:
            if isinstance(item, dict):
                _fix_event(item)


def _fix_event(event: dict) -> None:
    """A fresh event id (as for reports), an occurred_at in the window, web URLs, and a subject kind that
    fits the event type (`message.posted` is about a message or post, ...)."""
    if isinstance(event.get("id"), str):
        prefix = f"{next(_report_keys)}~"
        event["id"] = (prefix + event["id"])[: max(len(event["id"]), len(prefix))]
    if isinstance(event.get("occurred_at"), str) and not _in_reporting_window(event["occurred_at"]):
        event["occurred_at"] = (timezone.now() - timedelta(hours=1)).isoformat()
    subject = event.get("subject")
    if isinstance(subject, dict):
        _fix_subject(subject)
        kinds = KINDS_BY_TYPE.get(event.get("type"))
        if kinds and subject.get("kind") not in kinds:
            subject["kind"] = sorted(kinds)[0]


def _fix_report(report: dict, policies: dict) -> None:
    codes = sorted(policies)
    if isinstance(report.get("external_id"), str):
        # A fresh idempotency key, the generated one's length kept: the coverage phase sends every boundary
        # case under the key "0", which would only reach the 409 of a reused key, never the database.
        prefix = f"{next(_report_keys)}~"
        report["external_id"] = (prefix + report["external_id"])[
            : max(len(report["external_id"]), len(prefix))
        ]
    if report.get("reason") not in codes:
        report["reason"] = codes[len(str(report.get("reason"))) % len(codes)]
    if isinstance(report.get("occurred_at"), str) and not _in_reporting_window(report["occurred_at"]):
        report["occurred_at"] = (timezone.now() - timedelta(hours=1)).isoformat()
    subject = report.get("subject")
    if isinstance(subject, dict):
        _fix_subject(subject)
    if isinstance(report.get("scores"), list):
        seen: set = set()
        report["scores"] = [
            score
            for score in report["scores"]
            if not (isinstance(score, dict) and (score.get("label") in seen or seen.add(score.get("label"))))
        ]


def _fix_subject(subject: dict) -> None:
    if isinstance(subject.get("url"), str) and subject["url"] and not _is_web_url(subject["url"]):
        subject["url"] = "https://platform.example/items/1"
    if isinstance(subject.get("media_urls"), list):
        subject["media_urls"] = [
            url if _is_web_url(url) else f"https://media.example/{index}.png"
            for index, url in enumerate(subject["media_urls"])
        ]


def _in_reporting_window(value: str) -> bool:
    """False only for a date-time the server parses but refuses as too old or in the future (a date-time it
    cannot parse is left alone: that would be a finding)."""
    try:
        moment = parse_datetime(value)
    except ValueError:
        return True
    if moment is None:
        return True
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        return False
    return EARLIEST_OCCURRED_AT <= moment <= timezone.now() + timedelta(hours=23)


_report_keys = itertools.count(1)


def _is_web_url(value) -> bool:
    try:
        web_url(value)
    except DjangoValidationError:
        return False
    return True


# --- the fuzz run -------------------------------------------------------------------------------------------


def batch_accepts_every_schema_valid_item(ctx, response, case):
    """`positive_data_acceptance` only sees the status, and a batch whose items are refused still answers 2xx
    (207): for schema-valid batches, look inside - every item must be created or a duplicate."""
    if case.id in _SCHEMA_VALID_BATCHES and response.status_code == 207:
        refused = [item for item in response.json()["results"] if item["status"] == "error"]
        raise AssertionError(f"Schema-valid batch items were refused: {refused[:3]}")
    return None


# Cases generated as schema-valid, by id. Decided before the call: a negative case whose only violation was in
# the Authorization header (replaced by the real token on sending) reads as positive afterwards.
_SCHEMA_VALID_BATCHES: set[str] = set()


def _prepare(case, policies: dict) -> None:
    if case.meta is not None and case.meta.generation.mode.is_positive:
        _meets_rules_the_schema_cannot_state(case, policies)
        if case.operation.path == "/api/v1/reports/batch" or (
            case.operation.path == "/api/v1/events" and isinstance(case.body, dict) and "events" in case.body
        ):
            _SCHEMA_VALID_BATCHES.add(case.id)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_as_documented(case, auth, policies):
    _prepare(case, policies)
    case.call_and_validate(headers=auth, additional_checks=[batch_accepts_every_schema_valid_item])


# --- what the vendor owns: real ids, real bodies ------------------------------------------------------------

REPORT = {
    "external_id": "fz-1",
    "reason": "harassment",
    "subject": {
        "kind": "message",
        "external_id": "msg-fz",
        "author_id": "author-9",
        "text": "you are worthless",
    },
    "scores": [{"label": "toxicity", "score": 0.91}],
}


def _call(auth, path: str, method: str, **kwargs):
    """One request built from the schema's own operation, checked like every fuzzed one."""
    return schema[path][method].Case(**kwargs).call_and_validate(headers=auth)


def test_reading_back_what_the_vendor_sent_answers_as_documented(auth, review_setup, other_api):
    """Random ids almost always answer 404: here the 200 bodies of a report, an open and a decided case, and an
    open and a decided appeal are checked against the schema, and another vendor's ids answer 404."""
    created = _call(auth, "/api/v1/reports", "POST", body=REPORT)
    assert created.status_code == 201
    ids = created.json()
    assert _call(auth, "/api/v1/reports", "POST", body=REPORT).status_code == 200  # an idempotent replay
    conflict = _call(auth, "/api/v1/reports", "POST", body={**REPORT, "comment": "changed"})
    assert conflict.status_code == 409

    open_case = _call(auth, "/api/v1/cases/{case_id}", "GET", path_parameters={"case_id": ids["case_id"]})
    assert open_case.status_code == 200 and open_case.json()["decision"] is None

    # Routing runs after commit (never, in this rolled-back test): put the case in alice's queue directly.
    Case.objects.filter(pk=ids["case_id"]).update(
        queue=review_setup.queue, status=Case.Status.OPEN, routed_at=timezone.now()
    )
    factories.hold(Case.objects.get(pk=ids["case_id"]), review_setup.agent)
    decision = review.record_decision(
        case_id=ids["case_id"],
        user=review_setup.agent,
        policy_id=review_setup.policies["harassment"].pk,
        action_id=review_setup.actions["remove"].pk,
        reason="Insulting another user.",
        expected_version=None,
    )
    report = _call(auth, "/api/v1/reports/{report_id}", "GET", path_parameters={"report_id": ids["id"]})
    assert report.status_code == 200 and report.json()["case"]["decision"] is not None
    decided = _call(auth, "/api/v1/cases/{case_id}", "GET", path_parameters={"case_id": ids["case_id"]})
    assert decided.status_code == 200 and decided.json()["decision"]["action"] == "remove"
    # What an appeal names, and the content version decided on (the report's, the subject's first).
    assert decided.json()["decision"]["id"] == decision.pk
    assert decided.json()["decision"]["subject_version"] == 1

    appeal_body = {"external_id": "ap-fz", "decision_id": decision.pk, "statement": "I was quoting them."}
    filed = _call(auth, "/api/v1/appeals", "POST", body=appeal_body)
    assert filed.status_code == 201
    assert _call(auth, "/api/v1/appeals", "POST", body=appeal_body).status_code == 200
    second = _call(auth, "/api/v1/appeals", "POST", body={**appeal_body, "external_id": "ap-fz-2"})
    assert second.status_code == 409  # one appeal per decision
    appeal = _call(
        auth, "/api/v1/appeals/{appeal_id}", "GET", path_parameters={"appeal_id": filed.json()["id"]}
    )
    assert appeal.status_code == 200 and appeal.json()["status"] == "open"

    reviewer = factories.UserFactory(username="carol")  # not the agent who decided
    appeals_queue().members.add(reviewer)
    appeal_case = factories.hold(Case.objects.get(appeal__pk=filed.json()["id"]), reviewer)
    resolve_appeal(
        case_id=appeal_case.pk,
        user=reviewer,
        outcome=Appeal.State.UPHELD,
        reason="Quoting an insult is still an insult.",
        expected_version=appeal_case.version,
    )
    upheld = _call(
        auth, "/api/v1/appeals/{appeal_id}", "GET", path_parameters={"appeal_id": filed.json()["id"]}
    )
    assert upheld.status_code == 200
    assert upheld.json()["status"] == "upheld" and upheld.json()["decided_at"] is not None

    others = {"Authorization": f"Bearer {other_api.token}"}
    for path, name, value in [
        ("/api/v1/reports/{report_id}", "report_id", ids["id"]),
        ("/api/v1/cases/{case_id}", "case_id", ids["case_id"]),
        ("/api/v1/appeals/{appeal_id}", "appeal_id", filed.json()["id"]),
    ]:
        assert _call(others, path, "GET", path_parameters={name: value}).status_code == 404


# --- what the fuzzer found, kept as fixed examples ----------------------------------------------------------


def _report(**changes) -> dict:
    body = {**REPORT, "external_id": "fz-found", "subject": dict(REPORT["subject"])}
    for dotted, value in changes.items():
        target, *path = dotted.split("__")
        holder = body
        for part in [target, *path][:-1]:
            holder = holder[part]
        holder[[target, *path][-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "bad_field"),
    [
        # Unknown fields were refused everywhere except inside a score, where they were silently dropped.
        (_report(scores=[{"label": "toxicity", "score": 0.5, "labels": "x"}]), "scores.0.labels"),
        # `$` matches before a trailing newline: such labels and languages used to be stored.
        (_report(scores=[{"label": "toxicity\n", "score": 0.5}]), "scores.0.label"),
        (_report(subject__language="en\n"), "subject.language"),
        # Python's strip() (the server's "blank") removes \x1c-\x1f, which ECMA's `\S` counts as text: the
        # schema now spells out Python's whitespace, so this is schema-invalid too.
        (_report(subject__external_id="\x1c"), "subject.external_id"),
        # The schema said any JSON value; metadata must be an object.
        (_report(subject__metadata=0), "subject.metadata"),
    ],
    ids=[
        "unknown-score-field",
        "label-newline",
        "language-newline",
        "blank-by-python",
        "metadata-not-object",
    ],
)
def test_what_the_fuzzer_found_is_refused_as_documented(auth, body, bad_field):
    response = _call(auth, "/api/v1/reports", "POST", body=body)

    assert response.status_code == 400
    assert bad_field in response.json()["fields"]
    assert _schema_allows("ReportInputRequest", REPORT)
    assert not _schema_allows("ReportInputRequest", body)  # and the published schema says so too


def _schema_allows(component: str, value) -> bool:
    """Whether the published schema accepts `value`, judged as schemathesis judges it (ECMA regexes)."""
    document = {"$ref": f"#/components/schemas/{component}", "components": schema.raw_schema["components"]}
    return jsonschema_rs.Draft4Validator(document).is_valid(value)


def test_an_unauthenticated_call_answers_a_documented_error_body(auth):
    # The error schema required `fields`, which only validation errors have.
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = (
            schema["/api/v1/cases/{case_id}"]["GET"]
            .Case(path_parameters={"case_id": 1})
            .call_and_validate(headers=headers)
        )
        assert response.status_code == 401
        assert set(response.json()) == {"error", "detail"}


# --- stateful: follow the ids the API hands out -------------------------------------------------------------


def test_following_the_ids_the_api_returns_answers_as_documented(auth, policies):
    """Sequences of calls where later ones use the ids earlier ones returned (links schemathesis infers from
    the schema: a created report's `id` and `case_id` feed GET /reports/{report_id} and GET /cases/{case_id})."""

    class VendorWorkflow(schema.as_state_machine()):
        def before_call(self, case):
            _prepare(case, policies)

        def get_call_kwargs(self, case):
            return {"headers": auth}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                headers=auth,
                additional_checks=[batch_accepts_every_schema_valid_item],
                transport_kwargs=kwargs,
            )

    run_state_machine_as_test(
        VendorWorkflow,
        settings=settings(
            FUZZ_SETTINGS,
            max_examples=10,
            stateful_step_count=5,
            derandomize=True,
            database=None,
        ),
    )
