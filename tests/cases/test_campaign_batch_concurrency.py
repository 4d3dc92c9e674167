"""Two workers grouping chunks at the same moment (`campaign_batch.group_cases`) make one campaign, not two,
and keep its count exact (real row locks and unique indexes: PostgreSQL)."""

import threading

import pytest
from django.db import connection, connections  # noqa: F401 - `connection` is read by the skipif

from cases.detection import campaign_sql
from cases.detection.campaign_batch import group_cases
from cases.models import Campaign, CampaignMember, Signal
from tests import factories
from tests.cases.test_campaigns import UNRELATED, VARIANTS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="concurrent writers need PostgreSQL"),
]


def _run_together(chunks):
    errors = []

    def worker(ids):
        try:
            group_cases(ids)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(ids,)) for ids in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


def _cases(review_setup, texts, prefix):
    return [
        factories.OpenCaseFactory(
            queue=review_setup.queue, subject__text=text, subject__author_id=f"{prefix}{i}"
        )
        for i, text in enumerate(texts)
    ]


def test_two_chunks_founding_the_same_campaign_meet_at_the_unique_index(review_setup, monkeypatch):
    first = _cases(review_setup, VARIANTS[:2], "a")
    group_cases([case.pk for case in first])  # indexed; two are not yet a campaign
    racing = _cases(review_setup, VARIANTS[2:4], "b")
    unique = _cases(review_setup, UNRELATED[:2], "u")
    # Both workers read the two free peers before either writes: each then founds a campaign with them,
    # and the second's member rows collide with the first's.
    barrier = threading.Barrier(2, timeout=10)
    real = campaign_sql.open_cases
    calls = []

    def open_cases_then_wait(subject_ids, limit):
        found = real(subject_ids, limit)
        calls.append(threading.get_ident())
        if calls.count(threading.get_ident()) == 1:
            barrier.wait()
        return found

    monkeypatch.setattr(campaign_sql, "open_cases", open_cases_then_wait)

    _run_together([[racing[0].pk, unique[0].pk], [racing[1].pk, unique[1].pk]])

    campaign = Campaign.objects.get()
    assert set(CampaignMember.objects.values_list("case_id", flat=True)) == {c.pk for c in [*first, *racing]}
    assert campaign.member_count == 4
    assert set(Signal.objects.filter(label="campaign.size").values_list("value", flat=True)) <= {3, 4}
    assert len(calls) == 3  # the loser collided and replayed its chunk once, on what the winner committed


def test_overlapping_chunks_leave_one_campaign_with_an_exact_count(review_setup):
    cases = _cases(review_setup, [*VARIANTS, VARIANTS[0] + " and more", VARIANTS[1] + " too"], "c")
    ids = [case.pk for case in cases]

    _run_together([ids[:4], ids[2:]])

    campaign = Campaign.objects.get(status=Campaign.Status.OPEN)
    assert CampaignMember.objects.filter(campaign=campaign).count() == campaign.member_count == len(cases)
