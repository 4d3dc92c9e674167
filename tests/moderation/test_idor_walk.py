"""Every URL of the app that takes an object id, requested by a signed-in user (or vendor) without access to
that object, answers 404 or 403: nothing leaks through pages, HTMX fragments, exports or the API (IDOR).

The walk is built from the URLconf itself, so a new URL with an id is covered (or fails this test) without
anyone remembering to add it.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from cases.models import Appeal, Enforcement, Report, VendorCallback
from cases.services import review
from moderation.models import Action
from queues.models import QueueClearance
from tests import factories

pytestmark = pytest.mark.django_db

# Admin URLs are staff-only by Django's own checks; tested in tests/moderation/test_admin.py.
SKIP_PREFIXES = ("admin/",)


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def id_routes() -> list[str]:
    routes = [route for route in _walk(get_resolver().url_patterns) if "<int:" in route or "<slug:" in route]
    return [route for route in routes if not route.startswith(SKIP_PREFIXES)]


@pytest.fixture
def world(review_setup, vendor, api):
    """A restricted queue with a decided case (enforcement, report, appeal) that the outsider cannot see."""
    secret_queue = factories.QueueFactory(slug="child-safety", name="Child safety", is_restricted=True)
    insider = factories.UserFactory(username="insider")
    secret_queue.members.add(insider)
    QueueClearance.objects.create(queue=secret_queue, user=insider, reason="vetted")
    url = "https://media.example/secret.png"
    case = factories.OpenCaseFactory(
        queue=secret_queue, policy=review_setup.policies["child-safety"], subject__media_urls=[url]
    )
    factories.MediaFileFactory(url=url)
    report = factories.ReportFactory(case=case, vendor=vendor, reporter_id="r-1")
    vendor.callback_url, vendor.callback_secret = "https://vendor.example/outcomes", "c" * 40
    vendor.save()  # a party with a callback: the decision also makes a vendor callback
    remove = review_setup.actions["remove"]
    assert remove.kind == Action.Kind.REMOVE
    factories.hold(case, insider)
    decision = review.record_decision(
        case_id=case.pk,
        user=insider,
        policy_id=case.policy_id,
        action_id=remove.pk,
        expected_version=case.version,
    )
    enforcement = Enforcement.objects.get(decision=decision)
    callback = VendorCallback.objects.get(decision=decision)
    from cases.services.appeals import file_appeal

    appeal = file_appeal(vendor=vendor, external_id="ap-1", decision_id=decision.pk, statement="no").appeal
    # A campaign whose only member is the secret case: its page must not exist for the outsider either.
    from django.utils import timezone

    from cases.models import Campaign, CampaignMember

    now = timezone.now()
    campaign = Campaign.objects.create(
        kind=Campaign.Kind.SHARED_DOMAIN, shared_key="secret.test", first_seen_at=now, last_grown_at=now
    )
    CampaignMember.objects.create(
        campaign=campaign, kind=campaign.kind, case=case, subject=case.subject, joined_at=now
    )
    # A legal hold on the secret case: releasing it by id must not work for the outsider either.
    from cases.models import LegalHold

    hold = LegalHold.objects.create(case=case, reason="litigation", placed_by=insider, placed_at=now)
    # A saved view on the secret queue and the secret subject's content version: removing the view, and the
    # subject's timeline and version pages, must not work for the outsider either.
    from cases.models import SubjectVersion
    from queues.models import SavedView

    view = SavedView.objects.create(queue=secret_queue, name="secret view", querystring="sla=late")
    SubjectVersion.objects.get_or_create(subject=case.subject, version=1, defaults={"content_hash": "h"})
    return {
        "view_id": view.pk,
        "subject_id": case.subject_id,
        "number": 1,
        "hold_id": hold.pk,
        "case_id": case.pk,
        "report_id": report.pk,
        "enforcement_id": enforcement.pk,
        "callback_id": callback.pk,
        "appeal_id": appeal.pk,
        "index": 0,
        "slug": secret_queue.slug,
        "appeal_case_id": appeal.appeal_case_id,
        "campaign_id": campaign.pk,
        "statement_id": decision.statement.pk,  # the DSA statement of reasons of the restricted removal
        # /me/waiting/<kind> names a list, not a case: its restricted-case filtering is tested with the badges
        "kind": "no-such-list",
    }


def fill(route: str, world: dict) -> str:
    def value(match):
        name = match.group(2)
        return str(world[name])

    return "/" + re.sub(r"<(int|slug):(\w+)>", value, route)


def test_the_walk_covers_the_id_urls_we_know_of():
    routes = id_routes()

    assert any("cases/<int:case_id>/decide" in route for route in routes)
    assert any("api/v1/appeals/<int:appeal_id>" in route for route in routes)
    assert any("queues/<slug:slug>/" in route for route in routes)
    assert len(routes) >= 20


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_signed_in_agent_gets_nothing_from_any_id_url_of_a_case_they_cannot_see(world, method):
    outsider = factories.UserFactory(username="outsider")
    factories.QueueFactory(slug="elsewhere").members.add(outsider)
    browser = Client()
    browser.force_login(outsider)
    before = {
        "decisions": world["case_id"],
        "appeal_state": Appeal.objects.get(pk=world["appeal_id"]).state,
        "reports": Report.objects.count(),
    }

    leaks = []
    for route in id_routes():
        if route.startswith("api/"):
            continue  # vendor API: below
        url = fill(route, world)
        response = getattr(browser, method)(url, HTTP_HX_REQUEST="true", HTTP_SEC_FETCH_SITE="same-origin")
        if response.status_code not in (403, 404, 405):
            leaks.append((method, url, response.status_code))

    assert leaks == []
    assert Appeal.objects.get(pk=world["appeal_id"]).state == before["appeal_state"]
    assert Report.objects.count() == before["reports"]


def test_another_vendor_gets_nothing_from_any_api_id_url(world, other_api):
    leaks = []
    for route in id_routes():
        if not route.startswith("api/"):
            continue
        url = fill(route, world)
        response = other_api.get(url)
        if response.status_code not in (403, 404, 405):
            leaks.append((url, response.status_code))

    assert leaks == []


def test_the_insider_reaches_the_same_urls(world):
    """The walk is honest: with access, the same pages answer (so the 404s above are about access)."""
    from django.contrib.auth.models import User

    browser = Client()
    browser.force_login(User.objects.get(username="insider"))

    assert browser.get(f"/cases/{world['case_id']}/").status_code == 200
    assert browser.get(f"/queues/{world['slug']}/").status_code == 200
    assert browser.get(f"/cases/{world['case_id']}/media/0").status_code == 200
    assert browser.get(f"/cases/campaigns/{world['campaign_id']}/").status_code == 200
    assert browser.get(f"/cases/subjects/{world['subject_id']}/").status_code == 200
    assert browser.get(f"/cases/subjects/{world['subject_id']}/versions/1").status_code == 200
