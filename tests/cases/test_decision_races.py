"""A decision that waits for the case's lock judges the case as the lock's holder left it.

`lock_visible_case` takes the row lock; what the decision then asks of the case (a protected tag, a report
under a four-eyes policy) it asks after the lock, in statements of their own. Read inside the locking
statement, those facts came from the snapshot taken before it waited, and missed what the holder committed
(found by an attack pass: a protected subject decided by an agent, a second review skipped)."""

import threading
import time

import pytest
from django.contrib.auth.models import Permission
from django.db import connections, transaction

from cases.models import Case, Decision, Report
from cases.services import review
from cases.services.intake import ReportInput, SubjectInput, accept_reports
from cases.services.review.case_work import tag_subject
from moderation.errors import Forbidden
from tests import factories
from tests.query_plans import postgres_only

pytestmark = [pytest.mark.django_db(transaction=True), postgres_only]


def while_holding_the_lock(work, *, hold_seconds=1.5):
    """Run `work` in another connection's transaction that keeps its locks for `hold_seconds`; returns once
    `work` is done (its locks still held) and a `finish()` that waits for the commit."""
    done, errors = threading.Event(), []

    def run():
        try:
            with transaction.atomic():
                work()
                done.set()
                time.sleep(hold_seconds)
        except BaseException as exc:  # reported by finish()
            errors.append(exc)
            done.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    assert done.wait(10)
    time.sleep(0.2)

    def finish():
        thread.join(20)
        assert not errors, errors

    return finish


def decide_remove(case, review_setup):
    return review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=case.policy_id,
        action_id=review_setup.actions["remove"].pk,
        reason="Harassment.",
        expected_version=case.version,
    )


def test_a_protected_tag_added_while_the_decision_waits_refuses_the_agent(review_setup):
    lead = factories.UserFactory(username="lena")
    lead.user_permissions.add(Permission.objects.get(codename="act_on_protected"))
    review_setup.queue.members.add(lead)
    factories.TagFactory(slug="vip", is_protected=True)
    case = factories.hold(
        factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"]),
        review_setup.agent,
    )

    finish = while_holding_the_lock(lambda: tag_subject(case_id=case.pk, user=lead, tag="vip"))
    with pytest.raises(Forbidden):
        decide_remove(case, review_setup)
    finish()

    assert not Decision.objects.filter(case=case).exists()


def test_a_four_eyes_report_filed_while_the_decision_waits_sends_it_to_second_review(
    review_setup, vendor, other_vendor
):
    four_eyes = factories.PolicyFactory(code="grooming", name="Grooming", requires_second_review=True)
    four_eyes.allowed_actions.set(review_setup.actions.values())

    def report(external_id, policy):
        subject = SubjectInput(kind="post", external_id="p-1", text="same text")
        return ReportInput(
            external_id=external_id, policy=policy, subject=subject, payload={}, reporter_id="u"
        )

    accept_reports(vendor=vendor, reports=[report("a-1", review_setup.policies["spam"])])
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(queue=review_setup.queue)
    case = factories.hold(case, review_setup.agent)

    # The same content again: intake files the report under the case's lock without a new case version.
    finish = while_holding_the_lock(
        lambda: accept_reports(vendor=other_vendor, reports=[report("b-1", four_eyes)])
    )
    decision = decide_remove(case, review_setup)
    finish()

    assert Report.objects.filter(case=case, policy=four_eyes).exists()
    assert decision.review_state == Decision.ReviewState.PENDING
    assert Case.objects.get(pk=case.pk).status == Case.Status.PENDING_CONFIRMATION
