"""Evidence belongs to the report that brought it: no vendor changes what another vendor's report shows or
who gets punished (`cases.services.intake`, `cases.evidence`, `cases.services.review`).

Two vendors with valid tokens: `acme` (first to report the subject) and `other` (a second vendor that may be
mistaken or hostile).
"""

import pytest

from cases.models import Case, Decision, Enforcement, Report, Strike, Subject, SubjectVersion
from cases.services import review
from moderation.models import EnforcementEndpoint
from tests import factories

pytestmark = pytest.mark.django_db

ORIGINAL = {"kind": "message", "external_id": "msg-1", "author_id": "author-9", "text": "you are worthless"}
FORGED = {"kind": "message", "external_id": "msg-1", "author_id": "innocent-1", "text": "have a nice day"}


@pytest.fixture
def endpoint(db):
    return EnforcementEndpoint.objects.create(
        name="platform", url="https://platform.example/hook", secret="s" * 40, is_active=True
    )


def send(client, report_body, external_id, subject, **extra):
    response = client.post(
        "/api/v1/reports", report_body(external_id=external_id, subject=subject, **extra), format="json"
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def decide(case, user, review_setup, **extra):
    case = factories.hold(Case.objects.get(pk=case.pk), user)
    return review.record_decision(
        case_id=case.pk,
        user=user,
        policy_id=review_setup.policies["harassment"].pk,
        action_id=review_setup.actions["remove"].pk,
        expected_version=case.version,
        **extra,
    )


@pytest.fixture
def reported(api, other_api, report_body, review_setup):
    """acme reports the message; `other` then re-reports the same subject id with other text and author."""
    first = send(api, report_body, "acme-1", ORIGINAL)
    second = send(other_api, report_body, "other-1", FORGED)
    assert first["case_id"] == second["case_id"]
    case = Case.objects.get(pk=first["case_id"])
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    return Case.objects.select_related("subject").get(pk=case.pk)


# --- What the case shows -----------------------------------------------------------------------------------


def test_another_vendors_content_is_kept_as_its_own_version_and_never_swapped_in(
    reported, vendor, other_vendor
):
    subject = Subject.objects.get(pk=reported.subject_id)
    assert (subject.text, subject.author_id, subject.content_version) == (
        ORIGINAL["text"],
        "author-9",
        1,
    )
    versions = {v.version: v for v in SubjectVersion.objects.filter(subject=subject)}
    assert versions[1].vendor == vendor and versions[1].text == ORIGINAL["text"]
    assert versions[2].vendor == other_vendor and versions[2].author_id == "innocent-1"
    reports = {r.external_id: r.subject_version for r in Report.objects.filter(case=reported)}
    assert reports == {"acme-1": 1, "other-1": 2}


def test_the_case_page_shows_the_first_suppliers_version_and_marks_the_other_as_a_conflict(
    reported, agent_client
):
    html = agent_client.get(f"/cases/{reported.pk}/").content.decode()

    shown = html.split('id="shown-version"')[1].split("</section>")[0]
    assert "author-9" in shown and "you are worthless" in shown
    assert "have a nice day" not in shown
    assert 'id="version-conflict"' in html
    other = html.split('id="version-2"')[1].split("</li>")[0]
    assert "Other vendor" in other and "innocent-1" in other and "have a nice day" in other
    assert "conflict: different author, text" in other
    # The agent says which version they decide on.
    # The agent says which version they decide on: nothing is pre-chosen when versions conflict.
    assert 'name="subject_version" value="1" required' in html
    assert 'name="subject_version" value="2" required' in html
    assert "checked" not in html.split('id="version-choice"')[1].split("</fieldset>")[0]


def test_the_content_vendor_may_move_its_own_subject_on_an_edit(api, report_body, review_setup):
    send(api, report_body, "acme-1", ORIGINAL)
    send(api, report_body, "acme-2", {**ORIGINAL, "text": "you are worthless, edited"})

    subject = Subject.objects.get(external_id="msg-1")
    assert subject.text == "you are worthless, edited"
    assert subject.content_version == 2


def test_a_vendor_repeating_another_version_reuses_it_instead_of_piling_up_versions(
    reported, other_api, report_body
):
    send(other_api, report_body, "other-2", FORGED)

    assert SubjectVersion.objects.filter(subject_id=reported.subject_id).count() == 2
    assert Report.objects.get(external_id="other-2").subject_version == 2


# --- What a decision judged --------------------------------------------------------------------------------


def test_the_decision_records_the_version_and_author_and_the_strike_and_enforcement_follow_them(
    reported, review_setup, endpoint
):
    decision = decide(reported, review_setup.agent, review_setup, subject_version=1)

    decision.refresh_from_db()
    assert (decision.subject_version, decision.author_id) == (1, "author-9")
    assert Strike.objects.get(decision=decision).author_id == "author-9"
    payload = Enforcement.objects.get(decision=decision).payload
    assert payload["subject"]["author_id"] == "author-9"
    assert payload["subject"]["content_version"] == 1


def test_an_agent_may_decide_on_the_conflicting_version_and_then_its_author_is_judged(
    reported, review_setup, endpoint
):
    decision = decide(reported, review_setup.agent, review_setup, subject_version=2)

    assert (decision.subject_version, decision.author_id) == (2, "innocent-1")
    assert Strike.objects.get(decision=decision).author_id == "innocent-1"


def test_conflicting_evidence_is_never_settled_by_default(reported, review_setup):
    with pytest.raises(review.ReviewError) as refused:
        decide(reported, review_setup.agent, review_setup)

    assert refused.value.field == "subject_version"
    assert not Decision.objects.filter(case=reported).exists()


def test_a_version_the_case_never_carried_is_refused(reported, review_setup):
    with pytest.raises(review.ReviewError) as refused:
        decide(reported, review_setup.agent, review_setup, subject_version=7)

    assert refused.value.field == "subject_version"
    assert not Decision.objects.filter(case=reported).exists()


def test_a_later_report_never_changes_what_a_decided_case_or_its_appeal_shows(
    reported, review_setup, api, other_api, report_body, bob, agent_client, endpoint
):
    decision = decide(reported, review_setup.agent, review_setup, subject_version=1)
    # Afterwards, `other` sends a third text and author for the same subject.
    send(other_api, report_body, "other-9", {**FORGED, "text": "totally different", "author_id": "x-1"})

    html = agent_client.get(f"/cases/{reported.pk}/").content.decode()
    shown = html.split('id="shown-version"')[1].split("</section>")[0]
    assert "you are worthless" in shown and "totally different" not in shown

    filed = api.post(
        "/api/v1/appeals",
        {"external_id": "ap-1", "decision_id": decision.pk, "statement": "It was a joke."},
        format="json",
    )
    assert filed.status_code == 201, filed.content
    appeal_case = Case.objects.get(kind=Case.Kind.APPEAL)
    review_setup.queue.members.add(bob)
    appeal_case.queue.members.add(review_setup.agent)
    html = agent_client.get(f"/cases/{appeal_case.pk}/").content.decode()
    shown = html.split('id="shown-version"')[1].split("</section>")[0]
    assert "you are worthless" in shown and "author-9" in shown
    assert "the version decided on" in shown
    # The original reports are there beside the statement.
    assert "acme-1" not in shown and "Acme detection" in html and "It was a joke." in html


def test_a_decided_case_keeps_showing_the_version_decided_on_after_its_author_edits_it(
    api, report_body, review_setup, agent_client, endpoint
):
    send(api, report_body, "acme-1", ORIGINAL)
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    decide(case, review_setup.agent, review_setup)
    send(api, report_body, "acme-2", {**ORIGINAL, "text": "you are worthless, edited"})
    assert Subject.objects.get(external_id="msg-1").content_version == 2

    html = agent_client.get(f"/cases/{case.pk}/").content.decode()

    shown = html.split('id="shown-version"')[1].split("</section>")[0]
    assert "you are worthless" in shown and "edited" not in shown


# --- Reports that carry no content -------------------------------------------------------------------------


@pytest.fixture
def decided(api, other_api, report_body, review_setup, endpoint):
    """acme reported with content and the case was decided; `other` then named only the subject id."""
    send(api, report_body, "acme-1", ORIGINAL)
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    bare = send(other_api, report_body, "other-1", {"kind": "message", "external_id": "msg-1"})
    assert bare["case_id"] == case.pk
    decision = decide(case, review_setup.agent, review_setup)
    return case, decision


def test_a_report_naming_only_the_subject_makes_no_vendor_a_party_to_the_case(decided, other_api, api):
    case, decision = decided
    assert Report.objects.get(external_id="other-1").carried_content is False

    assert other_api.get(f"/api/v1/cases/{case.pk}").status_code == 404
    report_id = Report.objects.get(external_id="other-1").pk
    assert other_api.get(f"/api/v1/reports/{report_id}").json()["case"]["decision"] is None
    # The vendor that brought the content reads the outcome, with the decision id an appeal names.
    outcome = api.get(f"/api/v1/cases/{case.pk}").json()["decision"]
    assert outcome["id"] == decision.pk and outcome["subject_version"] == 1


def test_a_vendor_that_only_named_the_subject_can_neither_file_nor_block_the_appeal(decided, other_api, api):
    _, decision = decided
    body = {"external_id": "ap-1", "decision_id": decision.pk, "statement": "Not me."}

    assert other_api.post("/api/v1/appeals", body, format="json").status_code == 404
    assert api.post("/api/v1/appeals", body, format="json").status_code == 201


def test_a_vendor_whose_own_version_was_not_the_one_judged_owns_no_appeal(
    reported, review_setup, other_api, endpoint
):
    decision = decide(reported, review_setup.agent, review_setup, subject_version=1)  # acme's version
    body = {"external_id": "ap-1", "decision_id": decision.pk, "statement": "Not me."}

    assert other_api.post("/api/v1/appeals", body, format="json").status_code == 404


def test_a_conflict_answer_never_names_another_vendors_appeal(
    api, other_api, other_vendor, report_body, review_setup, endpoint
):
    # The platform's own feed may appeal what it is a party to, besides the vendor that supplied the content.
    other_vendor.is_content_authority = True
    other_vendor.save()
    send(api, report_body, "acme-1", ORIGINAL)
    send(other_api, report_body, "other-1", ORIGINAL)  # the same content: both are parties
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    decision = decide(case, review_setup.agent, review_setup)
    assert (
        api.post(
            "/api/v1/appeals",
            {"external_id": "a", "decision_id": decision.pk, "statement": "x"},
            format="json",
        ).status_code
        == 201
    )

    second = other_api.post(
        "/api/v1/appeals", {"external_id": "b", "decision_id": decision.pk, "statement": "y"}, format="json"
    )

    assert second.status_code == 409
    assert "existing" not in second.json()


# --- Reports arriving while an agent decides ---------------------------------------------------------------


def test_a_report_without_new_content_leaves_the_open_decision_form_valid(
    api, other_api, report_body, review_setup, agent_client
):
    send(api, report_body, "acme-1", ORIGINAL)
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    case = factories.hold(Case.objects.get(pk=case.pk), review_setup.agent)
    seen_version = case.version

    send(other_api, report_body, "other-1", ORIGINAL)  # same content, another reporter
    send(other_api, report_body, "other-2", {"kind": "message", "external_id": "msg-1"})

    case.refresh_from_db()
    assert case.version == seen_version and case.report_count == 3
    beat = agent_client.post(f"/cases/{case.pk}/heartbeat", {"holding": "1", "reports_seen": "1"})
    assert "2 new reports arrived" in beat.content.decode()
    decision = review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=review_setup.policies["harassment"].pk,
        action_id=review_setup.actions["warn"].pk,
        expected_version=seen_version,
    )
    assert decision.case_id == case.pk


