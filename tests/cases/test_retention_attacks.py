"""Attacks on retention (issue 16): content that would survive a purge somewhere it is copied to."""

import json

import pytest

from cases.selectors import media_url_hash
from cases.services import review
from moderation.models import AuditEvent
from tests import factories
from tests.cases.test_retention import purge, resolved_case

pytestmark = pytest.mark.django_db

SECRET_URL = "https://media.example/abuse-1234.jpg"


@pytest.fixture
def spam():
    return factories.PolicyFactory(code="spam-30", name="Spam", retention_days=30)


def test_a_revealed_media_url_is_not_kept_in_the_append_only_audit_log_past_the_purge(spam):
    case = resolved_case(spam, days_ago=31, media=(SECRET_URL,))
    admin = factories.UserFactory(username="root", is_superuser=True)
    review.reveal_media(case_id=case.pk, user=admin, index=0)

    assert [item.subject_id for item in purge()] == [case.subject_id]

    kept = [json.dumps(data) for data in AuditEvent.objects.values_list("data", flat=True)]
    assert not [data for data in kept if "abuse-1234" in data]
    # Who saw which item is still answerable: the index and the URL's hash (the media copy's key).
    event = AuditEvent.objects.get(verb="media.revealed")
    assert event.data == {"index": 0, "url_sha256": media_url_hash(SECRET_URL)}


@pytest.fixture
def shared_subject(review_setup):
    """One subject with a case in the lead's open queue and one in child safety, which she is a member of
    but not cleared for; a cleared lead has put the child-safety case on legal hold."""
    from django.contrib.auth.models import Permission

    from cases.models import LegalHold

    subject = factories.SubjectFactory(text="words")
    visible = factories.CaseFactory(subject=subject, queue=review_setup.queue)
    csam = factories.QueueFactory(slug="child-safety", name="Child safety", is_restricted=True)
    hidden = factories.CaseFactory(subject=subject, queue=csam, is_restricted=True, status="resolved")
    lead = factories.UserFactory(username="lena")
    lead.user_permissions.add(Permission.objects.get(codename="place_legal_hold"))
    lead.user_permissions.add(Permission.objects.get(codename="view_case"))
    review_setup.queue.members.add(lead)
    csam.members.add(lead)
    cleared = factories.UserFactory(username="clara")
    hold = LegalHold.objects.create(
        case=hidden, reason="NCMEC CyberTipline 5551234", placed_by=cleared, placed_at=hidden.opened_at
    )
    return visible, hidden, hold, lead


def test_an_uncleared_lead_does_not_see_a_hold_on_a_restricted_case_of_the_same_subject(
    client, shared_subject
):
    visible, hidden, hold, lead = shared_subject
    client.force_login(lead)

    html = client.get(f"/cases/{visible.pk}/").content.decode()

    assert "NCMEC" not in html
    assert f"legal-hold-{hold.pk}" not in html
    assert f"#{hidden.pk}" not in html


def test_an_uncleared_lead_cannot_release_a_hold_on_a_restricted_case_through_a_case_she_sees(
    client, shared_subject
):
    visible, _hidden, hold, lead = shared_subject
    client.force_login(lead)

    response = client.post(f"/cases/{visible.pk}/legal-holds/{hold.pk}/release", {"reason": "tidy up"})

    assert response.status_code == 404
    hold.refresh_from_db()
    assert hold.released_at is None
    assert not AuditEvent.objects.filter(verb="legal_hold.released").exists()
