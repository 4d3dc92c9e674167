"""What an agent does to a case, at the service layer (`cases.services.review`).

Decisions and escalations are optimistic-locked on the case version: a conflict changes nothing. Every
write carries its audit event. Input that cannot be accepted is a ReviewError naming the form field.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case, CaseNote, Decision, SubjectTag, Tag
from cases.selectors import media_url_hash
from cases.services import review
from moderation.models import Action, AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(review_setup):
    """An open, unclaimed harassment case in `general`."""
    return factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies["harassment"],
        subject__media_urls=["https://media.example/a.png", "https://media.example/b.jpg"],
    )


@pytest.fixture
def alice(review_setup):
    return review_setup.agent


def held_by(case, user, *, minutes=5):
    """Give `user` a lease on `case` (as a claim would) and return the refreshed case."""
    now = timezone.now()
    Case.objects.filter(pk=case.pk).update(
        assignee=user,
        status=Case.Status.IN_REVIEW,
        claimed_at=now,
        lease_expires_at=now + timedelta(minutes=minutes),
        version=case.version + 1,
    )
    case.refresh_from_db()
    return case


def decide(
    case,
    user,
    review_setup,
    *,
    policy="harassment",
    action="remove",
    version="current",
    holding=True,
    **extra,
):
    """`user` decides `case`, holding it first as an agent does (`holding=False`: decide as things stand)."""
    if holding:
        factories.hold(case, user)
    return review.record_decision(
        case_id=case.pk,
        user=user,
        policy_id=review_setup.policies[policy].pk if policy else None,
        action_id=review_setup.actions[action].pk if action else None,
        expected_version=case.version if version == "current" else version,
        **extra,
    )


# --- record_decision ---------------------------------------------------------------------------------------


def test_decision_resolves_the_case_and_records_who_decided_what(case, alice, review_setup):
    case = held_by(case, alice)
    version = case.version

    decision = decide(case, alice, review_setup, reason="Insults another user.", notes="Repeat pattern.")

    decision.refresh_from_db()
    assert decision.case_id == case.pk
    assert decision.mode == Decision.Mode.LIVE
    assert decision.automated is False
    assert decision.decided_by == alice
    assert decision.policy == review_setup.policies["harassment"]
    assert decision.action == review_setup.actions["remove"]
    assert decision.reason == "Insults another user."
    assert decision.notes == "Repeat pattern."
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED
    assert case.resolved_at is not None
    assert case.version == version + 1
    assert case.assignee is None
    assert case.lease_expires_at is None


def test_decision_strips_reason_and_notes(case, alice, review_setup):
    decision = decide(case, alice, review_setup, reason="  spaced  ", notes="\n internal \n")

    assert decision.reason == "spaced"
    assert decision.notes == "internal"


def test_decision_is_audited_with_policy_action_and_queue(case, alice, review_setup):
    decision = decide(case, alice, review_setup, action="warn")

    event = AuditEvent.objects.get(verb="decision.recorded")
    assert event.case_id == case.pk
    assert event.actor_type == AuditEvent.ActorType.USER
    assert event.actor_id == str(alice.pk)
    assert event.actor_label == "alice"
    assert event.target_type == "cases.decision"
    assert event.target_id == str(decision.pk)
    # The content decided on and its author are recorded with it (the factory subject: version 1).
    assert event.data == {
        "policy": "harassment",
        "action": "warn",
        "queue": "general",
        "subject_version": 1,
        "author_id": "author-1",
    }


def test_an_open_unclaimed_case_cannot_be_decided_until_the_member_claims_it(case, alice, review_setup):
    with pytest.raises(review.CaseConflict) as conflict:
        decide(case, alice, review_setup, action="no-violation", holding=False)

    assert "Claim this case before deciding it" in conflict.value.message
    _assert_nothing_written(case)

    case = factories.hold(case, alice, claim=True)
    decide(case, alice, review_setup, action="no-violation")

    assert Case.objects.get(pk=case.pk).status == Case.Status.RESOLVED


def test_a_lease_that_ran_out_no_longer_lets_its_holder_decide(case, alice, review_setup):
    case = held_by(case, alice, minutes=-1)

    with pytest.raises(review.CaseConflict) as conflict:
        decide(case, alice, review_setup, holding=False)

    assert "Claim this case before deciding it" in conflict.value.message
    _assert_nothing_written(case)


def test_the_holder_may_decide_without_a_version(case, alice, review_setup):
    case = held_by(case, alice)

    decide(case, alice, review_setup, version=None)

    assert Case.objects.get(pk=case.pk).status == Case.Status.RESOLVED


def _assert_nothing_written(case):
    before = (case.status, case.version, case.assignee_id, case.lease_expires_at)
    case.refresh_from_db()
    assert (case.status, case.version, case.assignee_id, case.lease_expires_at) == before
    assert not Decision.objects.filter(case=case).exists()
    assert not AuditEvent.objects.filter(case_id=case.pk, verb="decision.recorded").exists()


def test_an_action_not_allowed_under_the_policy_is_refused(case, alice, review_setup):
    review_setup.policies["spam"].allowed_actions.remove(review_setup.actions["warn"])

    with pytest.raises(review.ReviewError) as refused:
        decide(case, alice, review_setup, policy="spam", action="warn")

    assert refused.value.field == "action"
    assert "Spam" in refused.value.message
    _assert_nothing_written(case)


def test_no_violation_is_always_possible_even_when_the_policy_does_not_list_it(case, alice, review_setup):
    review_setup.policies["harassment"].allowed_actions.remove(review_setup.actions["no-violation"])

    decision = decide(case, alice, review_setup, action="no-violation")

    assert decision.action.kind == Action.Kind.NO_VIOLATION
    assert Case.objects.get(pk=case.pk).status == Case.Status.RESOLVED


def test_the_decision_form_offers_no_violation_under_every_policy_last(review_setup):
    from cases.selectors import allowed_actions, forget_review_config

    spam = review_setup.policies["spam"]
    spam.allowed_actions.set([review_setup.actions["remove"]])
    forget_review_config()

    assert [action.code for action in allowed_actions(spam.pk)] == ["remove", "no-violation"]


def test_an_action_from_outside_the_catalogue_is_refused(case, alice, review_setup):
    case = factories.hold(case, alice)

    with pytest.raises(review.ReviewError) as refused:
        review.record_decision(
            case_id=case.pk,
            user=alice,
            policy_id=review_setup.policies["spam"].pk,
            action_id=999_999,
            expected_version=case.version,
        )

    assert refused.value.field == "action"
    _assert_nothing_written(case)


def test_an_inactive_action_is_refused(case, alice, review_setup):
    Action.objects.filter(pk=review_setup.actions["remove"].pk).update(is_active=False)

    with pytest.raises(review.ReviewError) as refused:
        decide(case, alice, review_setup, action="remove")

    assert refused.value.field == "action"
    _assert_nothing_written(case)


def test_an_inactive_policy_is_refused(case, alice, review_setup):
    spam = review_setup.policies["spam"]
    spam.is_active = False
    spam.save(update_fields=["is_active"])

    with pytest.raises(review.ReviewError) as refused:
        decide(case, alice, review_setup, policy="spam")

    assert refused.value.field == "policy"
    _assert_nothing_written(case)


def test_a_missing_policy_is_refused(case, alice, review_setup):
    with pytest.raises(review.ReviewError) as refused:
        decide(case, alice, review_setup, policy=None)

    assert refused.value.field == "policy"
    _assert_nothing_written(case)


def test_a_missing_action_is_refused(case, alice, review_setup):
    with pytest.raises(review.ReviewError) as refused:
        decide(case, alice, review_setup, action=None)

    assert refused.value.field == "action"
    _assert_nothing_written(case)


def test_the_escalate_action_cannot_be_recorded_as_a_decision(case, alice, review_setup):
    with pytest.raises(review.ReviewError) as refused:
        decide(case, alice, review_setup, action="escalate")

    assert refused.value.field == "action"
    assert "Escalate" in refused.value.message
    _assert_nothing_written(case)


@pytest.mark.parametrize("field", ["reason", "notes"])
def test_overlong_text_is_refused(case, alice, review_setup, field):
    with pytest.raises(review.ReviewError) as refused:
        decide(case, alice, review_setup, **{field: "x" * (review.MAX_TEXT + 1)})

    assert refused.value.field == field
    _assert_nothing_written(case)


def test_a_nul_character_in_the_reason_is_refused(case, alice, review_setup):
    with pytest.raises(review.ReviewError) as refused:
        decide(case, alice, review_setup, reason="a\x00b")

    assert refused.value.field == "reason"
    _assert_nothing_written(case)


def test_a_stale_version_is_a_conflict_and_writes_nothing(case, alice, review_setup):
    seen = case.version
    case = held_by(case, alice)  # claimed meanwhile: the version moved on

    with pytest.raises(review.CaseConflict) as conflict:
        decide(case, alice, review_setup, version=seen)

    assert "changed while you had it open" in conflict.value.message
    assert conflict.value.case.pk == case.pk
    _assert_nothing_written(case)


def test_a_case_held_by_another_agent_is_a_conflict(case, alice, review_setup):
    bob = factories.UserFactory(username="bob")
    case = held_by(case, bob)

    with pytest.raises(review.CaseConflict) as conflict:
        decide(case, alice, review_setup, holding=False)

    assert conflict.value.message == "bob is reviewing this case now."
    _assert_nothing_written(case)


def test_a_case_whose_other_holder_lease_ran_out_can_be_claimed_and_decided(case, alice, review_setup):
    bob = factories.UserFactory(username="bob")
    case = held_by(case, bob, minutes=-1)
    case = factories.hold(case, alice, claim=True)  # takes the expired lease over

    decision = decide(case, alice, review_setup)

    assert decision.decided_by == alice


def test_an_already_resolved_case_is_a_conflict_naming_who_decided(case, alice, review_setup):
    bob = factories.UserFactory(username="bob")
    review_setup.queue.members.add(bob)
    decide(case, bob, review_setup, action="warn")
    case.refresh_from_db()

    with pytest.raises(review.CaseConflict) as conflict:
        decide(case, alice, review_setup, action="remove", holding=False)  # a resolved case is not claimable

    assert "already decided" in conflict.value.message
    assert "Warn by bob" in conflict.value.message
    assert Decision.objects.filter(case=case).count() == 1


def test_an_automated_decision_is_named_as_automation(case, alice, review_setup):
    factories.DecisionFactory(case=case, action=review_setup.actions["remove"], automated=True)
    Case.objects.filter(pk=case.pk).update(status=Case.Status.RESOLVED)
    case.refresh_from_db()

    with pytest.raises(review.CaseConflict) as conflict:
        decide(case, alice, review_setup, holding=False)

    assert "(Remove by automation)" in conflict.value.message


def test_a_case_in_a_queue_the_user_cannot_see_is_not_visible(alice, review_setup):
    hidden = factories.QueueFactory(slug="restricted", is_restricted=True)
    other = factories.OpenCaseFactory(queue=hidden, policy=review_setup.policies["spam"])

    with pytest.raises(review.CaseNotVisible):
        decide(other, alice, review_setup, holding=False)

    other.refresh_from_db()
    assert other.status == Case.Status.OPEN
    assert not Decision.objects.filter(case=other).exists()


def test_an_unrouted_case_is_not_visible_to_an_agent(alice, review_setup):
    unrouted = factories.OpenCaseFactory(queue=None, policy=review_setup.policies["spam"])

    with pytest.raises(review.CaseNotVisible):
        decide(unrouted, alice, review_setup, holding=False)


def test_a_case_that_does_not_exist_is_not_visible(alice, review_setup):
    with pytest.raises(review.CaseNotVisible):
        review.record_decision(
            case_id=987_654, user=alice, policy_id=None, action_id=None, expected_version=None
        )


# --- escalate_case --------------------------------------------------------------------------------------------


@pytest.fixture
def specialists(db):
    """A restricted queue alice is not a member of (escalating there is the point)."""
    return factories.QueueFactory(slug="specialists", name="Specialists", is_restricted=True)


def test_escalation_moves_the_case_to_the_target_queue_unassigned(case, alice, specialists):
    case = held_by(case, alice)
    version = case.version

    escalated = review.escalate_case(
        case_id=case.pk, user=alice, queue_id=specialists.pk, note="Needs legal.", expected_version=version
    )

    case.refresh_from_db()
    assert escalated.pk == case.pk
    assert case.queue == specialists
    assert case.status == Case.Status.ESCALATED
    assert case.assignee is None
    assert case.lease_expires_at is None
    assert case.claimed_at is None
    assert case.version == version + 1
    assert not Decision.objects.filter(case=case).exists()


def test_escalation_keeps_the_note_as_an_escalation_note(case, alice, specialists):
    review.escalate_case(
        case_id=case.pk, user=alice, queue_id=specialists.pk, note="  Needs legal.  ", expected_version=None
    )

    note = CaseNote.objects.get(case=case)
    assert note.kind == CaseNote.Kind.ESCALATION
    assert note.body == "Needs legal."
    assert note.author == alice


def test_escalation_is_audited_with_both_queues(case, alice, specialists):
    review.escalate_case(
        case_id=case.pk, user=alice, queue_id=specialists.pk, note="n", expected_version=case.version
    )

    event = AuditEvent.objects.get(verb="case.escalated")
    assert event.case_id == case.pk
    assert event.actor_label == "alice"
    assert event.target_type == "cases.case"
    assert event.data == {"from_queue": "general", "to_queue": "specialists"}


@pytest.mark.parametrize("note", ["", "   \n  "])
def test_escalation_without_a_note_is_refused(case, alice, specialists, note):
    with pytest.raises(review.ReviewError) as refused:
        review.escalate_case(
            case_id=case.pk, user=alice, queue_id=specialists.pk, note=note, expected_version=case.version
        )

    assert refused.value.field == "note"
    case.refresh_from_db()
    assert case.queue.slug == "general"
    assert not CaseNote.objects.filter(case=case).exists()
    assert not AuditEvent.objects.filter(verb="case.escalated").exists()


@pytest.mark.parametrize("queue_id", [None, 999_999])
def test_escalation_without_a_valid_queue_is_refused(case, alice, queue_id):
    with pytest.raises(review.ReviewError) as refused:
        review.escalate_case(case_id=case.pk, user=alice, queue_id=queue_id, note="n", expected_version=None)

    assert refused.value.field == "queue"


def test_escalation_to_an_inactive_queue_is_refused(case, alice):
    closed = factories.QueueFactory(slug="closed", is_active=False)

    with pytest.raises(review.ReviewError) as refused:
        review.escalate_case(case_id=case.pk, user=alice, queue_id=closed.pk, note="n", expected_version=None)

    assert refused.value.field == "queue"


def test_escalation_with_a_stale_version_is_a_conflict(case, alice, specialists):
    seen = case.version
    case = held_by(case, alice)

    with pytest.raises(review.CaseConflict):
        review.escalate_case(
            case_id=case.pk, user=alice, queue_id=specialists.pk, note="n", expected_version=seen
        )

    case.refresh_from_db()
    assert case.queue.slug == "general"
    assert case.status == Case.Status.IN_REVIEW
    assert not CaseNote.objects.filter(case=case).exists()


def test_a_resolved_case_cannot_be_escalated(case, alice, review_setup, specialists):
    decide(case, alice, review_setup)
    case.refresh_from_db()

    with pytest.raises(review.CaseConflict):
        review.escalate_case(
            case_id=case.pk, user=alice, queue_id=specialists.pk, note="n", expected_version=case.version
        )


# --- Notes ---------------------------------------------------------------------------------------------


def test_add_case_note_stores_an_internal_note_and_audits_it(case, alice):
    note = review.add_case_note(case_id=case.pk, user=alice, body="  Checked the author's profile. ")

    note.refresh_from_db()
    assert note.case_id == case.pk
    assert note.author == alice
    assert note.kind == CaseNote.Kind.NOTE
    assert note.body == "Checked the author's profile."
    event = AuditEvent.objects.get(verb="case.note_added")
    assert event.case_id == case.pk and event.target_id == str(note.pk)


@pytest.mark.parametrize("body", ["", "   ", "x" * (review.MAX_TEXT + 1), "nul\x00"])
def test_an_empty_overlong_or_nul_note_is_refused(case, alice, body):
    with pytest.raises(review.ReviewError) as refused:
        review.add_case_note(case_id=case.pk, user=alice, body=body)

    assert refused.value.field == "body"
    assert not CaseNote.objects.filter(case=case).exists()


def test_a_note_on_an_invisible_case_is_refused(alice, review_setup):
    other = factories.OpenCaseFactory(queue=factories.QueueFactory(slug="other"))

    with pytest.raises(review.CaseNotVisible):
        review.add_case_note(case_id=other.pk, user=alice, body="hi")


# --- Tags ----------------------------------------------------------------------------------------------


def test_tagging_normalises_the_tag_and_creates_a_free_tag(case, alice):
    tag = review.tag_subject(case_id=case.pk, user=alice, tag="  Lang:DE ")

    assert tag.slug == "lang:de"
    assert tag.is_curated is False
    link = SubjectTag.objects.get(subject=case.subject)
    assert link.tag == tag and link.added_by == alice
    event = AuditEvent.objects.get(verb="subject.tagged")
    assert event.data == {"tag": "lang:de"} and event.case_id == case.pk


def test_whitespace_inside_a_tag_becomes_a_hyphen(case, alice):
    assert review.tag_subject(case_id=case.pk, user=alice, tag="High  Profile").slug == "high-profile"


def test_tagging_uses_an_existing_curated_tag(case, alice):
    curated = factories.TagFactory(slug="high-profile", is_curated=True)

    tag = review.tag_subject(case_id=case.pk, user=alice, tag="HIGH-PROFILE")

    assert tag.pk == curated.pk
    assert Tag.objects.filter(slug="high-profile").count() == 1


def test_tagging_twice_is_idempotent(case, alice):
    review.tag_subject(case_id=case.pk, user=alice, tag="lang:de")
    review.tag_subject(case_id=case.pk, user=alice, tag="Lang:DE")

    assert SubjectTag.objects.filter(subject=case.subject).count() == 1
    assert Tag.objects.filter(slug="lang:de").count() == 1
    assert AuditEvent.objects.filter(verb="subject.tagged").count() == 1


@pytest.mark.parametrize(
    "text", ["", "   ", "-leading-hyphen", "<script>", "tag/with/slash", "x" * 65, "ünïcode", "a\x00b"]
)
def test_an_invalid_tag_is_refused(case, alice, text):
    with pytest.raises(review.ReviewError) as refused:
        review.tag_subject(case_id=case.pk, user=alice, tag=text)

    assert refused.value.field == "tag"
    assert not SubjectTag.objects.exists()
    assert not Tag.objects.exists()


def test_untagging_removes_the_tag_from_the_subject_and_audits_it(case, alice):
    review.tag_subject(case_id=case.pk, user=alice, tag="lang:de")

    assert review.untag_subject(case_id=case.pk, user=alice, tag="lang:de") is True

    assert not SubjectTag.objects.filter(subject=case.subject).exists()
    assert Tag.objects.filter(slug="lang:de").exists()  # the tag itself stays for others
    assert AuditEvent.objects.get(verb="subject.untagged").data == {"tag": "lang:de"}


def test_untagging_a_tag_the_subject_lacks_does_nothing(case, alice):
    assert review.untag_subject(case_id=case.pk, user=alice, tag="lang:de") is False
    assert not AuditEvent.objects.filter(verb="subject.untagged").exists()


def test_untagging_only_touches_this_subject(case, alice, review_setup):
    other = factories.OpenCaseFactory(queue=review_setup.queue)
    review.tag_subject(case_id=case.pk, user=alice, tag="spam-wave")
    review.tag_subject(case_id=other.pk, user=alice, tag="spam-wave")

    review.untag_subject(case_id=case.pk, user=alice, tag="spam-wave")

    assert list(SubjectTag.objects.values_list("subject_id", flat=True)) == [other.subject_id]


# --- Media reveal ----------------------------------------------------------------------------------------


def test_reveal_media_records_who_saw_which_item(case, alice):
    url = review.reveal_media(case_id=case.pk, user=alice, index=1)

    assert url == "https://media.example/b.jpg"
    event = AuditEvent.objects.get(verb="media.revealed")
    assert event.case_id == case.pk
    assert event.actor_label == "alice"
    assert event.target_type == "cases.case" and event.target_id == str(case.pk)
    assert event.data == {"index": 1, "url_sha256": media_url_hash("https://media.example/b.jpg")}


@pytest.mark.parametrize("index", [2, -1, 100])
def test_reveal_of_an_item_that_does_not_exist_is_refused(case, alice, index):
    with pytest.raises(review.ReviewError) as refused:
        review.reveal_media(case_id=case.pk, user=alice, index=index)

    assert refused.value.field == "index"
    assert not AuditEvent.objects.filter(verb="media.revealed").exists()


def test_reveal_on_an_invisible_case_is_refused(alice):
    other = factories.OpenCaseFactory(
        queue=factories.QueueFactory(slug="other"), subject__media_urls=["https://m.example/x.png"]
    )

    with pytest.raises(review.CaseNotVisible):
        review.reveal_media(case_id=other.pk, user=alice, index=0)

    assert not AuditEvent.objects.filter(verb="media.revealed").exists()


# --- Presence ------------------------------------------------------------------------------------------


def test_touch_presence_keeps_one_row_per_viewer(case, alice):
    from cases.models import CaseViewer

    review.touch_presence(case_id=case.pk, user=alice)
    first = CaseViewer.objects.get(case=case, user=alice).last_seen_at
    review.touch_presence(case_id=case.pk, user=alice)

    viewer = CaseViewer.objects.get(case=case, user=alice)
    assert viewer.last_seen_at >= first
    assert CaseViewer.objects.filter(case=case).count() == 1