def test_new_content_still_makes_the_open_form_a_conflict(api, other_api, report_body, review_setup):
    send(api, report_body, "acme-1", ORIGINAL)
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    case = factories.hold(Case.objects.get(pk=case.pk), review_setup.agent)
    seen_version = case.version

    send(other_api, report_body, "other-1", FORGED)

    with pytest.raises(review.CaseConflict):
        review.record_decision(
            case_id=case.pk,
            user=review_setup.agent,
            policy_id=review_setup.policies["harassment"].pk,
            action_id=review_setup.actions["warn"].pk,
            expected_version=seen_version,
        )


# --- Rules the decision path itself keeps ------------------------------------------------------------------


def test_second_review_is_required_when_any_reported_policy_requires_it(
    api, report_body, review_setup, policies
):
    policies["harassment"].requires_second_review = True
    policies["harassment"].save()
    send(api, report_body, "acme-1", ORIGINAL, reason="harassment")
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    case = factories.hold(Case.objects.get(pk=case.pk), review_setup.agent)

    # Choosing a policy without four eyes does not skip it.
    decision = review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=policies["spam"].pk,
        action_id=review_setup.actions["remove"].pk,
        expected_version=case.version,
    )

    assert decision.review_state == Decision.ReviewState.PENDING
    assert Case.objects.get(pk=case.pk).status == Case.Status.PENDING_CONFIRMATION
    assert not Enforcement.objects.exists()


