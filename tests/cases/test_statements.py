"""EU DSA statements of reasons built from real decisions: one per restriction, in the decision's transaction,
validated before it is stored, carrying no personal data."""

import json
from datetime import timedelta

import pytest
from django.db import transaction

from cases import statement_rules as rules
from cases.models import Case, Decision, StatementOfReasons
from cases.services import review
from cases.services.appeals import file_appeal, resolve_appeal
from cases.services.review.decisions import decide_automatically
from cases.services.statements import retry_statement
from moderation.errors import Conflict
from moderation.models import Action, AuditEvent, Policy
from tests import factories

pytestmark = pytest.mark.django_db

AUTHOR, REPORTER, COMMENT, TEXT = "author-9f3k", "reporter-77q", "my neighbour Jan Novak did it", "you idiot"


def reported_case(review_setup, vendor, *, policy="harassment", **subject) -> Case:
    case = factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies[policy],
        subject__author_id=AUTHOR,
        subject__text=TEXT,
        subject__language="en-GB",
        **{f"subject__{key}": value for key, value in subject.items()},
    )
    factories.ReportFactory(
        case=case, vendor=vendor, policy=case.policy, reporter_id=REPORTER, comment=COMMENT
    )
    return case


def decide(case, user, review_setup, *, action="remove", reason="Alice thinks Jan Novak is rude") -> Decision:
    factories.hold(case, user)
    return review.record_decision(
        case_id=case.pk,
        user=user,
        policy_id=case.policy_id,
        action_id=review_setup.actions[action].pk,
        reason=reason,
        expected_version=None,
    )


