"""Claiming cases out of a queue: claim-next, resume, leases, skips, releases, named claims, the sweeper."""

import functools
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cases.models import Case, Decision
from moderation.models import AuditEvent
from queues.models import CaseSkip, Queue
from queues.selectors import visible_queue_ids
from queues.services import (
    ClaimRefused,
    HoldLimitReached,
    claim_case,
    claim_next_case,
    release_case,
    release_expired_leases,
    renew_lease,
    skip_case,
)
from queues.services import claims as claims_module
from tests import factories

# Every test runs through both claim-next implementations (`claim_path`, tests/conftest.py): PostgreSQL's one
# statement and the portable compare-and-set path, so the claim rules hold on both.
pytestmark = pytest.mark.usefixtures("claim_path")

postgresql_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="row locks and SKIP LOCKED need PostgreSQL"
)


# --- Helpers ----------------------------------------------------------------------------------------------


@pytest.fixture
def queue(review_setup):
    return review_setup.queue


@pytest.fixture
def alice(review_setup):
    return review_setup.agent


@pytest.fixture
def bob(queue):
    return member(queue, "bob")


def member(queue, username):
    user = factories.UserFactory(username=username)
    queue.members.add(user)
    return user


def waiting_case(queue, *, priority=10.0, opened_at=None, status=Case.Status.OPEN, **fields):
    """An unassigned case waiting in `queue`; `opened_at` is written after creation (it is auto_now_add)."""
    case = factories.OpenCaseFactory(queue=queue, priority=priority, status=status, **fields)
    if opened_at is not None:
        Case.objects.filter(pk=case.pk).update(opened_at=opened_at)
        case.refresh_from_db()
    return case


def held_case(queue, user, *, lease_left=timedelta(minutes=5), status=Case.Status.IN_REVIEW, **fields):
    """A case `user` holds; a negative `lease_left` means the lease already ran out."""
    now = timezone.now()
    return factories.OpenCaseFactory(
        queue=queue,
        status=status,
        assignee=user,
        claimed_at=now - timedelta(minutes=10),
        lease_expires_at=now + lease_left,
        **fields,
    )


EXPIRED = timedelta(seconds=-1)


