"""What the affected user is told: admin templates per action (policy, language) with placeholders; the form
previews the message and unfilled placeholders block the decision."""

import pytest
from django.core.exceptions import ValidationError

from cases.models import Decision, Enforcement
from cases.services import review
from cases.services.messages import choose_template, compose_user_message
from moderation.models import Action, MessageTemplate
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(review_setup):
    return factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies["harassment"],
        subject__kind="message",
        subject__external_id="msg-7",
        subject__language="de",
    )


def decide(case, review_setup, *, action="remove", reason=""):
    """The agent decides `case`, holding it first as the agent working it does."""
    factories.hold(case, review_setup.agent)
    return review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=case.policy_id,
        action_id=review_setup.actions[action].pk,
        reason=reason,
        expected_version=case.version,
    )


def test_the_most_specific_template_wins(review_setup):
    remove, harassment = review_setup.actions["remove"], review_setup.policies["harassment"]
    any_policy = MessageTemplate.objects.create(action=remove, body="any")
    german_any = MessageTemplate.objects.create(action=remove, language="de", body="de any")
    this_policy = MessageTemplate.objects.create(action=remove, policy=harassment, body="policy")
    german_policy = MessageTemplate.objects.create(
        action=remove, policy=harassment, language="de", body="de policy"
    )

    assert choose_template(policy=harassment, action=remove, language="de-AT") == german_policy
    assert choose_template(policy=harassment, action=remove, language="fr") == this_policy
    assert choose_template(policy=review_setup.policies["spam"], action=remove, language="de") == german_any
    assert choose_template(policy=review_setup.policies["spam"], action=remove, language="en") == any_policy


def test_placeholders_are_filled_and_the_message_is_sent_to_the_platform(
    case, review_setup, settings, django_capture_on_commit_callbacks
):
    settings.APPEAL_URL_TEMPLATE = "https://platform.example/appeal?d={decision_id}"
    MessageTemplate.objects.create(
        action=review_setup.actions["remove"],
        body="Your {subject} broke {policy}: {action}. {reason} Appeal: {appeal_link}",
    )

    decision = decide(case, review_setup, reason="Insults.")

    decision.refresh_from_db()
    assert decision.user_message == (
        f"Your message msg-7 broke Harassment: Remove. Insults. Appeal: https://platform.example/appeal?d={decision.pk}"
    )
    assert Enforcement.objects.get(decision=decision).payload["reason"] == decision.user_message


def test_an_unfilled_placeholder_blocks_the_decision(case, review_setup):
    MessageTemplate.objects.create(
        action=review_setup.actions["remove"], body="Removed for {duration}. {reason}"
    )

    with pytest.raises(review.ReviewError) as refused:
        decide(case, review_setup, reason="spam")

    assert "{duration}" in refused.value.message and refused.value.field == "reason"
    assert not Decision.objects.exists()


def test_a_missing_reason_blocks_a_template_that_asks_for_one_until_it_is_written(case, review_setup):
    MessageTemplate.objects.create(action=review_setup.actions["remove"], body="Removed: {reason}")

    with pytest.raises(review.ReviewError):
        decide(case, review_setup)
    decision = decide(case, review_setup, reason="threats")

    assert Decision.objects.get(pk=decision.pk).user_message == "Removed: threats"


def test_durations_read_naturally(case, review_setup):
    suspend = factories.ActionFactory(
        code="suspend-3d", name="Suspend", kind=Action.Kind.SUSPEND_TEMPORARY, duration_hours=72
    )
    MessageTemplate.objects.create(action=suspend, body="Suspended for {duration}.")

    message = compose_user_message(
        subject=case.subject, policy=case.policy, action=suspend, reason="", decision_id=1
    )

    assert (message.text, message.unfilled) == ("Suspended for 3 days.", [])


def test_without_a_template_the_user_gets_the_reason_or_the_policy_text(case, review_setup):
    policy = review_setup.policies["harassment"]
    policy.user_facing_text = "Harassment is not allowed."
    policy.save()

    with_reason = compose_user_message(
        subject=case.subject,
        policy=policy,
        action=review_setup.actions["remove"],
        reason="Insults.",
        decision_id=1,
    )
    without = compose_user_message(
        subject=case.subject, policy=policy, action=review_setup.actions["remove"], reason="", decision_id=1
    )

    assert (with_reason.text, without.text) == ("Insults.", "Harassment is not allowed.")


def test_a_template_with_an_unknown_placeholder_is_refused_by_admin_validation(review_setup):
    template = MessageTemplate(action=review_setup.actions["remove"], body="Hi {username}")

    with pytest.raises(ValidationError) as refused:
        template.full_clean()

    assert "{username}" in str(refused.value)


def test_the_form_previews_the_message_and_warns_about_unfilled_placeholders(
    agent_client, case, review_setup
):
    MessageTemplate.objects.create(action=review_setup.actions["remove"], body="<b>{subject}</b> {duration}")

    response = agent_client.get(
        f"/cases/{case.pk}/message",
        {"policy": case.policy_id, "action": review_setup.actions["remove"].pk},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert "message msg-7" in html
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert "Unfilled: {duration}" in html


def test_the_preview_of_a_case_the_user_cannot_see_is_404(client, case, review_setup):
    client.force_login(factories.UserFactory(username="outsider"))

    response = client.get(f"/cases/{case.pk}/message", {"policy": case.policy_id}, HTTP_HX_REQUEST="true")

    assert response.status_code == 404