def test_only_the_agent_holding_a_case_decides_it(reported, review_setup, bob):
    with pytest.raises(review.CaseConflict, match="Claim this case"):
        review.record_decision(
            case_id=reported.pk,
            user=bob,
            policy_id=review_setup.policies["harassment"].pk,
            action_id=review_setup.actions["remove"].pk,
            expected_version=reported.version,
        )

    assert not Decision.objects.exists()


def test_keys_pressed_on_a_browsed_case_decide_nothing_through_the_page(reported, review_setup, agent_client):
    response = agent_client.post(
        f"/cases/{reported.pk}/decide",
        {
            "version": reported.version,
            "policy": review_setup.policies["harassment"].pk,
            "action": review_setup.actions["remove"].pk,
        },
    )

    assert response.status_code == 409
    assert "Claim this case" in response.content.decode()
    assert not Decision.objects.exists()


# --- What the attack pass found (a rival vendor with a valid token) ----------------------------------------


def test_naming_a_new_subject_first_makes_no_vendor_a_party(
    api, other_api, report_body, review_setup, endpoint
):
    send(other_api, report_body, "other-1", {"kind": "message", "external_id": "msg-1"})
    send(api, report_body, "acme-1", ORIGINAL)
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    decide(case, review_setup.agent, review_setup)

    assert Report.objects.get(external_id="other-1").carried_content is False
    assert other_api.get(f"/api/v1/cases/{case.pk}").status_code == 404
    report_id = Report.objects.get(external_id="other-1").pk
    assert other_api.get(f"/api/v1/reports/{report_id}").json()["case"]["decision"] is None
    # Its empty "version" is nobody's evidence: the case shows acme's content, with no other version.
    assert Subject.objects.get().text == ORIGINAL["text"]


