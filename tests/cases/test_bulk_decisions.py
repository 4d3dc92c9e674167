"""Leads decide many cases at once; each decision is recorded, audited and enforced on its own."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from cases.models import Case, Decision, SubjectTag
from cases.services import review
from moderation.errors import Forbidden
from moderation.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(review_setup):
    user = factories.UserFactory(username="lena")
    user.user_permissions.add(Permission.objects.get(codename="bulk_decide"))
    review_setup.queue.members.add(user)
    return user


@pytest.fixture
def spam_cases(review_setup):
    return [
        factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
        for _ in range(3)
    ]


def bulk(user, cases, review_setup, *, action="remove"):
    return review.bulk_decide(
        user=user,
        case_ids=[case.pk for case in cases],
        policy_id=review_setup.policies["spam"].pk,
        action_id=review_setup.actions[action].pk,
        reason="spam wave",
    )


def test_each_case_gets_its_own_audited_decision(lead, spam_cases, review_setup):
    outcome = bulk(lead, spam_cases, review_setup)

    assert sorted(outcome.decided) == sorted(case.pk for case in spam_cases)
    assert Decision.objects.filter(decided_by=lead).count() == 3
    assert AuditEvent.objects.filter(verb="decision.recorded").count() == 3
    assert AuditEvent.objects.filter(verb="bulk.decided").count() == 1
    assert all(case.status == Case.Status.RESOLVED for case in Case.objects.filter(pk__in=outcome.decided))


def test_held_decided_and_protected_cases_are_skipped_with_reasons(lead, spam_cases, review_setup):
    held, decided, protected = spam_cases
    other = factories.UserFactory(username="bob")
    Case.objects.filter(pk=held.pk).update(
        assignee=other, status="in_review", lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    Case.objects.filter(pk=decided.pk).update(status="resolved")
    tag = factories.TagFactory(slug="high-profile", is_protected=True)
    SubjectTag.objects.create(subject=protected.subject, tag=tag)

    outcome = bulk(lead, spam_cases, review_setup)

    assert outcome.decided == []
    assert set(outcome.skipped) == {held.pk, decided.pk, protected.pk}
    assert "bob" in outcome.skipped[held.pk]
    assert "protected" in outcome.skipped[protected.pk]


def test_a_real_lead_who_may_decide_protected_subjects_still_never_does_so_in_bulk(spam_cases, review_setup):
    """Leads hold both permissions: a protected subject (a lead's mark or a protected tag) is decided by a
    lead case by case, never swept up in a batch."""
    from moderation.roles import LEAD, sync_roles

    lead = factories.UserFactory(username="lola")
    lead.groups.add(sync_roles()[LEAD])
    review_setup.queue.members.add(lead)
    marked, tagged, plain = spam_cases
    marked.subject.is_protected, marked.subject.protected_reason = True, "Head of state"
    marked.subject.save()
    tag = factories.TagFactory(slug="high-profile", is_protected=True)
    SubjectTag.objects.create(subject=tagged.subject, tag=tag)

    outcome = bulk(lead, spam_cases, review_setup)

    assert outcome.decided == [plain.pk]
    assert "Head of state" in outcome.skipped[marked.pk] and "high-profile" in outcome.skipped[tagged.pk]
    assert not Decision.objects.filter(case__in=[marked, tagged]).exists()
    review.record_decision(  # one by one, the lead may
        case_id=marked.pk,
        user=lead,
        policy_id=review_setup.policies["spam"].pk,
        action_id=review_setup.actions["remove"].pk,
        expected_version=None,
        must_hold=False,
    )
    assert Decision.objects.filter(case=marked).exists()


def test_an_action_not_allowed_refuses_the_whole_batch(lead, spam_cases, review_setup):
    review_setup.policies["spam"].allowed_actions.remove(review_setup.actions["warn"])

    with pytest.raises(review.ReviewError):
        bulk(lead, spam_cases, review_setup, action="warn")

    assert not Decision.objects.exists()


def test_agents_cannot_decide_in_bulk(spam_cases, review_setup):
    with pytest.raises(Forbidden):
        bulk(review_setup.agent, spam_cases, review_setup)

    assert not Decision.objects.exists()


def test_the_queue_page_offers_bulk_only_to_leads(agent_client, lead, spam_cases):
    browser = Client()
    browser.force_login(lead)

    assert 'id="bulk-form"' not in agent_client.get("/queues/general/").content.decode()
    assert 'id="bulk-form"' in browser.get("/queues/general/").content.decode()


def test_bulk_through_the_page_decides_only_cases_of_that_queue(lead, spam_cases, review_setup):
    elsewhere = factories.OpenCaseFactory(queue=factories.QueueFactory(slug="elsewhere"))
    browser = Client()
    browser.force_login(lead)

    response = browser.post(
        "/queues/general/bulk-decide",
        {
            "cases": [spam_cases[0].pk, elsewhere.pk, "junk"],
            "policy": review_setup.policies["spam"].pk,
            "action": review_setup.actions["remove"].pk,
        },
        follow=True,
    )

    assert "Decided 1 case(s); skipped 1" in response.content.decode()
    assert Case.objects.get(pk=spam_cases[0].pk).status == Case.Status.RESOLVED
    assert Case.objects.get(pk=elsewhere.pk).status == Case.Status.OPEN


def test_bulk_by_an_agent_through_the_page_decides_nothing(agent_client, spam_cases, review_setup):
    response = agent_client.post(
        "/queues/general/bulk-decide",
        {
            "cases": [spam_cases[0].pk],
            "policy": review_setup.policies["spam"].pk,
            "action": review_setup.actions["remove"].pk,
        },
        follow=True,
    )

    assert "Only leads" in response.content.decode()
    assert not Decision.objects.exists()


def test_a_case_that_cannot_take_the_message_is_skipped_not_a_half_applied_batch(lead, review_setup):
    from moderation.models import MessageTemplate

    english = factories.OpenCaseFactory(
        queue=review_setup.queue, policy=review_setup.policies["spam"], subject__language="en"
    )
    german = factories.OpenCaseFactory(
        queue=review_setup.queue, policy=review_setup.policies["spam"], subject__language="de"
    )
    MessageTemplate.objects.create(
        action=review_setup.actions["remove"], language="de", body="Entfernt: {reason}"
    )

    outcome = review.bulk_decide(
        user=lead,
        case_ids=[english.pk, german.pk],
        policy_id=review_setup.policies["spam"].pk,
        action_id=review_setup.actions["remove"].pk,
        reason="",
    )

    assert outcome.decided == [english.pk]
    assert "{reason}" in outcome.skipped[german.pk]
    assert AuditEvent.objects.filter(verb="bulk.decided").count() == 1


def test_an_appeal_case_in_the_batch_is_skipped(lead, spam_cases, review_setup):
    appeal_case = factories.OpenCaseFactory(
        queue=review_setup.queue, policy=review_setup.policies["spam"], kind=Case.Kind.APPEAL
    )

    outcome = bulk(lead, [*spam_cases, appeal_case], review_setup)

    assert len(outcome.decided) == 3
    assert appeal_case.pk in outcome.skipped


def test_an_absurd_case_id_is_ignored_not_a_server_error(lead, spam_cases, review_setup):
    browser = Client()
    browser.force_login(lead)

    response = browser.post(
        "/queues/general/bulk-decide",
        {
            "cases": ["99999999999999999999999", spam_cases[0].pk],
            "policy": review_setup.policies["spam"].pk,
            "action": review_setup.actions["remove"].pk,
        },
        follow=True,
    )

    assert response.status_code == 200
    assert Case.objects.get(pk=spam_cases[0].pk).status == Case.Status.RESOLVED


def test_a_batch_decides_up_to_the_limit_and_no_further(lead, spam_cases, review_setup, monkeypatch):
    from cases.services.review import bulk as bulk_module

    monkeypatch.setattr(bulk_module, "BULK_LIMIT", 2)

    outcome = bulk(lead, spam_cases, review_setup)

    assert outcome.decided == [spam_cases[0].pk, spam_cases[1].pk]
    assert not Decision.objects.filter(case=spam_cases[2]).exists()
