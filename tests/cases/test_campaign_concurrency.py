"""Two workers grouping two near-duplicates at the same moment make one campaign, not two (real row locks and
unique indexes: PostgreSQL)."""

import threading

import pytest
from django.db import connection, connections  # noqa: F401 - `connection` is read by the skipif

from cases.detection import campaigns
from cases.detection.enrichment import enrich_case
from cases.models import Campaign, CampaignMember
from tests import factories
from tests.cases.test_campaigns import VARIANTS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent writers need PostgreSQL"),
]


def test_two_workers_forming_the_same_campaign_meet_at_the_unique_index(review_setup, monkeypatch):
    first = [
        factories.OpenCaseFactory(queue=review_setup.queue, subject__text=text, subject__author_id=f"a{i}")
        for i, text in enumerate(VARIANTS[:2])
    ]
    for case in first:
        enrich_case(case_id=case.pk)
    racing = [
        factories.OpenCaseFactory(queue=review_setup.queue, subject__text=text, subject__author_id=f"b{i}")
        for i, text in enumerate(VARIANTS[2:4])
    ]
    # Both workers read the two free peers before either writes: each then tries to found a campaign with
    # them, and the second's member rows collide with the first's.
    barrier = threading.Barrier(2, timeout=10)
    real = campaigns._open_cases_of
    waited = set()
    calls = []

    def open_cases_then_wait(subject_ids):
        found = real(subject_ids)
        calls.append(threading.get_ident())
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            barrier.wait()
        return found

    monkeypatch.setattr(campaigns, "_open_cases_of", open_cases_then_wait)
    errors = []

    def worker(case_id):
        try:
            enrich_case(case_id=case_id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(case.pk,)) for case in racing]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert Campaign.objects.count() == 1
    campaign = Campaign.objects.get()
    assert set(CampaignMember.objects.values_list("case_id", flat=True)) == {c.pk for c in [*first, *racing]}
    assert campaign.member_count == 4
    # The loser really collided and grouped again (once more, on what the winner committed).
    assert len(calls) == 3
