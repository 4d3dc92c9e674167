# ruff: noqa: F811  (fixtures imported from test_enforcement are redefined as test arguments)
"""Second chances: the undo window (effects held back, then sent; undone: never), a lead's reverse and
reopen, take over and reassignment, and the escalation queue a policy offers first.

The platform is a real loopback HTTP server (`tests.webhooks.Receiver`); Celery runs eagerly, so a delivery
task enqueued runs at once. The window is closed by moving its times into the past, not by sleeping.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, Decision, Enforcement, Report, Reporter, Strike
from cases.services import outbox
from cases.services.review.second_chances import undo_decision, withdraw_decision
from moderation.errors import Conflict, Forbidden, Invalid
from moderation.models import AuditEvent
from queues.models import EscalationRoute
from queues.services import reassign_case
from tests import factories
from tests.cases.test_enforcement import (  # noqa: F401  (fixtures)
    allow_private,
    case,
    decide,
    harassment,
    platform,
)

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def undo_window(settings):
    settings.DECISION_UNDO_SECONDS = 10
    return 10


def close_window(decision: Decision) -> None:
    """As if the window had passed: the decision's and its held rows' times move into the past."""
    past = timezone.now() - timedelta(seconds=1)
    Decision.objects.filter(pk=decision.pk).update(undo_until=past)
    for model in (Enforcement,):
        model.objects.filter(decision=decision, held_until__isnull=False).update(
            held_until=past, next_attempt_at=past
        )


def release() -> int:
    return sum(outbox.release_held(kind=kind) for kind in outbox.KINDS)


def lead_permissions(user, *codenames):
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="cases", codename=codename))
    return user


@pytest.fixture
def lead(review_setup):
    user = factories.UserFactory(username="lena")
    review_setup.queue.members.add(user)
    return lead_permissions(user, "reverse_decision", "reassign_case")


# --- the undo window ----------------------------------------------------------------------------------------


def test_enforcement_is_not_delivered_before_the_undo_window_closes_and_is_after(
    case, review_setup, platform, undo_window, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)
    enforcement = Enforcement.objects.get(decision=decision)
    assert enforcement.held_until == decision.undo_until
    assert platform.received == []
    # Neither the release sweeper nor a stray delivery task sends anything while the window is open.
    assert release() == 0
    assert outbox.deliver(kind=outbox.ENFORCEMENT, message_id=enforcement.pk).claimed is False
    assert platform.received == []

    close_window(decision)
    assert release() == 1
    enforcement.refresh_from_db()
    assert enforcement.state == Enforcement.State.DELIVERED
    assert [message.json()["type"] for message in platform.received] == ["enforcement.apply"]
    assert platform.received[0].verified


def test_an_undone_decision_is_never_delivered_and_its_case_goes_back_to_its_agent(
    case, review_setup, platform, undo_window, django_capture_on_commit_callbacks
):
    factories.ReportFactory(case=case, subject=case.subject, reporter_id="rep-1")
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)
    assert Strike.objects.filter(decision=decision, removed_at__isnull=True).exists()
    assert Reporter.objects.get(reporter_id="rep-1").upheld_count == 1

    undo_decision(case_id=case.pk, user=review_setup.agent, decision_id=decision.pk)

    case.refresh_from_db()
    decision.refresh_from_db()
    assert decision.review_state == Decision.ReviewState.UNDONE
    assert case.status != Case.Status.RESOLVED and case.assignee == review_setup.agent
    assert case.lease_expires_at > timezone.now()
    assert Enforcement.objects.get(decision=decision).state == Enforcement.State.CANCELLED
    assert not Strike.objects.filter(decision=decision, removed_at__isnull=True).exists()
    assert Report.objects.get(case=case).outcome == Report.Outcome.PENDING
    assert Reporter.objects.get(reporter_id="rep-1").upheld_count == 0
    assert AuditEvent.objects.filter(verb="decision.undone", case_id=case.pk).count() == 1
    close_window(decision)
    assert release() == 0
    assert platform.received == []


def test_a_second_undo_and_an_undo_after_the_window_are_conflicts(case, review_setup, undo_window):
    decision = decide(case, review_setup)
    undo_decision(case_id=case.pk, user=review_setup.agent, decision_id=decision.pk)
    with pytest.raises(Conflict, match="already undone"):
        undo_decision(case_id=case.pk, user=review_setup.agent, decision_id=decision.pk)

    again = decide(case, review_setup)
    close_window(again)
    with pytest.raises(Conflict, match="window"):
        undo_decision(case_id=case.pk, user=review_setup.agent, decision_id=again.pk)
    assert Decision.objects.get(pk=again.pk).review_state == Decision.ReviewState.FINAL


def test_an_enforcement_already_claimed_for_sending_refuses_the_undo(case, review_setup, undo_window):
    decision = decide(case, review_setup)
    enforcement = Enforcement.objects.get(decision=decision)
    # A worker won the claim (e.g. the clock skew let it start): the undo must not also "succeed".
    assert outbox.claim(outbox.ENFORCEMENT, enforcement, lease_seconds=60, now=enforcement.next_attempt_at)
    with pytest.raises(Conflict, match="already being sent"):
        undo_decision(case_id=case.pk, user=review_setup.agent, decision_id=decision.pk)
    assert Enforcement.objects.get(pk=enforcement.pk).state == Enforcement.State.PENDING
    assert Decision.objects.get(pk=decision.pk).review_state == Decision.ReviewState.FINAL


def test_only_the_decider_may_undo(case, review_setup, bob, undo_window):
    decision = decide(case, review_setup)
    review_setup.queue.members.add(bob)
    with pytest.raises(Conflict, match="Only the agent"):
        undo_decision(case_id=case.pk, user=bob, decision_id=decision.pk)


def test_no_undo_window_when_the_setting_is_zero(case, review_setup, settings):
    settings.DECISION_UNDO_SECONDS = 0
    decision = decide(case, review_setup)
    assert decision.undo_until is None
    assert Enforcement.objects.get(decision=decision).held_until is None


def test_the_decide_answer_offers_undo_and_the_undo_url_answers_409_the_second_time(
    client, case, review_setup, undo_window
):
    import json

    factories.hold(case, review_setup.agent)
    client.force_login(review_setup.agent)
    response = client.post(
        reverse("cases:decide", args=[case.pk]),
        {
            "policy": review_setup.policies["harassment"].pk,
            "action": review_setup.actions["remove"].pk,
            "version": case.version,
            "then": "stay",
        },
        **HX,
    )
    assert response.status_code == 200
    undo = json.loads(response["HX-Trigger"])["toast"]["undo"]
    assert undo["url"] == reverse("cases:undo", args=[case.pk]) and 1 <= undo["seconds"] <= 10
    first = client.post(undo["url"], {"decision": undo["decision"]}, **HX)
    assert first.status_code == 200 and b"Yours until" in first.content
    second = client.post(undo["url"], {"decision": undo["decision"]}, **HX)
    assert second.status_code == 409 and second["HX-Reswap"] == "none"


# --- a lead reverses or reopens -----------------------------------------------------------------------------


def test_a_lead_reverses_a_decision_with_a_reason_and_the_reversal_is_delivered(
    case, review_setup, platform, lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)
    with pytest.raises(Invalid):
        withdraw_decision(case_id=case.pk, user=lead, reason=" ", reopen=False, expected_version=None)
    with django_capture_on_commit_callbacks(execute=True):
        withdraw_decision(case_id=case.pk, user=lead, reason="Wrong call", reopen=True, expected_version=None)
    decision.refresh_from_db()
    case.refresh_from_db()
    assert decision.review_state == Decision.ReviewState.REVERSED and decision.withdrawn_by == lead
    assert case.status == Case.Status.OPEN and case.assignee is None
    assert not Strike.objects.filter(decision=decision, removed_at__isnull=True).exists()
    assert [m.json()["type"] for m in platform.received] == ["enforcement.apply", "enforcement.reverse"]
    verbs = set(AuditEvent.objects.filter(case_id=case.pk).values_list("verb", flat=True))
    assert {"decision.reversed", "case.reopened"} <= verbs


def test_an_agent_may_not_reverse_a_decision(case, review_setup):
    decide(case, review_setup)
    with pytest.raises(Forbidden):
        withdraw_decision(
            case_id=case.pk, user=review_setup.agent, reason="x", reopen=False, expected_version=None
        )


# --- holder, take over, reassign ----------------------------------------------------------------------------


def test_a_lead_reassigns_a_held_case_and_the_previous_holders_page_says_so(
    client, case, review_setup, lead, bob
):
    factories.hold(case, review_setup.agent)
    reassign_case(case_id=case.pk, user=lead, to_user_id=bob.pk)
    case.refresh_from_db()
    assert case.assignee == bob and case.lease_expires_at > timezone.now()
    event = AuditEvent.objects.get(verb="case.reassigned", case_id=case.pk)
    assert event.data["from"] == "alice" and event.data["to"] == "bob"

    client.force_login(review_setup.agent)
    beat = client.post(reverse("cases:heartbeat", args=[case.pk]), {"holding": "1"}, **HX)
    assert b"a lead gave it to bob" in beat.content
    page = client.get(reverse("cases:review", args=[case.pk]))
    assert b"bob is reviewing this case \xc2\xb7 held since" in page.content


def test_a_lead_takes_over_and_cannot_give_a_case_to_someone_outside_its_queue(case, review_setup, lead):
    factories.hold(case, review_setup.agent)
    outsider = factories.UserFactory(username="olga")
    with pytest.raises(Invalid):
        reassign_case(case_id=case.pk, user=lead, to_user_id=outsider.pk)
    reassign_case(case_id=case.pk, user=lead, to_user_id=lead.pk)
    assert Case.objects.get(pk=case.pk).assignee == lead
    assert AuditEvent.objects.filter(verb="case.taken_over", case_id=case.pk).exists()


def test_an_agent_may_not_reassign(case, review_setup, bob):
    factories.hold(case, review_setup.agent)
    with pytest.raises(Forbidden):
        reassign_case(case_id=case.pk, user=bob, to_user_id=bob.pk)


# --- escalation ---------------------------------------------------------------------------------------------


def test_escalation_offers_the_policys_escalation_queue_first_not_the_alphabetical_first(
    agent_client, case, review_setup, harassment
):
    factories.QueueFactory(slug="aaa", name="AAA first by name")
    specialists = factories.QueueFactory(slug="zzz", name="Zed specialists")
    EscalationRoute.objects.create(policy=harassment, queue=specialists)
    page = agent_client.get(reverse("cases:review", args=[case.pk])).content.decode()
    options = page[page.index('id="escalate-queue"') :]
    assert options.index("Zed specialists") < options.index("AAA first by name")
    assert f'value="{specialists.pk}" selected' in options