def expire_lease(case):
    Case.objects.filter(pk=case.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def events(verb, case):
    return list(AuditEvent.objects.filter(verb=verb, case_id=case.pk))


def reload(case):
    return Case.objects.get(pk=case.pk)


# --- Claim next: which case -------------------------------------------------------------------------------


def test_claim_next_gives_highest_priority_then_oldest_case(queue, alice):
    now = timezone.now()
    low_and_oldest = waiting_case(queue, priority=5, opened_at=now - timedelta(days=3))
    high_and_newer = waiting_case(queue, priority=50, opened_at=now - timedelta(hours=1))
    high_and_older = waiting_case(queue, priority=50, opened_at=now - timedelta(hours=2))

    order = [claim_next_case(user=member(queue, f"agent-{n}"), queue=queue).pk for n in range(3)]

    assert order == [high_and_older.pk, high_and_newer.pk, low_and_oldest.pk]


def test_claim_next_offers_only_unassigned_unresolved_cases(queue, alice, bob):
    held_case(queue, bob, priority=90)
    waiting_case(queue, priority=80, status=Case.Status.RESOLVED)
    # In review, yet nobody holds it (its holder's account was deleted): claimable, never stranded.
    orphan = waiting_case(queue, priority=70, status=Case.Status.IN_REVIEW)
    escalated = waiting_case(queue, priority=20, status=Case.Status.ESCALATED)
    open_case = waiting_case(queue, priority=10)

    claimed = [claim_next_case(user=member(queue, name), queue=queue) for name in ("a1", "a2", "a3", "a4")]

    assert [case.pk if case else None for case in claimed] == [orphan.pk, escalated.pk, open_case.pk, None]


def test_claim_next_puts_an_open_case_in_review(queue, alice):
    case = waiting_case(queue)

    claimed = claim_next_case(user=alice, queue=queue)

    assert claimed.pk == case.pk
    assert claimed.status == Case.Status.IN_REVIEW
    assert reload(case).status == Case.Status.IN_REVIEW


def test_claim_next_leaves_an_escalated_case_escalated(queue, alice):
    case = waiting_case(queue, status=Case.Status.ESCALATED)

    claimed = claim_next_case(user=alice, queue=queue)

    assert claimed.pk == case.pk
    assert reload(case).status == Case.Status.ESCALATED
    assert reload(case).assignee == alice


def test_claim_next_assigns_the_case_with_a_lease_and_bumps_its_version(queue, alice, settings):
    settings.CASE_LEASE_SECONDS = 120
    case = waiting_case(queue)
    before = timezone.now()

    claim_next_case(user=alice, queue=queue)

    after = timezone.now()
    case_after = reload(case)
    assert case_after.assignee == alice
    assert before <= case_after.claimed_at <= after
    assert before + timedelta(seconds=120) <= case_after.lease_expires_at <= after + timedelta(seconds=120)
    assert case_after.version == case.version + 1


def test_claim_next_is_audited_as_case_claimed(queue, alice):
    case = waiting_case(queue)

    claim_next_case(user=alice, queue=queue)

    [event] = events("case.claimed", case)
    assert event.actor_type == AuditEvent.ActorType.USER
    assert (event.actor_id, event.actor_label) == (str(alice.pk), "alice")
    assert (event.target_type, event.target_id) == ("cases.case", str(case.pk))
    assert event.data == {"queue": "general"}


def test_claim_next_returns_none_on_an_empty_queue(queue, alice):
    assert claim_next_case(user=alice, queue=queue) is None
    assert not AuditEvent.objects.filter(verb="case.claimed").exists()


def test_claim_next_never_returns_another_queues_case(queue, alice):
    other_queue = factories.QueueFactory(slug="harassment")
    other_queue.members.add(alice)
    elsewhere = waiting_case(other_queue, priority=99)

    assert claim_next_case(user=alice, queue=queue) is None
    mine = waiting_case(queue, priority=1)
    assert claim_next_case(user=alice, queue=queue).pk == mine.pk
    assert reload(elsewhere).assignee is None


# --- Claim next: resume -----------------------------------------------------------------------------------


def test_an_agent_holding_a_live_lease_gets_the_same_case_back(queue, alice):
    waiting_case(queue, priority=20)
    waiting_case(queue, priority=10)
    first = claim_next_case(user=alice, queue=queue)

    again = claim_next_case(user=alice, queue=queue)

    assert again.pk == first.pk
    assert list(Case.objects.filter(assignee=alice).values_list("pk", flat=True)) == [first.pk]
    assert AuditEvent.objects.filter(verb="case.claimed").count() == 1


def test_resuming_renews_the_lease_without_bumping_the_version(queue, alice, settings):
    settings.CASE_LEASE_SECONDS = 600
    case = held_case(queue, alice, lease_left=timedelta(seconds=30))
    before = timezone.now()

    resumed = claim_next_case(user=alice, queue=queue)

    assert resumed.pk == case.pk
    assert resumed.lease_expires_at >= before + timedelta(seconds=600)
    assert resumed.version == case.version


# --- How many cases an agent holds (CASE_MAX_HELD) -------------------------------------------------------------
# Each test runs through both claim-next implementations (`claim_path`, tests/conftest.py).


@pytest.fixture
def other_queue(alice):
    other = factories.QueueFactory(slug="harassment", name="Harassment")
    other.members.add(alice)
    return other


def held_by(user) -> set[int]:
    return set(
        Case.objects.filter(assignee=user).exclude(status=Case.Status.RESOLVED).values_list("pk", flat=True)
    )


def test_claim_next_in_a_second_queue_gives_back_the_case_held_in_the_first(
    claim_path, queue, other_queue, alice, settings
):
    settings.CASE_LEASE_SECONDS = 600
    waiting_case(queue)
    first = claim_next_case(user=alice, queue=queue)
    waiting_elsewhere = waiting_case(other_queue, priority=99)
    before = timezone.now()

    again = claim_next_case(user=alice, queue=other_queue)

    assert first.pk != waiting_elsewhere.pk
    assert again.pk == first.pk
    assert again.lease_expires_at >= before + timedelta(seconds=600), "handed back with its lease renewed"
    assert again.version == first.version
    assert held_by(alice) == {first.pk}
    assert reload(waiting_elsewhere).assignee is None
    assert AuditEvent.objects.filter(verb="case.claimed").count() == 1


def test_with_case_max_held_2_an_agent_holds_a_case_in_each_of_two_queues(
    claim_path, queue, other_queue, alice, settings
):
    settings.CASE_MAX_HELD = 2
    elsewhere = held_case(other_queue, alice)
    here = waiting_case(queue)
    third_queue = factories.QueueFactory(slug="spam")
    third_queue.members.add(alice)
    waiting_case(third_queue)

    assert claim_next_case(user=alice, queue=queue).pk == here.pk
    assert claim_next_case(user=alice, queue=queue).pk == here.pk, "still one at a time per queue"
    assert claim_next_case(user=alice, queue=third_queue).pk in {here.pk, elsewhere.pk}
    assert held_by(alice) == {here.pk, elsewhere.pk}


def test_at_the_limit_the_held_case_of_the_highest_priority_comes_back(
    claim_path, queue, other_queue, alice, settings
):
    settings.CASE_MAX_HELD = 2
    low = held_case(other_queue, alice, priority=5)
    high = held_case(other_queue, alice, priority=50)
    waiting_case(queue)

    assert claim_next_case(user=alice, queue=queue).pk == high.pk
    assert held_by(alice) == {low.pk, high.pk}


def test_a_second_review_the_agent_claimed_counts_as_held(claim_path, queue, other_queue, alice):
    confirming = held_case(other_queue, alice, status=Case.Status.PENDING_CONFIRMATION)
    waiting_case(queue)

    assert claim_next_case(user=alice, queue=queue).pk == confirming.pk
    assert held_by(alice) == {confirming.pk}


def test_the_agents_own_decision_awaiting_confirmation_does_not_count(claim_path, queue, other_queue, alice):
    """Deciding released the case: it waits for someone else, and the agent moves on."""
    awaiting = waiting_case(other_queue, status=Case.Status.PENDING_CONFIRMATION)
    factories.DecisionFactory(case=awaiting, decided_by=alice, review_state=Decision.ReviewState.PENDING)
    here = waiting_case(queue)

    assert claim_next_case(user=alice, queue=queue).pk == here.pk
    assert claim_next_case(user=alice, queue=other_queue).pk == here.pk


def test_a_lease_that_ran_out_elsewhere_does_not_count_and_cannot_come_back(
    claim_path, queue, other_queue, alice
):
    abandoned = held_case(other_queue, alice, lease_left=EXPIRED)
    here = waiting_case(queue)

    assert claim_next_case(user=alice, queue=queue).pk == here.pk

    assert reload(abandoned).assignee is None, "returned to its queue by the claim"
    assert len(events("case.lease_expired", abandoned)) == 1
    assert renew_lease(case_id=abandoned.pk, user=alice) is None, "a late heartbeat cannot revive it"
    assert held_by(alice) == {here.pk}


def test_a_named_claim_at_the_limit_is_refused_naming_the_held_case(queue, other_queue, alice):
    held = held_case(other_queue, alice)
    wanted = waiting_case(queue)

    with pytest.raises(HoldLimitReached, match=f"already reviewing case {held.pk}") as refused:
        claim_case(case_id=wanted.pk, user=alice)

    assert refused.value.held_case_id == held.pk
    assert reload(wanted).assignee is None
    assert reload(wanted).version == wanted.version
    assert not AuditEvent.objects.filter(verb="case.claimed").exists()


def test_a_named_claim_of_a_case_the_agent_holds_is_not_limited(queue, alice):
    held = held_case(queue, alice)

    assert claim_case(case_id=held.pk, user=alice).pk == held.pk


def test_with_case_max_held_2_a_named_claim_takes_a_second_case(queue, other_queue, alice, settings):
    settings.CASE_MAX_HELD = 2
    held = held_case(other_queue, alice)
    wanted = waiting_case(queue)

    assert claim_case(case_id=wanted.pk, user=alice).assignee == alice
    with pytest.raises(HoldLimitReached):
        claim_case(case_id=waiting_case(queue).pk, user=alice)
    assert held_by(alice) == {held.pk, wanted.pk}


def test_a_named_claim_first_returns_the_agents_run_out_leases(queue, other_queue, alice):
    abandoned = held_case(other_queue, alice, lease_left=EXPIRED)
    wanted = waiting_case(queue)

    assert claim_case(case_id=wanted.pk, user=alice).assignee == alice
    assert reload(abandoned).assignee is None
    assert held_by(alice) == {wanted.pk}


# Measured, the queue look-up being cached for the request. PostgreSQL: the lock-and-return-abandoned statement
# and the resume-or-claim statement, in one transaction (here a savepoint and its release, inside the test's
# own transaction; BEGIN and COMMIT elsewhere, which Django does not count). The portable path: 13 to claim,
# 9 to give a held case back. The same whether the agent holds nothing, a case here or one elsewhere.
CLAIM_NEXT_MAX_QUERIES = {"one-statement": 4, "portable": 13}


@pytest.mark.parametrize("holding", ["nothing", "here", "elsewhere"])
def test_claim_next_query_count_stays_bounded(
    claim_path, queue, other_queue, alice, holding, django_assert_max_num_queries
):
    for priority in range(5):
        waiting_case(queue, priority=priority)
    if holding == "here":
        held_case(queue, alice)
    elif holding == "elsewhere":
        held_case(other_queue, alice)
    visible_queue_ids(alice)  # cached for the request: the dashboard or queue page looked it up already

    with django_assert_max_num_queries(CLAIM_NEXT_MAX_QUERIES[claim_path]):
        claimed = claim_next_case(user=alice, queue=queue)

    assert claimed is not None


# --- Leases -----------------------------------------------------------------------------------------------


def test_an_expired_lease_returns_the_case_to_the_queue(queue, alice):
    case = held_case(queue, alice, lease_left=EXPIRED)

    assert release_expired_leases() == 1

    case_after = reload(case)
    assert case_after.status == Case.Status.OPEN
    assert case_after.assignee is None
    assert case_after.lease_expires_at is None
    assert case_after.claimed_at is None


def test_an_expired_lease_is_audited_as_lease_expired_by_the_sweeper(queue, alice):
    case = held_case(queue, alice, lease_left=EXPIRED)

    release_expired_leases()

    [event] = events("case.lease_expired", case)
    assert event.actor_type == AuditEvent.ActorType.SYSTEM
    assert event.actor_label == "lease-sweeper"
    assert event.data == {"assignee": alice.pk}


def test_live_leases_and_resolved_cases_are_not_released(queue, alice, bob):
    live = held_case(queue, alice)
    resolved = held_case(queue, bob, lease_left=EXPIRED, status=Case.Status.RESOLVED)

    assert release_expired_leases() == 0
    assert reload(live).assignee == alice
    assert reload(resolved).assignee == bob
    assert not AuditEvent.objects.filter(verb="case.lease_expired").exists()


def test_release_expired_leases_for_one_queue_leaves_other_queues_alone(queue, alice):
    other_queue = factories.QueueFactory(slug="harassment")
    here = held_case(queue, alice, lease_left=EXPIRED)
    elsewhere = held_case(other_queue, alice, lease_left=EXPIRED)

    assert release_expired_leases(queue_id=queue.pk) == 1
    assert reload(here).assignee is None
    assert reload(elsewhere).assignee == alice


def test_another_agent_claiming_next_gets_an_abandoned_case(queue, alice, bob):
    abandoned = held_case(queue, alice, lease_left=EXPIRED, priority=50)
    waiting_case(queue, priority=10)

    claimed = claim_next_case(user=bob, queue=queue)

    assert claimed.pk == abandoned.pk, "the abandoned, higher-priority case must be offered first"
    assert claimed.assignee == bob
    assert claimed.status == Case.Status.IN_REVIEW
    assert len(events("case.lease_expired", abandoned)) == 1


def test_claim_next_returns_an_abandoned_case_even_when_it_is_the_only_one(queue, alice, bob):
    abandoned = held_case(queue, alice, lease_left=EXPIRED)

    claimed = claim_next_case(user=bob, queue=queue)

    assert claimed is not None, "claim-next found nothing although the queue held an abandoned case"
    assert (claimed.pk, claimed.assignee) == (abandoned.pk, bob)


def test_an_escalated_case_stays_escalated_when_its_lease_runs_out(queue, alice):
    case = held_case(queue, alice, lease_left=EXPIRED, status=Case.Status.ESCALATED)

    assert release_expired_leases() == 1

    case_after = reload(case)
    assert case_after.status == Case.Status.ESCALATED
    assert case_after.assignee is None


def test_a_case_whose_holder_was_deleted_goes_back_to_the_queue(queue, alice, bob):
    """Case.assignee is on_delete=SET_NULL: the case is left `in_review` with nobody; claim-next offers it."""
    case = waiting_case(queue)
    claim_next_case(user=alice, queue=queue)
    alice.delete()
    expire_lease(case)

    release_expired_leases()
    claimed = claim_next_case(user=bob, queue=queue)

    stranded = reload(case)
    assert claimed is not None and claimed.pk == case.pk, (
        f"BUG: case {case.pk} is stranded (status={stranded.status!r}, assignee=None, "
        f"lease_expires_at={stranded.lease_expires_at}) after its holder was deleted: "
        "release_expired_leases() skips it (assignee__isnull=False) and claim_next_case() skips it "
        "(status not in CLAIMABLE_STATUSES)."
    )


def test_a_renewed_lease_is_not_released(queue, alice, settings):
    settings.CASE_LEASE_SECONDS = 300
    case = held_case(queue, alice, lease_left=EXPIRED)
    before = timezone.now()

    expires = renew_lease(case_id=case.pk, user=alice)

    assert expires >= before + timedelta(seconds=300)
    assert reload(case).lease_expires_at == expires
    assert release_expired_leases() == 0
    assert reload(case).assignee == alice


def test_renew_lease_returns_none_for_a_case_the_user_does_not_hold(queue, alice, bob):
    bobs = held_case(queue, bob, lease_left=timedelta(seconds=30))
    unassigned = waiting_case(queue)

    assert renew_lease(case_id=bobs.pk, user=alice) is None
    assert renew_lease(case_id=unassigned.pk, user=alice) is None
    assert reload(bobs).lease_expires_at == bobs.lease_expires_at
    assert reload(unassigned).lease_expires_at is None


def test_renew_lease_returns_none_for_a_resolved_case(queue, alice):
    case = held_case(queue, alice, status=Case.Status.RESOLVED)

    assert renew_lease(case_id=case.pk, user=alice) is None


# --- Skipping ---------------------------------------------------------------------------------------------


def test_skipping_releases_the_case_and_is_audited(queue, alice):
    case = waiting_case(queue)
    claim_next_case(user=alice, queue=queue)

    assert skip_case(case_id=case.pk, user=alice) is True

    case_after = reload(case)
    assert (case_after.status, case_after.assignee) == (Case.Status.OPEN, None)
    assert len(events("case.skipped", case)) == 1
    assert CaseSkip.objects.filter(case=case, user=alice).exists()


def test_a_skipped_case_is_not_offered_to_the_same_agent_again(queue, alice):
    case = waiting_case(queue)
    claim_next_case(user=alice, queue=queue)
    skip_case(case_id=case.pk, user=alice)

    assert claim_next_case(user=alice, queue=queue) is None
    assert reload(case).assignee is None


def test_after_a_skip_the_agent_gets_the_next_case(queue, alice):
    top = waiting_case(queue, priority=50)
    runner_up = waiting_case(queue, priority=10)
    claim_next_case(user=alice, queue=queue)
    skip_case(case_id=top.pk, user=alice)

    assert claim_next_case(user=alice, queue=queue).pk == runner_up.pk


def test_a_skipped_case_is_offered_to_another_agent(queue, alice, bob):
    case = waiting_case(queue)
    claim_next_case(user=alice, queue=queue)
    skip_case(case_id=case.pk, user=alice)

    assert claim_next_case(user=bob, queue=queue).pk == case.pk


def test_a_skipped_case_is_offered_again_after_the_skip_hours(queue, alice, settings):
    settings.CASE_SKIP_HOURS = 2
    case = waiting_case(queue)
    claim_next_case(user=alice, queue=queue)
    skip_case(case_id=case.pk, user=alice)
    CaseSkip.objects.filter(case=case, user=alice).update(
        created_at=timezone.now() - timedelta(hours=2, minutes=1)
    )

    assert claim_next_case(user=alice, queue=queue).pk == case.pk


def test_a_skip_still_within_the_skip_hours_holds(queue, alice, settings):
    settings.CASE_SKIP_HOURS = 2
    case = waiting_case(queue)
    claim_next_case(user=alice, queue=queue)
    skip_case(case_id=case.pk, user=alice)
    CaseSkip.objects.filter(case=case, user=alice).update(
        created_at=timezone.now() - timedelta(hours=1, minutes=59)
    )

    assert claim_next_case(user=alice, queue=queue) is None


def test_skipping_a_case_again_restarts_the_skip_window(queue, alice, settings):
    settings.CASE_SKIP_HOURS = 2
    case = waiting_case(queue)
    claim_next_case(user=alice, queue=queue)
    skip_case(case_id=case.pk, user=alice)
    CaseSkip.objects.update(created_at=timezone.now() - timedelta(hours=3))
    assert claim_next_case(user=alice, queue=queue).pk == case.pk

    skip_case(case_id=case.pk, user=alice)

    assert CaseSkip.objects.filter(case=case, user=alice).count() == 1
    assert claim_next_case(user=alice, queue=queue) is None


def test_only_the_holder_can_skip_a_case(queue, alice, bob):
    case = held_case(queue, bob)

    assert skip_case(case_id=case.pk, user=alice) is False
    assert reload(case).assignee == bob
    assert not CaseSkip.objects.exists()
    assert not AuditEvent.objects.filter(verb="case.skipped").exists()


# --- Releasing --------------------------------------------------------------------------------------------


def test_the_holder_can_release_a_case_back_to_the_queue(queue, alice):
    case = waiting_case(queue)
    claim_next_case(user=alice, queue=queue)

    assert release_case(case_id=case.pk, user=alice) is True

    case_after = reload(case)
    assert (case_after.status, case_after.assignee, case_after.lease_expires_at) == (
        Case.Status.OPEN,
        None,
        None,
    )
    [event] = events("case.released", case)
    assert event.actor_id == str(alice.pk)


def test_a_released_case_can_be_claimed_by_the_same_agent_again(queue, alice):
    case = waiting_case(queue)
    claim_next_case(user=alice, queue=queue)
    release_case(case_id=case.pk, user=alice)

    assert claim_next_case(user=alice, queue=queue).pk == case.pk


def test_nobody_but_the_holder_can_release_a_case(queue, alice, bob):
    case = held_case(queue, bob)

    assert release_case(case_id=case.pk, user=alice) is False

    case_after = reload(case)
    assert (case_after.status, case_after.assignee) == (Case.Status.IN_REVIEW, bob)
    assert not AuditEvent.objects.filter(verb="case.released").exists()


def test_releasing_an_escalated_case_keeps_it_escalated(queue, alice):
    case = held_case(queue, alice, status=Case.Status.ESCALATED)

    release_case(case_id=case.pk, user=alice)

    assert reload(case).status == Case.Status.ESCALATED
    assert reload(case).assignee is None


def test_a_resolved_case_cannot_be_released(queue, alice):
    case = held_case(queue, alice, status=Case.Status.RESOLVED)

    assert release_case(case_id=case.pk, user=alice) is False
    assert reload(case).status == Case.Status.RESOLVED


# --- Claiming a named case --------------------------------------------------------------------------------


def test_claim_case_takes_an_unassigned_case(queue, alice, settings):
    settings.CASE_LEASE_SECONDS = 120
    case = waiting_case(queue)
    before = timezone.now()

    claimed = claim_case(case_id=case.pk, user=alice)

    assert claimed.pk == case.pk
    assert (claimed.assignee, claimed.status) == (alice, Case.Status.IN_REVIEW)
    assert claimed.lease_expires_at >= before + timedelta(seconds=120)
    assert claimed.version == case.version + 1
    [event] = events("case.claimed", case)
    assert event.data == {}


def test_claim_case_keeps_an_escalated_case_escalated(queue, alice):
    case = waiting_case(queue, status=Case.Status.ESCALATED)

    assert claim_case(case_id=case.pk, user=alice).status == Case.Status.ESCALATED


def test_claim_case_refuses_a_case_someone_else_holds_with_a_live_lease(queue, alice, bob):
    case = held_case(queue, bob)

    assert claim_case(case_id=case.pk, user=alice) is None

    case_after = reload(case)
    assert case_after.assignee == bob
    assert case_after.version == case.version
    assert not AuditEvent.objects.filter(verb="case.claimed").exists()


def test_claim_case_takes_over_an_expired_lease(queue, alice, bob):
    case = held_case(queue, bob, lease_left=EXPIRED)

    claimed = claim_case(case_id=case.pk, user=alice)

    assert claimed.assignee == alice
    assert claimed.status == Case.Status.IN_REVIEW
    assert claimed.lease_expires_at > timezone.now()
    assert claimed.version == case.version + 1
    [event] = events("case.claimed", case)
    assert event.data == {"taken_over_from": bob.pk}


def test_claim_case_refuses_a_resolved_case(queue, alice):
    case = waiting_case(queue, status=Case.Status.RESOLVED)

    assert claim_case(case_id=case.pk, user=alice) is None
    assert reload(case).assignee is None


def test_claim_case_returns_none_for_a_case_that_does_not_exist(alice):
    assert claim_case(case_id=987_654, user=alice) is None


def test_claim_case_by_the_holder_renews_the_lease(queue, alice, settings):
    settings.CASE_LEASE_SECONDS = 600
    case = held_case(queue, alice, lease_left=timedelta(seconds=30))
    before = timezone.now()

    claimed = claim_case(case_id=case.pk, user=alice)

    assert claimed.assignee == alice
    assert claimed.lease_expires_at >= before + timedelta(seconds=600)
    assert claimed.version == case.version
    assert not AuditEvent.objects.filter(verb="case.claimed").exists()


# --- Who may claim ----------------------------------------------------------------------------------------


def test_a_non_member_is_refused(queue):
    waiting_case(queue)
    outsider = factories.UserFactory(username="mallory")

    with pytest.raises(ClaimRefused):
        claim_next_case(user=outsider, queue=queue)
    assert not Case.objects.filter(assignee=outsider).exists()


def test_nobody_claims_from_an_inactive_queue(queue, alice):
    case = waiting_case(queue)
    queue.is_active = False
    queue.save(update_fields=["is_active"])

    with pytest.raises(ClaimRefused):
        claim_next_case(user=alice, queue=queue)
    assert reload(case).assignee is None


def test_a_superuser_is_refused_on_an_inactive_queue(queue):
    waiting_case(queue)
    Queue.objects.filter(pk=queue.pk).update(is_active=False)
    queue.refresh_from_db()
    root = factories.UserFactory(username="root", is_superuser=True, is_staff=True)

    with pytest.raises(ClaimRefused):
        claim_next_case(user=root, queue=queue)


def test_a_member_through_a_group_may_claim(queue):
    from django.contrib.auth.models import Group

    team = Group.objects.create(name="night shift")
    queue.member_groups.add(team)
    agent = factories.UserFactory(username="gina")
    agent.groups.add(team)
    case = waiting_case(queue)

    assert claim_next_case(user=agent, queue=queue).pk == case.pk


# --- The beat task ----------------------------------------------------------------------------------------


def test_beat_task_returns_every_expired_lease_to_its_queue(queue, alice, bob):
    from queues.tasks import release_expired_leases as release_task

    other_queue = factories.QueueFactory(slug="harassment")
    expired = [
        held_case(queue, alice, lease_left=EXPIRED),
        held_case(other_queue, bob, lease_left=EXPIRED),
        held_case(queue, bob, lease_left=EXPIRED, status=Case.Status.ESCALATED),
    ]
    live = held_case(queue, alice)

    result = release_task.apply()

    assert result.successful()
    assert result.result == 3
    assert all(reload(case).assignee is None for case in expired)
    assert reload(live).assignee == alice
    assert AuditEvent.objects.filter(verb="case.lease_expired").count() == 3


def test_beat_task_keeps_sweeping_past_one_batch(queue, alice, monkeypatch):
    from queues import tasks

    monkeypatch.setattr(
        tasks,
        "release_expired_leases_service",
        functools.partial(claims_module.release_expired_leases, limit=2),
    )
    for _ in range(5):
        held_case(queue, alice, lease_left=EXPIRED)

    assert tasks.release_expired_leases.run() == 5
    assert not Case.objects.filter(assignee__isnull=False).exists()


# --- Concurrency (PostgreSQL) -----------------------------------------------------------------------------


def _in_threads(jobs, *, timeout=60):
    """Run the callables at once; re-raise nothing but return the errors; every thread closes its connection."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job):
        try:
            barrier.wait(timeout=timeout)
            job()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a claimer hung"
    return errors


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_never_claim_a_case_twice(queue):
    cases = [waiting_case(queue, priority=n % 7) for n in range(60)]
    agents = [member(queue, f"agent-{n}") for n in range(8)]
    claimed: list[tuple[int, int]] = []
    lock = threading.Lock()

    def work_the_queue(agent):
        def job():
            while (case := claim_next_case(user=agent, queue=queue)) is not None:
                assert case.assignee_id == agent.pk
                with lock:
                    claimed.append((case.pk, agent.pk))
                # Decide it, so the next press of "Next" gives a new case rather than this one again.
                Case.objects.filter(pk=case.pk, assignee=agent).update(status=Case.Status.RESOLVED)

        return job

    errors = _in_threads([work_the_queue(agent) for agent in agents])

    assert errors == []
    claimed_ids = [case_id for case_id, _ in claimed]
    assert len(claimed_ids) == len(set(claimed_ids)), "a case was claimed twice"
    assert set(claimed_ids) == {case.pk for case in cases}
    assert AuditEvent.objects.filter(verb="case.claimed").count() == 60
    for case_id, agent_id in claimed:
        assert Case.objects.get(pk=case_id).assignee_id == agent_id


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_of_one_named_case_have_one_winner(queue):
    case = waiting_case(queue)
    agents = [member(queue, f"agent-{n}") for n in range(8)]
    results: list = []

    errors = _in_threads(
        [lambda agent=agent: results.append(claim_case(case_id=case.pk, user=agent)) for agent in agents]
    )

    assert errors == []
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    assert reload(case).assignee_id == winners[0].assignee_id
    assert AuditEvent.objects.filter(verb="case.claimed").count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_claim_next_steps_over_a_row_locked_by_another_transaction(queue, alice):
    locked_case = waiting_case(queue, priority=50)
    next_case = waiting_case(queue, priority=10)
    locked, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_the_row():
        try:
            with transaction.atomic():
                Case.objects.select_for_update().get(pk=locked_case.pk)
                locked.set()
                done.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row, daemon=True)
    holder.start()
    try:
        assert locked.wait(timeout=10), "the other transaction never took its lock"
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # a blocking claim fails loudly instead of hanging
        claimed = claim_next_case(user=alice, queue=queue)

        # Returned while the other transaction still held the row: it stepped over the lock, never waited on
        # it (a wait would have hit lock_timeout and raised).
        held_meanwhile = holder.is_alive() and not done.is_set()
    finally:
        done.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    assert errors == []
    assert claimed.pk == next_case.pk
    assert held_meanwhile
    assert reload(locked_case).assignee is None
    # Once the other transaction is done the case is claimable again.
    assert claim_next_case(user=member(queue, "bob"), queue=queue).pk == locked_case.pk


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("max_held", [1, 2])
def test_concurrent_claims_by_one_agent_in_several_queues_never_exceed_case_max_held(
    claim_path, alice, settings, max_held
):
    """Two tabs, four queues: claim-next in two and a named claim in two more, all at once, round after round."""
    settings.CASE_MAX_HELD = max_held
    rounds = 6
    queues = [factories.QueueFactory(slug=f"queue-{n}") for n in range(4)]
    for each in queues:
        each.members.add(alice)
    named = {each.pk: [waiting_case(each).pk for _ in range(rounds)] for each in queues[2:]}
    for each in queues[:2]:
        for _ in range(rounds):
            waiting_case(each)

    for round_ in range(rounds):
        returned: list[int] = []

        def claim_next(queue):
            returned.append(claim_next_case(user=alice, queue=queue).pk)

        def claim_named(case_id):
            try:
                returned.append(claim_case(case_id=case_id, user=alice).pk)
            except HoldLimitReached as exc:
                returned.append(exc.held_case_id)

        jobs = [functools.partial(claim_next, each) for each in queues[:2]]
        jobs += [functools.partial(claim_named, named[each.pk][round_]) for each in queues[2:]]
        errors = _in_threads(jobs)

        held = held_by(alice)
        assert errors == []
        assert len(held) == max_held, f"round {round_}: alice holds {len(held)} cases"
        assert set(returned) == held, "every claim answered with a case alice holds"
        assert AuditEvent.objects.filter(verb="case.claimed").count() == max_held * (round_ + 1)
        Case.objects.filter(pk__in=held).update(
            status=Case.Status.RESOLVED, assignee=None, lease_expires_at=None
        )
