"""Grouping a chunk at once (`cases.detection.campaign_batch.group_cases`) leaves exactly what grouping its
cases one by one (`campaigns.group_case`) leaves, in a number of statements that does not grow with the
chunk, and is what intake's enrichment chunks go through."""

import random

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cases import tasks
from cases.detection import campaigns, enrichment
from cases.detection.campaign_batch import group_cases
from cases.detection.enrichment import enrich_case
from cases.models import Campaign, CampaignMember, Case, Signal
from moderation.models import AuditEvent
from tests import factories
from tests.cases.test_campaigns import SPAM, UNRELATED, VARIANTS

pytestmark = pytest.mark.django_db

OTHER = "Win a brand new phone by clicking the link in my bio before midnight tonight friends"
THIRD = "Your account will be closed unless you verify your password at the secure portal this week"
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
]


@pytest.fixture
def make_case(review_setup):
    def make(text, author, **extra):
        return factories.OpenCaseFactory(
            queue=review_setup.queue,
            policy=review_setup.policies["spam"],
            subject__text=text,
            subject__author_id=author,
            **extra,
        )

    return make


def snapshot(case_ids):
    """What grouping left, named without database ids (a campaign by the case whose grouping founded it),
    so two runs that allocate different ids compare equal."""
    founded = {
        int(event.target_id): event.case_id for event in AuditEvent.objects.filter(verb="campaign.formed")
    }
    name = {pk: f"founded-by-{founded.get(pk)}" for pk in Campaign.objects.values_list("pk", flat=True)}
    return {
        "campaigns": sorted(
            (
                name[c.pk],
                c.kind,
                c.shared_key,
                c.status,
                c.member_count,
                c.is_restricted,
                name.get(c.merged_into_id),
            )
            for c in Campaign.objects.all()
        ),
        "members": sorted(
            (m.case_id, m.kind, name[m.campaign_id], round(m.jaccard or 0, 6), m.matched_key)
            for m in CampaignMember.objects.all()
        ),
        "sizes": sorted(
            Signal.objects.filter(label="campaign.size").values_list(
                "case_id", "dedupe_key", "value", "model"
            )
        ),
        "events": sorted(
            (e.verb, e.case_id, name[int(e.target_id)], tuple(sorted(k for k in e.data)), e.data.get("moved"))
            for e in AuditEvent.objects.filter(verb__startswith="campaign.")
        ),
        "grouped": sorted(case_ids),
    }


def one_by_one_then_batched(case_ids):
    """Both on the same starting state: one by one (rolled back), then the chunk at once (kept)."""
    with transaction.atomic():
        for case_id in case_ids:  # in the chunk's order
            with transaction.atomic():
                campaigns.group_case(Case.objects.select_related("subject").get(pk=case_id))
        expected = snapshot(case_ids)
        transaction.set_rollback(True)
    group_cases(case_ids)
    return expected, snapshot(case_ids)


def test_a_mixed_chunk_groups_as_one_by_one_joins_forms_within_the_chunk_and_merges(make_case, settings):
    settings.CAMPAIGN_MIN_JACCARD = 0.6
    older = [make_case(text, f"a{i}") for i, text in enumerate(VARIANTS[:3])]
    younger = [make_case(OTHER + suffix, f"b{i}") for i, suffix in enumerate(["", " ok", " yes"])]
    for case in [*older, *younger]:
        enrich_case(case_id=case.pk)
    Case.objects.filter(pk=older[0].pk).update(status=Case.Status.RESOLVED)
    assert Campaign.objects.filter(status="open").count() == 2

    settings.CAMPAIGN_MIN_JACCARD = 0.3  # near enough for the bridge to reach both campaigns
    chunk = [
        make_case(VARIANTS[3], "late"),  # joins the older campaign
        make_case(UNRELATED[0], "u0"),
        make_case(THIRD, "c0"),  # these three found a campaign inside the chunk
        make_case(THIRD + " today", "c1"),
        make_case(THIRD.replace("week", "weekend"), "c2", is_restricted=True),
        make_case("ok thanks", "short"),
        make_case(SPAM + " " + OTHER, "bridge"),  # merges the younger into the older
        make_case(OTHER + " again", "after-bridge"),  # joins the merged campaign
        make_case(THIRD + " now", "c3"),  # joins the campaign founded in this chunk
        older[1],  # re-grouped: already a member
        make_case(UNRELATED[1], "u1"),
    ]
    ids = [case.pk for case in chunk]

    expected, batched = one_by_one_then_batched(ids)

    assert batched == expected
    # ...and the chunk really did each of those things.
    assert AuditEvent.objects.filter(verb="campaign.merged", case_id=chunk[6].pk).count() == 1
    assert AuditEvent.objects.filter(verb="campaign.formed", case_id=chunk[4].pk).count() == 1
    third = CampaignMember.objects.get(case=chunk[8]).campaign
    assert third.member_count == 4 and third.is_restricted
    assert (
        CampaignMember.objects.get(case=chunk[7]).campaign
        == CampaignMember.objects.get(case=older[2]).campaign
    )


