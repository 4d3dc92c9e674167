"""The case page's Velocity panel: every counter in plain words, and no count that hints at a restricted case
the viewer may not see."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.counters import COUNTERS
from cases.models import Report
from queues.models import QueueClearance
from tests import factories

pytestmark = pytest.mark.django_db


def reported(author, queue, *, times, restricted=False, vendor=None):
    vendor = vendor or factories.VendorFactory()
    subject = factories.SubjectFactory(author_id=author, is_restricted=restricted)
    case = factories.OpenCaseFactory(queue=queue, subject=subject, is_restricted=restricted)
    for n, when in enumerate(times):
        row = factories.ReportFactory(case=case, vendor=vendor, reporter_id=f"u{n}")
        Report.objects.filter(pk=row.pk).update(received_at=when)
    return case


def panel_values(html: str) -> dict[str, str]:
    section = html[html.index('id="velocity"') :]
    section = section[: section.index("</section>")]
    return dict(re.findall(r'<th scope="row">([^<]+)</th><td>([^<]+)</td>', section))


def test_the_panel_shows_every_counter_in_plain_words(agent_client, review_setup):
    now = timezone.now()
    vendor = factories.VendorFactory()
    times = [now - timedelta(minutes=5), now - timedelta(hours=2)]
    case = reported("loud", review_setup.queue, times=times, vendor=vendor)
    reported("loud", review_setup.queue, times=[now - timedelta(minutes=30)], vendor=vendor)

    values = panel_values(agent_client.get(f"/cases/{case.pk}/").content.decode())

    assert list(values) == [counter.label.replace("'", "&#x27;") for counter in COUNTERS]
    assert values["Reports on this author, last 24 h"] == "3"
    assert values["Reports on this author, last hour"] == "2"
    assert values["Reports on this content, last hour"] == "1"
    assert values["People reporting this author, last 24 h"] == "2"  # u0 and u1 (the second case's u0 again)


def test_an_uncleared_agent_sees_no_count_from_a_restricted_case(agent_client, review_setup):
    now = timezone.now()
    case = reported("mixed", review_setup.queue, times=[now - timedelta(minutes=5)])
    secret = factories.QueueFactory(slug="child-safety", is_restricted=True)
    reported("mixed", secret, times=[now - timedelta(minutes=n + 1) for n in range(4)], restricted=True)

    agent_view = panel_values(agent_client.get(f"/cases/{case.pk}/").content.decode())

    assert agent_view["Reports on this author, last 24 h"] == "1"
    assert agent_view["This author&#x27;s newly reported content, last 24 h"] == "1"

    # Someone cleared for restricted content sees the author's whole rate.
    insider = factories.UserFactory(username="insider")
    review_setup.queue.members.add(insider)
    secret.members.add(insider)
    QueueClearance.objects.create(queue=secret, user=insider, reason="vetted")
    agent_client.force_login(insider)
    insider_view = panel_values(agent_client.get(f"/cases/{case.pk}/").content.decode())

    assert insider_view["Reports on this author, last 24 h"] == "5"
    assert insider_view["This author&#x27;s newly reported content, last 24 h"] == "2"