def test_an_agents_removal_gets_one_valid_pending_statement(review_setup, vendor):
    decision = decide(reported_case(review_setup, vendor), review_setup.agent, review_setup)

    statement = StatementOfReasons.objects.get(decision=decision)
    payload = statement.payload
    assert statement.state == StatementOfReasons.State.PENDING
    assert statement.validation_errors == {} and rules.validate_statement(payload) == {}
    assert statement.puid == payload["puid"] == f"mod-decision-{decision.pk}"
    assert payload["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert payload["decision_ground"] == rules.INCOMPATIBLE
    assert payload["incompatible_content_ground"] == "Terms of service: Harassment policy (harassment)"
    assert payload["incompatible_content_illegal"] == "No"
    assert payload["source_type"] == rules.ARTICLE_16
    assert (payload["automated_detection"], payload["automated_decision"]) == ("No", rules.NOT_AUTOMATED)
    assert payload["content_type"] == ["CONTENT_TYPE_TEXT"]
    assert payload["content_language"] == "EN"
    assert payload["territorial_scope"] == list(rules.EU_COUNTRIES)
    assert payload["application_date"] == decision.created_at.date().isoformat()
    # The TDB has no "other" category: an unmapped policy is reported as outside the platform's scope.
    assert payload["category"] == rules.CATEGORY_FALLBACK


def test_a_statement_carries_no_personal_data(review_setup, vendor):
    decision = decide(reported_case(review_setup, vendor), review_setup.agent, review_setup)

    text = json.dumps(StatementOfReasons.objects.get(decision=decision).payload, ensure_ascii=False)
    for personal in (
        AUTHOR,
        REPORTER,
        COMMENT,
        TEXT,
        "alice",
        "Jan Novak",
        decision.case.subject.external_id,
    ):
        assert personal not in text


def test_an_automated_removal_is_fully_automated_and_automatically_detected(review_setup, vendor):
    case = reported_case(review_setup, vendor, policy="spam")
    rule = factories.RoutingRuleFactory(
        automation_mode="live",
        auto_policy=review_setup.policies["spam"],
        auto_action=review_setup.actions["remove"],
    )
    with transaction.atomic():
        decision = decide_automatically(case=Case.objects.select_for_update().get(pk=case.pk), rule=rule)

    payload = StatementOfReasons.objects.get(decision=decision).payload
    assert (payload["automated_detection"], payload["automated_decision"]) == ("Yes", rules.FULLY)
    assert "automated rule" in payload["decision_facts"]


def test_a_trusted_flaggers_notice_is_the_source_even_beside_an_ordinary_notice(review_setup, vendor):
    case = reported_case(review_setup, vendor)
    flagger = factories.VendorFactory(dsa_source_type=rules.TRUSTED_FLAGGER)
    factories.ReportFactory(case=case, vendor=flagger, policy=case.policy)

    decision = decide(case, review_setup.agent, review_setup)

    assert decision.statement.payload["source_type"] == rules.TRUSTED_FLAGGER


def test_a_detector_vendors_report_is_our_own_initiative(review_setup):
    detector = factories.VendorFactory(dsa_source_type=rules.VOLUNTARY)

    decision = decide(reported_case(review_setup, detector), review_setup.agent, review_setup)

    payload = decision.statement.payload
    assert (payload["source_type"], payload["automated_detection"]) == (rules.VOLUNTARY, "Yes")
    assert rules.validate_statement(payload) == {}


def test_illegal_content_states_the_legal_ground_and_explanation(review_setup, vendor):
    Policy.objects.filter(code="harassment").update(
        dsa_ground=rules.ILLEGAL,
        dsa_legal_ground="§ 185 StGB (insult)",
        dsa_explanation="Insulting a person is an offence.",
        dsa_category=rules.CATEGORIES[2],
    )
    review_setup.policies["harassment"].refresh_from_db()

    decision = decide(reported_case(review_setup, vendor), review_setup.agent, review_setup)

    payload = decision.statement.payload
    assert payload["decision_ground"] == rules.ILLEGAL
    assert payload["illegal_content_legal_ground"] == "§ 185 StGB (insult)"
    assert payload["illegal_content_explanation"] == "Insulting a person is an offence."
    assert "incompatible_content_ground" not in payload
    assert payload["category"] == "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"
    assert decision.statement.state == StatementOfReasons.State.PENDING


def test_an_illegal_ground_without_its_law_is_stored_failed_and_a_retry_after_the_fix_queues_it(
    review_setup, vendor
):
    Policy.objects.filter(code="harassment").update(dsa_ground=rules.ILLEGAL, dsa_legal_ground="")
    review_setup.policies["harassment"].refresh_from_db()
    decision = decide(reported_case(review_setup, vendor), review_setup.agent, review_setup)
    statement = decision.statement
    assert statement.state == StatementOfReasons.State.FAILED
    assert "illegal_content_legal_ground" in statement.validation_errors
    assert "illegal_content_legal_ground" in statement.last_error

    lead = factories.UserFactory(username="lena")
    assert retry_statement(statement_id=statement.pk, user=lead).state == StatementOfReasons.State.FAILED
    Policy.objects.filter(code="harassment").update(dsa_legal_ground="§ 185 StGB")
    retried = retry_statement(statement_id=statement.pk, user=lead)

    assert retried.state == StatementOfReasons.State.PENDING and retried.validation_errors == {}
    assert retried.payload["illegal_content_legal_ground"] == "§ 185 StGB"
    assert AuditEvent.objects.filter(verb="statement.retried", target_id=str(statement.pk)).count() == 2
    with pytest.raises(Conflict):
        retry_statement(statement_id=statement.pk, user=lead)


def test_a_temporary_suspension_is_an_account_suspension_with_its_end_date(review_setup, vendor):
    suspend = factories.ActionFactory(
        code="suspend-7d", kind=Action.Kind.SUSPEND_TEMPORARY, duration_hours=24 * 7
    )
    review_setup.policies["harassment"].allowed_actions.add(suspend)
    review_setup.actions["suspend-7d"] = suspend

    decision = decide(reported_case(review_setup, vendor, kind="account"), review_setup.agent, review_setup,
                      action="suspend-7d")  # fmt: skip

    decision.refresh_from_db()
    payload = decision.statement.payload
    assert payload["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert "decision_visibility" not in payload
    assert payload["end_date_account_restriction"] == decision.effect_expires_at.date().isoformat()
    assert (payload["content_type"], payload["content_type_other"]) == (
        ["CONTENT_TYPE_OTHER"],
        "User account",
    )
    assert rules.validate_statement(payload) == {}


def test_an_admin_may_say_what_restriction_an_action_is(review_setup, vendor):
    demonetise = factories.ActionFactory(code="demonetise", kind=Action.Kind.RESTRICT,
                                         dsa_restriction="DECISION_MONETARY_SUSPENSION")  # fmt: skip
    review_setup.policies["harassment"].allowed_actions.add(demonetise)
    review_setup.actions["demonetise"] = demonetise

    decision = decide(
        reported_case(review_setup, vendor), review_setup.agent, review_setup, action="demonetise"
    )

    assert decision.statement.payload["decision_monetary"] == "DECISION_MONETARY_SUSPENSION"


@pytest.mark.parametrize("action", ["warn", "no-violation"])
def test_decisions_that_restrict_nothing_get_no_statement(review_setup, vendor, action):
    decide(reported_case(review_setup, vendor), review_setup.agent, review_setup, action=action)

    assert not StatementOfReasons.objects.exists()


def test_a_decision_awaiting_its_second_review_gets_its_statement_only_when_confirmed(
    review_setup, vendor, bob
):
    Policy.objects.filter(code="harassment").update(requires_second_review=True)
    review_setup.policies["harassment"].refresh_from_db()
    case = reported_case(review_setup, vendor)
    pending = decide(case, review_setup.agent, review_setup)
    assert not StatementOfReasons.objects.exists()

    factories.hold(case, bob)
    review.confirm_decision(case_id=case.pk, user=bob, expected_version=Case.objects.get(pk=case.pk).version)

    assert StatementOfReasons.objects.get().decision == pending


def test_overturning_on_appeal_adds_no_new_restriction_and_no_new_statement(review_setup, vendor, bob):
    decision = decide(reported_case(review_setup, vendor), review_setup.agent, review_setup)
    filed = file_appeal(vendor=vendor, external_id="ap-1", decision_id=decision.pk, statement="Not me.")
    from cases.services.appeals import appeals_queue

    appeals_queue().members.add(bob)
    bob.__dict__.pop("_queue_access", None)
    appeal_case = factories.hold(Case.objects.get(pk=filed.appeal.appeal_case_id), bob)

    resolve_appeal(
        case_id=appeal_case.pk, user=bob, outcome="overturned", reason="Quoted.", expected_version=None
    )

    assert list(StatementOfReasons.objects.values_list("decision_id", flat=True)) == [decision.pk]


def test_the_puid_is_unique_and_the_database_refuses_a_puid_outside_the_charset(review_setup, vendor):
    decision = decide(reported_case(review_setup, vendor), review_setup.agent, review_setup)
    statement = decision.statement
    other = factories.DecisionFactory(case=factories.CaseFactory())

    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        StatementOfReasons.objects.create(decision=other, case=other.case, puid=statement.puid, payload={})
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementOfReasons.objects.create(decision=other, case=other.case, puid="bad puid", payload={})


def test_content_date_is_when_the_report_says_the_content_was_posted(review_setup, vendor):
    case = reported_case(review_setup, vendor)
    posted = case.reports.get().received_at - timedelta(days=3)
    case.reports.update(occurred_at=posted)

    decision = decide(case, review_setup.agent, review_setup)

    assert decision.statement.payload["content_date"] == posted.date().isoformat()


def test_content_date_is_the_earliest_any_vendor_gave_whatever_their_source_types(review_setup, vendor):
    case = reported_case(review_setup, vendor)
    first = case.reports.get().received_at - timedelta(days=3)
    flagger = factories.VendorFactory(dsa_source_type=rules.TRUSTED_FLAGGER)
    factories.ReportFactory(
        case=case, vendor=flagger, policy=case.policy, occurred_at=first - timedelta(days=2)
    )
    factories.ReportFactory(case=case, vendor=flagger, policy=case.policy, occurred_at=None)
    case.reports.filter(vendor=vendor).update(occurred_at=first)

    payload = decide(case, review_setup.agent, review_setup).statement.payload

    assert payload["content_date"] == (first - timedelta(days=2)).date().isoformat()
    assert payload["source_type"] == rules.TRUSTED_FLAGGER


def test_an_admin_cannot_save_an_illegal_content_policy_without_its_law(review_setup):
    from django.core.exceptions import ValidationError

    policy = review_setup.policies["harassment"]
    policy.dsa_ground = rules.ILLEGAL
    with pytest.raises(ValidationError, match="legal provision"):
        policy.full_clean()
    policy.dsa_legal_ground = "§ 185 StGB"
    policy.full_clean()
