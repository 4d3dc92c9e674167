"""Who sees which queues and cases: members, group members, leads, superusers, inactive users."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.core.exceptions import ValidationError
from django.utils import timezone

from queues.models import Queue, QueueClearance
from queues.selectors import (
    can_see_all_queues,
    can_view_case,
    visible_cases,
    visible_queue_ids,
    visible_queues,
)
from tests import factories


@pytest.fixture
def queues(db):
    """The test's queues, and the three every installation has from the start (a migration): the open
    `appeals` queue and the restricted `appeals-restricted` and `restricted-triage`."""
    return {
        "general": factories.QueueFactory(slug="general", name="General", is_default=True),
        "harassment": factories.QueueFactory(slug="harassment", name="Harassment"),
        "child-safety": factories.QueueFactory(slug="child-safety", name="Child safety", is_restricted=True),
        "retired": factories.QueueFactory(slug="retired", name="Retired", is_active=False),
        **{
            queue.slug: queue
            for queue in Queue.objects.filter(slug__in=["appeals", "appeals-restricted", "restricted-triage"])
        },
    }


RESTRICTED = ("child-safety", "appeals-restricted", "restricted-triage")


@pytest.fixture
def cases(queues):
    """One case in each queue, and one not routed to any queue yet."""
    built = {slug: factories.OpenCaseFactory(queue=queue) for slug, queue in queues.items()}
    built["unrouted"] = factories.CaseFactory(queue=None)
    return built


def fresh(user):
    """A new instance: visible_queue_ids (and Django's permission cache) memoise on the user object."""
    return User.objects.get(pk=user.pk)


def ids(queues, *slugs):
    return frozenset(queues[slug].pk for slug in slugs)


def make_lead(username="lena"):
    user = factories.UserFactory(username=username)
    user.user_permissions.add(
        Permission.objects.get(codename="view_all_queues", content_type__app_label="queues")
    )
    return fresh(user)


def clear(user, queue, **fields):
    return QueueClearance.objects.create(user=user, queue=queue, reason="training done", **fields)


def make_superuser(username="root"):
    return factories.UserFactory(username=username, is_superuser=True, is_staff=True)


def visible_case_ids(user):
    return set(visible_cases(user).values_list("pk", flat=True))


def case_ids(cases, *names):
    return {cases[name].pk for name in names}


# --- visible_queue_ids ------------------------------------------------------------------------------------


def test_a_direct_member_sees_only_their_queues(queues):
    agent = factories.UserFactory(username="alice")
    queues["general"].members.add(agent)

    assert visible_queue_ids(fresh(agent)) == ids(queues, "general")


def test_a_member_through_a_group_sees_the_groups_queues(queues):
    team = Group.objects.create(name="safety team")
    queues["child-safety"].member_groups.add(team)
    agent = factories.UserFactory(username="gina")
    agent.groups.add(team)
    clear(agent, queues["child-safety"])

    assert visible_queue_ids(fresh(agent)) == ids(queues, "child-safety")


def test_direct_and_group_memberships_add_up(queues):
    team = Group.objects.create(name="harassment team")
    queues["harassment"].member_groups.add(team)
    agent = factories.UserFactory(username="alice")
    queues["general"].members.add(agent)
    queues["harassment"].members.add(agent)
    agent.groups.add(team)

    assert visible_queue_ids(fresh(agent)) == ids(queues, "general", "harassment")


def test_a_non_member_sees_no_queue(queues):
    outsider = factories.UserFactory(username="mallory")

    assert visible_queue_ids(outsider) == frozenset()
    assert list(visible_queues(outsider)) == []


def test_a_lead_sees_every_unrestricted_active_queue_but_not_a_restricted_one(queues):
    assert visible_queue_ids(make_lead()) == ids(queues, "general", "harassment", "appeals")


def test_a_lead_who_is_a_member_of_a_restricted_queue_sees_it(queues):
    lead = make_lead()
    queues["child-safety"].members.add(lead)
    clear(lead, queues["child-safety"])

    assert visible_queue_ids(fresh(lead)) == ids(queues, "general", "harassment", "appeals", "child-safety")


# --- restricted queues: membership *and* a current clearance --------------------------------------------


def test_membership_of_a_restricted_queue_without_a_clearance_shows_nothing(queues):
    agent = factories.UserFactory(username="gina")
    queues["child-safety"].members.add(agent)
    team = Group.objects.create(name="safety team")
    queues["child-safety"].member_groups.add(team)
    agent.groups.add(team)

    assert visible_queue_ids(fresh(agent)) == frozenset()


def test_a_clearance_without_membership_shows_nothing(queues):
    agent = factories.UserFactory(username="gina")
    clear(agent, queues["child-safety"])

    assert visible_queue_ids(fresh(agent)) == frozenset()


def test_the_view_all_permission_never_reaches_a_restricted_queue_without_membership_and_clearance(queues):
    lead = make_lead()
    clear(lead, queues["child-safety"])

    assert queues["child-safety"].pk not in visible_queue_ids(fresh(lead))


def test_an_expired_clearance_no_longer_counts(queues, cases):
    agent = factories.UserFactory(username="gina")
    queues["child-safety"].members.add(agent)
    clear(agent, queues["child-safety"], expires_at=timezone.now() - timedelta(seconds=1))

    assert visible_queue_ids(fresh(agent)) == frozenset()
    assert not can_view_case(fresh(agent), cases["child-safety"])


def test_a_clearance_with_a_future_expiry_counts_until_then(queues, cases):
    agent = factories.UserFactory(username="gina")
    queues["child-safety"].members.add(agent)
    clear(agent, queues["child-safety"], expires_at=timezone.now() + timedelta(days=30))

    assert visible_queue_ids(fresh(agent)) == ids(queues, "child-safety")
    assert can_view_case(fresh(agent), cases["child-safety"])


def test_revoking_a_clearance_takes_access_away(queues, cases):
    agent = factories.UserFactory(username="gina")
    queues["child-safety"].members.add(agent)
    clearance = clear(agent, queues["child-safety"])
    assert can_view_case(fresh(agent), cases["child-safety"])

    clearance.delete()

    assert not can_view_case(fresh(agent), cases["child-safety"])
    assert cases["child-safety"].pk not in visible_case_ids(fresh(agent))


def test_a_clearance_for_an_unrestricted_queue_is_refused(queues):
    agent = factories.UserFactory(username="gina")
    clearance = QueueClearance(queue=queues["general"], user=agent)

    with pytest.raises(ValidationError) as refused:
        clearance.full_clean()
    assert "queue" in refused.value.message_dict


def test_the_lead_permission_also_works_through_a_group(queues):
    leads = Group.objects.create(name="leads")
    leads.permissions.add(
        Permission.objects.get(codename="view_all_queues", content_type__app_label="queues")
    )
    user = factories.UserFactory(username="lena")
    user.groups.add(leads)

    assert visible_queue_ids(fresh(user)) == ids(queues, "general", "harassment", "appeals")


def test_a_superuser_sees_every_active_queue_including_restricted_ones(queues):
    assert visible_queue_ids(make_superuser()) == ids(queues, "general", "harassment", "appeals", *RESTRICTED)


def test_an_inactive_queue_is_visible_to_nobody(queues):
    agent = factories.UserFactory(username="alice")
    queues["retired"].members.add(agent)

    assert visible_queue_ids(fresh(agent)) == frozenset()
    assert queues["retired"].pk not in visible_queue_ids(make_superuser())


def test_an_inactive_user_sees_no_queue_whatever_their_memberships(queues):
    agent = factories.UserFactory(username="alice", is_active=False)
    queues["general"].members.add(agent)
    lead = make_lead()
    User.objects.filter(pk=lead.pk).update(is_active=False)
    root = make_superuser()
    User.objects.filter(pk=root.pk).update(is_active=False)

    assert visible_queue_ids(fresh(agent)) == frozenset()
    assert visible_queue_ids(fresh(lead)) == frozenset()
    assert visible_queue_ids(fresh(root)) == frozenset()


def test_an_anonymous_user_sees_no_queue(queues):
    assert visible_queue_ids(AnonymousUser()) == frozenset()


def test_visible_queue_ids_is_memoised_on_the_user_object(queues):
    agent = factories.UserFactory(username="alice")
    assert visible_queue_ids(agent) == frozenset()

    queues["general"].members.add(agent)

    assert visible_queue_ids(agent) == frozenset()  # the same request keeps its answer
    assert visible_queue_ids(fresh(agent)) == ids(queues, "general")


def test_visible_queues_lists_the_visible_queues_by_name(queues):
    lead = make_lead()

    assert [queue.slug for queue in visible_queues(lead)] == ["appeals", "general", "harassment"]


# --- can_see_all_queues -----------------------------------------------------------------------------------


def test_superusers_and_leads_can_see_all_queues_members_cannot(queues):
    agent = factories.UserFactory(username="alice")
    queues["general"].members.add(agent)

    assert can_see_all_queues(make_superuser()) is True
    assert can_see_all_queues(make_lead()) is True
    assert can_see_all_queues(fresh(agent)) is False


def test_an_inactive_lead_cannot_see_all_queues(queues):
    lead = make_lead()
    User.objects.filter(pk=lead.pk).update(is_active=False)

    assert not can_see_all_queues(fresh(lead))


# --- visible_cases and can_view_case ----------------------------------------------------------------------


def test_a_member_sees_the_cases_of_their_queues_only(cases, queues):
    agent = factories.UserFactory(username="alice")
    queues["general"].members.add(agent)
    agent = fresh(agent)

    assert visible_case_ids(agent) == case_ids(cases, "general")
    assert can_view_case(agent, cases["general"])
    for name in ("harassment", "child-safety", "retired", "unrouted"):
        assert not can_view_case(agent, cases[name]), name


def test_a_group_member_sees_the_cases_of_the_groups_queues(cases, queues):
    team = Group.objects.create(name="harassment team")
    queues["harassment"].member_groups.add(team)
    agent = factories.UserFactory(username="gina")
    agent.groups.add(team)
    agent = fresh(agent)

    assert visible_case_ids(agent) == case_ids(cases, "harassment")
    assert can_view_case(agent, cases["harassment"])
    assert not can_view_case(agent, cases["general"])


def test_a_non_member_sees_no_case(cases):
    outsider = factories.UserFactory(username="mallory")

    assert visible_case_ids(outsider) == set()
    assert not any(can_view_case(outsider, case) for case in cases.values())


def test_a_lead_sees_unrestricted_queues_cases_but_neither_restricted_nor_unrouted_ones(cases):
    # An unrouted case could be anything ("restricted until proven otherwise"): a lead not cleared for the
    # restricted queues does not see it.
    lead = make_lead()

    assert visible_case_ids(lead) == case_ids(cases, "general", "harassment", "appeals")
    assert not can_view_case(lead, cases["unrouted"])
    assert not can_view_case(lead, cases["child-safety"])


def test_a_lead_cleared_for_only_some_restricted_queues_still_does_not_see_unrouted_cases(cases, queues):
    lead = make_lead()
    queues["child-safety"].members.add(lead)
    clear(lead, queues["child-safety"])
    lead = fresh(lead)

    assert visible_case_ids(lead) == case_ids(cases, "general", "harassment", "appeals", "child-safety")
    assert not can_view_case(lead, cases["unrouted"])


def test_a_lead_cleared_for_every_active_restricted_queue_also_sees_unrouted_cases(cases, queues):
    lead = make_lead()
    for slug in RESTRICTED:
        queues[slug].members.add(lead)
        clear(lead, queues[slug])
    lead = fresh(lead)

    assert visible_case_ids(lead) == case_ids(
        cases, "general", "harassment", "appeals", *RESTRICTED, "unrouted"
    )
    assert can_view_case(lead, cases["unrouted"])
    assert not can_view_case(lead, cases["retired"])


def test_a_member_cleared_for_every_restricted_queue_without_the_lead_permission_does_not_see_unrouted_cases(
    cases, queues
):
    agent = factories.UserFactory(username="gina")
    for slug in RESTRICTED:
        queues[slug].members.add(agent)
        clear(agent, queues[slug])
    agent = fresh(agent)

    assert visible_case_ids(agent) == case_ids(cases, *RESTRICTED)
    assert not can_view_case(agent, cases["unrouted"])


def test_a_superuser_sees_every_case_including_unrouted_and_restricted_ones(cases):
    root = make_superuser()

    assert visible_case_ids(root) == {case.pk for case in cases.values()}
    assert all(can_view_case(root, case) for case in cases.values())


def test_a_member_does_not_see_unrouted_cases(cases, queues):
    agent = factories.UserFactory(username="alice")
    for queue in queues.values():
        queue.members.add(agent)
    agent = fresh(agent)

    assert cases["unrouted"].pk not in visible_case_ids(agent)
    assert not can_view_case(agent, cases["unrouted"])


def test_an_inactive_user_sees_no_case(cases, queues):
    agent = factories.UserFactory(username="alice", is_active=False)
    queues["general"].members.add(agent)
    root = factories.UserFactory(username="root", is_superuser=True, is_active=False)

    for user in (fresh(agent), fresh(root)):
        assert visible_case_ids(user) == set()
        assert not any(can_view_case(user, case) for case in cases.values())


def test_an_anonymous_user_sees_no_case(cases):
    assert visible_case_ids(AnonymousUser()) == set()
    assert not can_view_case(AnonymousUser(), cases["general"])


def test_visible_cases_and_can_view_case_agree_for_every_kind_of_user(cases, queues):
    agent = factories.UserFactory(username="alice")
    queues["child-safety"].members.add(agent)
    lead = make_lead()
    queues["child-safety"].members.add(lead)
    users = [fresh(agent), fresh(lead), make_superuser(), factories.UserFactory(username="mallory")]

    for user in users:
        listed = visible_case_ids(user)
        for case in cases.values():
            assert (case.pk in listed) == can_view_case(user, case), (user.username, case.queue_id)


# --- queue_for_user: the same rule, asked of one queue in one statement ---------------------------------------


def test_queue_for_user_finds_exactly_the_queues_visible_queue_ids_lists(queues, django_assert_num_queries):
    from queues.selectors import queue_for_user

    member, grouped, lead, cleared = (factories.UserFactory(username=name) for name in ("m", "g", "l", "c"))
    queues["general"].members.add(member)
    team = Group.objects.create(name="harassment team")
    grouped.groups.add(team)
    queues["harassment"].member_groups.add(team)
    lead = make_lead("lead-2")
    queues["child-safety"].members.add(cleared)
    clear(cleared, queues["child-safety"])
    queues["child-safety"].members.add(member)  # a member without a clearance: not theirs to see
    expired = factories.UserFactory(username="x")
    queues["child-safety"].members.add(expired)
    clear(expired, queues["child-safety"], expires_at=timezone.now() - timedelta(minutes=1))
    people = [
        member,
        grouped,
        lead,
        cleared,
        expired,
        make_superuser(),
        factories.UserFactory(username="none"),
    ]

    for person in people:
        expected = visible_queue_ids(fresh(person))
        for slug, queue in queues.items():
            user = fresh(person)
            with django_assert_num_queries(1):
                found = queue_for_user(user, slug)
            assert (found is not None) == (queue.pk in expected), (person.username, slug)
            if found is not None:
                assert found == queue and found.is_restricted is queue.is_restricted
                assert found.created_at == queue.created_at and found.name == queue.name


def test_queue_for_user_says_whether_that_user_starred_the_queue(queues):
    from queues.models import QueueStar
    from queues.selectors import queue_for_user

    alice, bob = factories.UserFactory(username="alice"), factories.UserFactory(username="bob")
    queues["general"].members.add(alice, bob)
    QueueStar.objects.create(user=alice, queue=queues["general"])

    assert queue_for_user(fresh(alice), "general").starred_for == {alice.pk: True}
    assert queue_for_user(fresh(bob), "general").starred_for == {bob.pk: False}
    assert queue_for_user(fresh(alice), "no-such-queue") is None
