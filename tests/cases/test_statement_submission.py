"""Submitting statements of reasons to the EU Transparency Database (a real loopback server standing in for
it, `tests/dsa_tdb.py`): batches of up to 100 with the bearer token, idempotent by puid (a duplicate answer
counts as delivered), retried with backoff, failures visible to leads and retried by them."""

import pytest
from django.utils import timezone

from cases.models import StatementOfReasons
from cases.services.statement_submission import submit_due_statements
from cases.services.statements import retry_statement
from cases.tasks import submit_statements
from moderation.models import AuditEvent
from tests import factories
from tests.dsa_tdb import TransparencyDatabase

pytestmark = pytest.mark.django_db

TOKEN = "X|tdb-token-for-tests"
PENDING, SUBMITTED, FAILED = "pending", "submitted", "failed"


@pytest.fixture
def tdb(settings):
    server = TransparencyDatabase(TOKEN)
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.DSA_TDB_URL = server.url
    settings.DSA_TDB_TOKEN = TOKEN
    settings.DSA_SUBMIT_MAX_ATTEMPTS = 3
    yield server
    server.stop()


def payload(puid: str, **overrides) -> dict:
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": "ToS 4",
        "incompatible_content_explanation": "Harassment.",
        "content_type": ["CONTENT_TYPE_TEXT"],
        "category": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "content_date": "2026-11-30",
        "application_date": "2026-12-01",
        "decision_facts": "Removed.",
        "source_type": "SOURCE_ARTICLE_16",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": puid,
    } | overrides


def statements(n: int, **overrides) -> list[StatementOfReasons]:
    made = []
    for _ in range(n):
        decision = factories.DecisionFactory(case=factories.CaseFactory())
        puid = f"mod-decision-{decision.pk}"
        made.append(
            StatementOfReasons.objects.create(
                decision=decision,
                case=decision.case,
                puid=puid,
                payload=payload(puid, **overrides),
                decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT",
                source_type="SOURCE_ARTICLE_16",
                automated_decision="AUTOMATED_DECISION_NOT_AUTOMATED",
            )
        )
    return made


def states() -> list[str]:
    return list(StatementOfReasons.objects.order_by("id").values_list("state", flat=True))


def backoff_passes() -> None:
    StatementOfReasons.objects.filter(state=PENDING).update(next_attempt_at=timezone.now())


def test_due_statements_go_in_one_call_exactly_as_stored_with_the_bearer_token(tdb):
    rows = statements(3)

    assert submit_statements.run() == 3

    assert len(tdb.calls) == 1
    assert tdb.calls[0] == {"statements": [row.payload for row in rows]}
    assert tdb.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert states() == [SUBMITTED] * 3
    stored = StatementOfReasons.objects.get(pk=rows[0].pk)
    assert stored.tdb_uuid == tdb.stored[rows[0].puid]["uuid"]
    assert stored.submitted_at is not None and stored.attempts == 1
    assert AuditEvent.objects.filter(verb="statement.submitted").count() == 3
    assert submit_statements.run() == 0 and len(tdb.calls) == 1  # nothing due any more


def test_a_call_carries_at_most_100_statements(tdb):
    statements(101)

    summary = submit_due_statements()

    assert [len(call["statements"]) for call in tdb.calls] == [100, 1]
    assert (summary.submitted, summary.batches) == (101, 2)
    assert len(tdb.stored) == 101


def test_a_puid_the_tdb_already_has_counts_as_delivered_and_the_rest_of_the_batch_goes_next(tdb):
    rows = statements(3)
    tdb.stored[rows[1].puid] = {"puid": rows[1].puid}

    summary = submit_due_statements()

    assert states() == [SUBMITTED] * 3
    assert (summary.submitted, summary.duplicates) == (3, 1)
    assert StatementOfReasons.objects.get(pk=rows[1].pk).duplicate is True
    assert [len(call["statements"]) for call in tdb.calls] == [3, 2]  # the refused call created nothing


def test_a_lost_answer_is_resolved_by_the_duplicate_answer_on_the_retry(tdb):
    rows = statements(2)
    tdb.answer(503, apply_first=True)  # stored, but the answer never says so

    submit_due_statements()
    assert states() == [PENDING] * 2
    row = StatementOfReasons.objects.get(pk=rows[0].pk)
    assert row.attempts == 1 and row.next_attempt_at > timezone.now() and row.last_status == 503

    backoff_passes()
    submit_due_statements()

    assert states() == [SUBMITTED] * 2
    assert len(tdb.stored) == 2  # each statement once in the database, however often it was sent
    assert StatementOfReasons.objects.filter(duplicate=True).count() == 2


def test_a_statement_waiting_out_its_backoff_is_not_sent(tdb):
    statements(1)
    tdb.answer(500)
    submit_due_statements()

    submit_due_statements()

    assert len(tdb.calls) == 1


def test_transient_failures_are_retried_until_the_limit_then_fail_for_leads_to_retry(tdb):
    (row,) = statements(1)
    tdb.answer(503, times=3)
    for _ in range(3):
        submit_due_statements()
        backoff_passes()

    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_status) == (FAILED, 3, 503)
    assert AuditEvent.objects.filter(verb="statement.failed", target_id=str(row.pk)).count() == 1

    retry_statement(statement_id=row.pk, user=factories.UserFactory(username="lena"))
    submit_due_statements()

    row.refresh_from_db()
    assert (row.state, row.attempts) == (SUBMITTED, 4)


def test_a_wrong_token_fails_the_batch_at_once(tdb, settings):
    settings.DSA_TDB_TOKEN = "wrong"
    statements(2)

    submit_due_statements()

    assert states() == [FAILED] * 2
    assert StatementOfReasons.objects.first().last_error.startswith("HTTP 401")


def test_a_statement_the_tdb_refuses_fails_with_its_errors_and_the_others_go_through(tdb):
    rows = statements(3)
    StatementOfReasons.objects.filter(pk=rows[1].pk).update(payload=payload(rows[1].puid, decision_facts=""))

    submit_due_statements()

    assert states() == [SUBMITTED, FAILED, SUBMITTED]
    refused = StatementOfReasons.objects.get(pk=rows[1].pk)
    assert refused.validation_errors == {"decision_facts": ["required"]}
    assert "decision_facts" in refused.last_error


def test_nothing_is_sent_while_no_endpoint_is_configured(tdb, settings):
    settings.DSA_TDB_URL = ""
    statements(2)

    assert submit_due_statements().batches == 0

    assert tdb.calls == [] and states() == [PENDING] * 2


def test_a_statement_another_worker_has_claimed_is_left_to_it(tdb):
    rows = statements(2)
    later = timezone.now() + timezone.timedelta(seconds=60)
    StatementOfReasons.objects.filter(pk=rows[0].pk).update(claim_token="other", claimed_until=later)

    submit_due_statements()

    assert [s["puid"] for s in tdb.calls[0]["statements"]] == [rows[1].puid]
    assert states() == [PENDING, SUBMITTED]


def test_an_unreachable_tdb_is_a_transient_failure(settings):
    from tests.webhooks import free_port

    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.DSA_TDB_URL = f"http://127.0.0.1:{free_port()}/api/v1/statements"
    settings.DSA_TDB_TOKEN = TOKEN
    statements(1)

    summary = submit_due_statements()

    assert (summary.retrying, states()) == (1, [PENDING])
    assert "refused" in StatementOfReasons.objects.get().last_error