def test_repeating_someone_elses_content_gives_no_say_in_the_appeal(
    api, other_api, report_body, review_setup, endpoint
):
    send(api, report_body, "acme-1", ORIGINAL)
    send(other_api, report_body, "other-1", ORIGINAL)  # byte-identical: a party, not the supplier
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    decision = decide(case, review_setup.agent, review_setup)
    body = {"external_id": "ap-1", "decision_id": decision.pk, "statement": "not me"}

    assert other_api.post("/api/v1/appeals", body, format="json").status_code == 404
    assert api.post("/api/v1/appeals", body, format="json").status_code == 201


def test_the_platforms_own_feed_decides_what_a_subject_shows_over_a_rival_that_reported_first(
    api, other_api, vendor, report_body, review_setup
):
    vendor.is_content_authority = True  # acme is the platform's feed here
    vendor.save()
    send(other_api, report_body, "other-1", {**ORIGINAL, "author_id": "innocent-victim"})
    send(api, report_body, "acme-1", {**ORIGINAL, "author_id": "real-spammer"})
    # The rival keeps trying to move it on: its versions are kept, never shown.
    send(other_api, report_body, "other-2", {**ORIGINAL, "author_id": "innocent-victim-2"})

    subject = Subject.objects.get()
    assert subject.author_id == "real-spammer" and subject.content_vendor == vendor
    assert SubjectVersion.objects.filter(subject=subject).count() == 3