def test_a_random_stream_in_chunks_groups_as_one_by_one(make_case):
    rng = random.Random(5)
    templates = [" ".join(rng.choices(WORDS, k=14)) for _ in range(3)]
    cases = []
    for n in range(36):
        if rng.random() < 0.6:
            words = rng.choice(templates).split()
            words[rng.randrange(len(words))] = rng.choice(WORDS)
            text = " ".join(words)
        else:
            text = " ".join(rng.choices(WORDS, k=12))
        cases.append(make_case(text, f"author-{rng.randrange(8)}"))
    ids = [case.pk for case in cases]

    with transaction.atomic():
        for case_id in ids:
            with transaction.atomic():
                campaigns.group_case(Case.objects.select_related("subject").get(pk=case_id))
        expected = snapshot(ids)
        transaction.set_rollback(True)
    for start in range(0, len(ids), 10):
        group_cases(ids[start : start + 10])

    assert snapshot(ids) == expected
    assert Campaign.objects.filter(status="open").exists()


def _statements(make_case, size, seed):
    rng = random.Random(seed)
    base = [make_case(SPAM + f" {i}", f"seed-{seed}-{i}") for i in range(3)]
    group_cases([case.pk for case in base])
    chunk = []
    for n in range(size):
        if n % 2:
            text = SPAM + " " + rng.choice(WORDS)  # joins the campaign (its size doubles on the way)
        else:
            text = " ".join(rng.choices(WORDS, k=15)) + f" {seed} {n}"  # unique
        chunk.append(make_case(text, f"author-{seed}-{n}"))
    with CaptureQueriesContext(connection) as queries:
        group_cases([case.pk for case in chunk])
    return len(queries)


def test_a_chunk_costs_a_fixed_number_of_statements(make_case, django_assert_max_num_queries):
    small = _statements(make_case, 4, seed=1)
    Campaign.objects.all().delete()
    large = _statements(make_case, 40, seed=2)

    assert large == small
    chunk = [make_case(SPAM + f" again {n}", f"x{n}") for n in range(25)]
    with django_assert_max_num_queries(small):
        group_cases([case.pk for case in chunk])


def test_intakes_enrichment_chunk_groups_once_and_routes_each_case_on_its_size(make_case, monkeypatch):
    cases = [make_case(text, f"author-{i}") for i, text in enumerate(VARIANTS)]
    calls = []
    monkeypatch.setattr(
        enrichment, "group_case", lambda case: calls.append(case.pk) or campaigns.group_case(case)
    )

    tasks.enrich_cases.apply(args=([case.pk for case in cases],))

    assert calls == []  # not once per case: the chunk was grouped before
    sizes = dict(Signal.objects.filter(label="campaign.size").values_list("case_id", "value"))
    assert sizes == {case.pk: 4 for case in cases}
    assert all(Case.objects.get(pk=case.pk).routed_at is not None for case in cases)


def test_vectorised_signatures_are_datasketchs():
    """Stored fingerprints stay valid: the chunk's numpy MinHash equals datasketch's, byte for byte."""
    import zlib

    import numpy as np
    from datasketch import MinHash

    from cases.detection import near_duplicates

    texts = [
        *VARIANTS,
        *UNRELATED,
        "",
        "ok",
        "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440, \u043a\u0430\u043a \u0434\u0435\u043b\u0430 today",
        "x" * 5000,
        "a\u200bb c.d.e",
    ]
    for text, sketch in zip(texts, near_duplicates.sketches(texts), strict=True):
        reference = MinHash(
            num_perm=near_duplicates.NUM_PERM,
            permutations=near_duplicates._TEMPLATE.permutations,
            scheme="affine32",
            hashfunc=zlib.crc32,
        )
        grams = near_duplicates.shingles(text)
        if grams:
            reference.update_batch(grams)
        assert np.array_equal(sketch.signature, np.asarray(reference.hashvalues, dtype=np.uint32)), text
        assert sketch.band_hashes() == near_duplicates.band_hashes(reference.hashvalues.astype(np.uint32))
        assert sketch.shingles == len(grams)
