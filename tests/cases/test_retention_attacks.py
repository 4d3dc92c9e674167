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
