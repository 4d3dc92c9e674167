"""Protected subjects (e.g. tagged high-profile): only leads act on them; agents see why and can escalate."""

import pytest
from django.contrib.auth.models import Permission

from cases.models import Case, Decision, SubjectTag
from cases.services import review
from moderation.errors import Forbidden
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def protected_tag():
    return factories.TagFactory(slug="high-profile", is_curated=True, is_protected=True)


@pytest.fixture
def case(review_setup, protected_tag):
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"])
    SubjectTag.objects.create(subject=case.subject, tag=protected_tag)
    return case


@pytest.fixture
def lead(review_setup):
    user = factories.UserFactory(username="lena")
    user.user_permissions.add(Permission.objects.get(codename="act_on_protected"))
    review_setup.queue.members.add(user)
    return user


def decide(case, user, review_setup):
    """`user` decides `case`, holding it first as the agent working it does."""
    factories.hold(case, user)
    return review.record_decision(
        case_id=case.pk,
        user=user,
        policy_id=case.policy_id,
        action_id=review_setup.actions["remove"].pk,
        expected_version=case.version,
    )


def test_an_agent_cannot_act_on_a_protected_subject_and_is_told_why(case, review_setup):
    with pytest.raises(Forbidden) as refused:
        decide(case, review_setup.agent, review_setup)

    assert "high-profile" in refused.value.message and "Escalate" in refused.value.message
    assert not Decision.objects.exists()


def test_a_lead_can_act_on_a_protected_subject(case, review_setup, lead):
    decide(case, lead, review_setup)

    assert Case.objects.get(pk=case.pk).status == Case.Status.RESOLVED


def test_an_agent_can_still_escalate_a_protected_subject(case, review_setup):
    leads_queue = factories.QueueFactory(slug="leads")

    review.escalate_case(
        case_id=case.pk,
        user=review_setup.agent,
        queue_id=leads_queue.pk,
        note="VIP",
        expected_version=case.version,
    )

    assert Case.objects.get(pk=case.pk).queue == leads_queue


def test_an_agent_cannot_remove_or_add_a_protected_tag(case, review_setup, protected_tag):
    other = factories.OpenCaseFactory(queue=review_setup.queue)

    with pytest.raises(Forbidden):
        review.untag_subject(case_id=case.pk, user=review_setup.agent, tag="high-profile")
    with pytest.raises(Forbidden):
        review.tag_subject(case_id=other.pk, user=review_setup.agent, tag="high-profile")

    assert SubjectTag.objects.filter(subject=case.subject, tag=protected_tag).exists()
    assert not SubjectTag.objects.filter(subject=other.subject).exists()


def test_a_lead_can_tag_and_untag_protected(case, review_setup, lead):
    review.untag_subject(case_id=case.pk, user=lead, tag="high-profile")

    assert not SubjectTag.objects.filter(subject=case.subject).exists()


def test_the_page_explains_the_protection_and_disables_deciding_for_agents(agent_client, case, client, lead):
    html = agent_client.get(f"/cases/{case.pk}/").content.decode()

    assert 'id="protected"' in html and "only leads can act" in html
    submit = html.split('data-shortcut="submit"')[1].split(">")[0]
    assert "disabled" in submit


def test_the_page_lets_a_lead_decide(case, lead):
    from django.test import Client

    browser = Client()
    browser.force_login(lead)
    html = browser.get(f"/cases/{case.pk}/").content.decode()

    assert 'id="protected"' not in html
    assert "disabled" not in html.split('data-shortcut="submit"')[1].split(">")[0]


@pytest.fixture
def marked_case(review_setup, lead):
    """A case on a subject a lead marked protected (no protected tag), with the lead's reason."""
    from cases.services.protection import set_subject_protection

    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"])
    set_subject_protection(
        subject_ids=[case.subject_id], protected=True, reason="Partner newsroom", user=lead
    )
    return case


def test_a_subject_marked_protected_is_decided_by_leads_only_as_a_protected_tag_is(
    marked_case, review_setup, lead
):
    with pytest.raises(Forbidden) as refused:
        decide(marked_case, review_setup.agent, review_setup)

    assert "Partner newsroom" in refused.value.message and "Escalate" in refused.value.message
    assert not Decision.objects.exists()
    decide(marked_case, lead, review_setup)
    assert Case.objects.get(pk=marked_case.pk).status == Case.Status.RESOLVED


def test_the_mark_is_read_when_deciding_not_when_the_page_was_loaded(review_setup, lead):
    """A lead marks the subject protected after the agent opened the case: the decision is still refused."""
    from cases.services.protection import set_subject_protection

    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"])
    factories.hold(case, review_setup.agent)
    set_subject_protection(subject_ids=[case.subject_id], protected=True, reason="Head of state", user=lead)

    with pytest.raises(Forbidden):
        review.record_decision(
            case_id=case.pk,
            user=review_setup.agent,
            policy_id=case.policy_id,
            action_id=review_setup.actions["remove"].pk,
            expected_version=case.version,
        )
    assert not Decision.objects.exists()


def test_the_reasons_name_the_mark_first_then_the_protected_tags_in_order(marked_case, protected_tag):
    SubjectTag.objects.create(subject=marked_case.subject, tag=protected_tag)
    SubjectTag.objects.create(
        subject=marked_case.subject, tag=factories.TagFactory(slug="gov", is_protected=True)
    )
    SubjectTag.objects.create(subject=marked_case.subject, tag=factories.TagFactory(slug="lang:de"))

    assert review.protection_of(marked_case.subject_id) == ["Partner newsroom", "gov", "high-profile"]
    assert review.protection_of(factories.SubjectFactory().pk) == []


def test_the_page_explains_a_marked_subject_to_agents_and_not_to_leads(agent_client, marked_case, lead):
    from django.test import Client

    html = agent_client.get(f"/cases/{marked_case.pk}/").content.decode()
    assert 'id="protected"' in html and "Partner newsroom" in html
    assert "disabled" in html.split('data-shortcut="submit"')[1].split(">")[0]

    browser = Client()
    browser.force_login(lead)
    assert 'id="protected"' not in browser.get(f"/cases/{marked_case.pk}/").content.decode()
