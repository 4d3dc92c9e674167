"""Retention on the case page and the command line: the purge marker, the leads' legal-hold panel, the dry run."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone

from cases.models import Case, LegalHold, Subject, SubjectVersion
from cases.services.retention import purge_expired_content
from moderation.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

TEXT = "hostile words here"
# The case page's own bound (tests/cases/test_review_page.py) plus the leads' holds query.
PURGED_PAGE_MAX_QUERIES = 32


@pytest.fixture
def purged_case(review_setup):
    policy = review_setup.policies["spam"]
    policy.retention_days = 30
    policy.save()
    subject = factories.SubjectFactory(text=TEXT, url="https://platform.example/p/9")
    SubjectVersion.objects.create(subject=subject, version=1, content_hash="h", text=TEXT, url=subject.url)
    case = factories.CaseFactory(
        subject=subject,
        policy=policy,
        queue=review_setup.queue,
        status=Case.Status.RESOLVED,
        resolved_at=timezone.now() - timedelta(days=31),
    )
    factories.ReportFactory(case=case, comment="the reporter's words")
    factories.DecisionFactory(case=case, policy=policy, action=review_setup.actions["remove"])
    assert len(purge_expired_content(now=timezone.now(), batch_size=10, max_batches=1)) == 1
    return case


@pytest.fixture
def lead_client(client, review_setup):
    lead = factories.UserFactory(username="lena")
    lead.user_permissions.add(Permission.objects.get(codename="place_legal_hold"))
    review_setup.queue.members.add(lead)
    client.force_login(lead)
    return client


def test_the_case_page_shows_the_purge_marker_instead_of_the_content(
    purged_case, agent_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(PURGED_PAGE_MAX_QUERIES):
        response = agent_client.get(f"/cases/{purged_case.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="content-purged"' in html
    assert "Content purged</strong> on " + timezone.now().strftime("%Y-%m-%d") in html
    assert "under Spam retention (30 days after resolution)" in html
    assert TEXT not in html and "the reporter&#x27;s words" not in html
    assert 'id="legal-holds"' not in html  # agents do not see the leads' panel


def test_an_older_purged_version_is_marked_in_the_versions_list(purged_case, agent_client):
    # A report that carried another version: both are purged and both say so.
    SubjectVersion.objects.create(
        subject=purged_case.subject, version=2, content_hash="h2", text="", purged_at=timezone.now()
    )
    factories.ReportFactory(case=purged_case, subject_version=2)

    html = agent_client.get(f"/cases/{purged_case.pk}/").content.decode()

    assert "Content purged on " in html and 'class="empty purged"' in html


def test_a_lead_places_and_releases_a_legal_hold_from_the_case_page(review_setup, lead_client):
    case = factories.CaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])

    page = lead_client.get(f"/cases/{case.pk}/").content.decode()
    assert 'id="legal-holds"' in page

    refused = lead_client.post(f"/cases/{case.pk}/legal-holds", {"on": "case", "reason": " "}, follow=True)
    assert "Say why" in refused.content.decode() and not LegalHold.objects.exists()

    lead_client.post(f"/cases/{case.pk}/legal-holds", {"on": "subject", "reason": "<b>LE-7</b>"})
    hold = LegalHold.objects.get()
    assert hold.subject_id == case.subject_id and hold.case_id is None
    page = lead_client.get(f"/cases/{case.pk}/").content.decode()
    assert "&lt;b&gt;LE-7&lt;/b&gt;" in page and "<b>LE-7</b>" not in page  # the reason is escaped

    response = lead_client.post(f"/cases/{case.pk}/legal-holds/{hold.pk}/release", {"reason": "closed"})
    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.released_at is not None
    events = AuditEvent.objects.filter(verb__startswith="legal_hold.").order_by("id")
    assert list(events.values_list("verb", flat=True)) == [
        "legal_hold.placed",
        "legal_hold.released",
    ]


def test_an_agent_cannot_place_a_legal_hold(review_setup, agent_client):
    case = factories.CaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])

    response = agent_client.post(f"/cases/{case.pk}/legal-holds", {"on": "case", "reason": "mine"})

    assert response.status_code == 403 and not LegalHold.objects.exists()


def test_a_restricted_case_is_not_found_for_a_lead_without_clearance(review_setup, lead_client):
    case = factories.CaseFactory(
        queue=review_setup.queue, policy=review_setup.policies["spam"], is_restricted=True
    )

    response = lead_client.post(f"/cases/{case.pk}/legal-holds", {"on": "case", "reason": "x"})

    assert response.status_code == 404 and not LegalHold.objects.exists()


def test_the_command_dry_run_lists_what_it_would_purge_and_changes_nothing(review_setup):
    policy = review_setup.policies["spam"]
    policy.retention_days = 7
    policy.save()
    case = factories.CaseFactory(
        policy=policy, status=Case.Status.RESOLVED, resolved_at=timezone.now() - timedelta(days=8)
    )
    factories.ReportFactory(case=case, comment="c")
    out = StringIO()

    call_command("purge_expired_content", "--dry-run", stdout=out)

    printed = out.getvalue()
    assert f"would purge subject {case.subject_id} ({case.subject})" in printed
    assert f"cases {case.pk}; policies {policy.code}; 0 versions, 0 media, 1 reports" in printed
    assert "1 subjects would be purged" in printed
    assert "hello" not in printed  # never the content itself
    assert Subject.objects.get(pk=case.subject_id).text == "hello"
    assert not AuditEvent.objects.filter(verb="content.purged").exists()

    out = StringIO()
    call_command("purge_expired_content", stdout=out)
    assert "1 subjects purged." in out.getvalue()
    assert Subject.objects.get(pk=case.subject_id).text == ""
