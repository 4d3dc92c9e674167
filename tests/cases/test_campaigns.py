"""Campaigns (`cases.detection.campaigns`): near-duplicate texts, shared link hosts and shared media group open
cases, through the enrichment step every case goes through."""

import pytest

from cases.detection import campaigns, near_duplicates
from cases.detection.enrichment import enrich_case
from cases.models import Campaign, CampaignMember, Case, Signal, TextFingerprint
from moderation.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

SPAM = "Get free crypto now at the golden wallet giveaway, only today for the first hundred people"
VARIANTS = [
    SPAM,
    # a word changed and one added
    "Get free crypto now at the golden wallet giveaway, only today for the first thousand lucky people",
    # homoglyphs (Cyrillic o and e) and zero-width characters
    "G\u0435t fr\u0435\u0435 crypt\u043e n\u200bow at the g\u043elden wallet giv\u0435away, only t\u200coday for the first hundred p\u0435ople",
    # leet, separators and stretched letters
    "G3t fr33 crypto nowww at the g.o.l.d.e.n wallet giveaway, only today for the first hundred people!!!",
]
UNRELATED = [
    "The council meeting on Thursday will discuss the new bicycle lanes along the river road",
    "My cat knocked the plant off the windowsill again and now there is soil everywhere",
    "Does anyone know a good recipe for lentil soup that does not take three hours to cook",
]


@pytest.fixture
def make_case(review_setup):
    def make(text="", author="author-1", url="", media_urls=(), **extra):
        return factories.OpenCaseFactory(
            queue=review_setup.queue,
            policy=review_setup.policies["spam"],
            subject__text=text,
            subject__author_id=author,
            subject__url=url,
            subject__media_urls=list(media_urls),
            **extra,
        )

    return make


def enrich(case):
    enrich_case(case_id=case.pk)
    return case


def campaign_of(case, kind=Campaign.Kind.NEAR_DUPLICATE_TEXT):
    member = CampaignMember.objects.filter(case=case, kind=kind).select_related("campaign").first()
    return member.campaign if member else None


def test_near_duplicates_with_word_changes_and_evasions_join_one_campaign(make_case):
    cases = [enrich(make_case(text, author=f"author-{i}")) for i, text in enumerate(VARIANTS)]

    found = {campaign_of(case) for case in cases}
    assert len(found) == 1 and None not in found
    campaign = found.pop()
    assert campaign.member_count == 4
    assert campaign.kind == Campaign.Kind.NEAR_DUPLICATE_TEXT
    jaccards = list(CampaignMember.objects.filter(campaign=campaign).values_list("jaccard", flat=True))
    assert all(value is not None and value >= 0.6 for value in jaccards)
    assert AuditEvent.objects.filter(verb="campaign.formed", target_id=str(campaign.pk)).count() == 1


def test_each_evasion_alone_still_matches_the_plain_text():
    plain = near_duplicates.sketch(SPAM).signature
    for variant in VARIANTS[1:]:
        assert near_duplicates.estimated_jaccard(plain, near_duplicates.sketch(variant).signature) >= 0.6


def test_unrelated_texts_do_not_form_a_campaign(make_case):
    cases = [enrich(make_case(text, author=f"author-{i}")) for i, text in enumerate(UNRELATED)]
    cases.append(enrich(make_case(SPAM, author="author-x")))

    assert not CampaignMember.objects.exists()
    assert not Campaign.objects.exists()
    assert all(campaign_of(case) is None for case in cases)


def test_two_near_duplicates_are_not_yet_a_campaign(make_case):
    enrich(make_case(VARIANTS[0], author="a"))
    enrich(make_case(VARIANTS[1], author="b"))

    assert not Campaign.objects.exists()


def test_short_texts_are_not_clustered(make_case):
    for i in range(5):
        enrich(make_case("ok thanks", author=f"author-{i}"))

    assert not Campaign.objects.exists()
    assert not TextFingerprint.objects.exists()  # not even indexed


def test_one_author_alone_does_not_form_a_campaign(make_case):
    for text in VARIANTS:
        enrich(make_case(text, author="spammer"))

    assert not Campaign.objects.exists()


def test_a_later_near_duplicate_joins_the_campaign_and_everyone_gets_its_size(make_case):
    first = [enrich(make_case(text, author=f"author-{i}")) for i, text in enumerate(VARIANTS[:3])]
    late = enrich(make_case(VARIANTS[3], author="late"))

    campaign = campaign_of(late)
    assert campaign == campaign_of(first[0])
    sizes = dict(
        Signal.objects.filter(label="campaign.size", source_name="campaigns").values_list("case_id", "value")
    )
    assert sizes == {case.pk: 4 for case in [*first, late]}


def test_enriching_again_changes_nothing(make_case):
    cases = [enrich(make_case(text, author=f"author-{i}")) for i, text in enumerate(VARIANTS[:3])]
    enrich(cases[0])
    enrich(cases[1])

    assert CampaignMember.objects.count() == 3
    assert Campaign.objects.get().member_count == 3
    assert Signal.objects.filter(label="campaign.size").count() == 3


def test_a_case_bridging_two_campaigns_merges_the_younger_into_the_older(make_case, settings):
    settings.CAMPAIGN_MIN_JACCARD = 0.6
    other = "Win a brand new phone by clicking the link in my bio before midnight tonight friends"
    older = [enrich(make_case(text, author=f"a{i}")) for i, text in enumerate(VARIANTS[:3])]
    younger = [
        enrich(make_case(other + suffix, author=f"b{i}")) for i, suffix in enumerate(["", " ok", " yes"])
    ]
    assert campaign_of(older[0]) != campaign_of(younger[0])
    older_campaign = campaign_of(older[0])
    younger_campaign = campaign_of(younger[0])

    # A text made of both: near enough to each (the threshold is lowered for the bridge only).
    settings.CAMPAIGN_MIN_JACCARD = 0.3
    bridge = enrich(make_case(SPAM + " " + other, author="bridge"))

    assert campaign_of(bridge) == older_campaign
    assert {campaign_of(case) for case in [*older, *younger]} == {older_campaign}
    younger_campaign.refresh_from_db()
    assert younger_campaign.status == Campaign.Status.CLOSED
    assert younger_campaign.merged_into == older_campaign
    older_campaign.refresh_from_db()
    assert older_campaign.member_count == 7
    merged = AuditEvent.objects.get(verb="campaign.merged")
    assert merged.data["merged"] == younger_campaign.pk and merged.case_id == bridge.pk


def test_members_that_resolve_stay_listed(make_case):
    cases = [enrich(make_case(text, author=f"author-{i}")) for i, text in enumerate(VARIANTS[:3])]
    Case.objects.filter(pk=cases[0].pk).update(status=Case.Status.RESOLVED)

    late = enrich(make_case(VARIANTS[3], author="late"))

    campaign = campaign_of(late)
    assert set(campaign.members.values_list("case_id", flat=True)) == {case.pk for case in [*cases, late]}


def test_resolved_cases_do_not_found_a_campaign(make_case):
    cases = [enrich(make_case(text, author=f"author-{i}")) for i, text in enumerate(VARIANTS[:2])]
    Case.objects.filter(pk=cases[0].pk).update(status=Case.Status.RESOLVED)

    enrich(make_case(VARIANTS[2], author="third"))

    assert not Campaign.objects.exists()


# --- shared link hosts -------------------------------------------------------------------------------------


def test_a_host_shared_by_two_authors_forms_one_campaign(make_case):
    cases = [
        enrich(make_case("totally unrelated words here https://promo.evil-deals.test/a?x=1", author="a")),
        enrich(make_case("look at https://www.promo.evil-deals.test/b", author="b")),
        enrich(make_case("hello https://user@promo.evil-deals.test/c", author="b")),
    ]

    found = {campaign_of(case, Campaign.Kind.SHARED_DOMAIN) for case in cases}
    assert len(found) == 1 and None not in found
    campaign = found.pop()
    assert campaign.shared_key == "promo.evil-deals.test"
    assert campaign.member_count == 3


def test_the_subjects_own_address_is_not_a_shared_link(make_case):
    """Every post's permalink is on the platform's host: that makes no campaign."""
    cases = [
        enrich(make_case(f"nothing alike {n}", author=f"a{n}", url=f"https://platform.test/p/{n}"))
        for n in range(4)
    ]

    assert {campaign_of(case, Campaign.Kind.SHARED_DOMAIN) for case in cases} == {None}


def test_the_userinfo_trick_groups_on_the_real_host(make_case):
    for i in range(3):
        enrich(make_case(f"bank login https://bank.example.com@phish.test/login {i}", author=f"a{i}"))

    assert Campaign.objects.get(kind=Campaign.Kind.SHARED_DOMAIN).shared_key == "phish.test"


def test_a_common_host_never_forms_a_campaign(make_case, settings):
    settings.CAMPAIGN_PLATFORM_HOSTS = ["ourplatform.test"]
    for i in range(4):
        enrich(make_case(f"watch https://m.youtube.com/watch?v={i}", author=f"a{i}"))
        enrich(make_case(f"see https://ourplatform.test/post/{i}", author=f"b{i}"))

    assert not Campaign.objects.filter(kind=Campaign.Kind.SHARED_DOMAIN).exists()


def test_one_author_sharing_a_host_is_not_a_campaign(make_case):
    for i in range(4):
        enrich(make_case(f"buy at https://shop.spam.test/{i}", author="same"))

    assert not Campaign.objects.exists()


# --- shared media ------------------------------------------------------------------------------------------


def test_the_same_picture_under_different_urls_forms_a_media_campaign(make_case):
    picture = factories.png_bytes(3, 3, (10, 200, 10))
    other = factories.png_bytes(3, 3, (200, 10, 10))
    cases = []
    for i in range(3):
        url = f"https://cdn-{i}.test/p.png"
        factories.MediaFileFactory(url=url, content=picture, sha256=_sha(picture))
        cases.append(make_case("pic", author=f"a{i}", media_urls=[url]))
    factories.MediaFileFactory(url="https://cdn-x.test/o.png", content=other, sha256=_sha(other))
    unrelated = make_case("pic", author="z", media_urls=["https://cdn-x.test/o.png"])

    campaigns.group_cases_media([case.pk for case in [*cases, unrelated]])

    found = {campaign_of(case, Campaign.Kind.SHARED_MEDIA) for case in cases}
    assert len(found) == 1 and None not in found
    assert found.pop().shared_key == _sha(picture)
    assert campaign_of(unrelated, Campaign.Kind.SHARED_MEDIA) is None


def test_fetching_media_groups_the_cases(make_case, monkeypatch):
    """The media task groups after storing copies (here the copies are already stored: nothing to fetch)."""
    from cases import tasks

    picture = factories.png_bytes(2, 3, (1, 2, 3))
    cases = []
    for i in range(3):
        url = f"https://img-{i}.test/p.png"
        factories.MediaFileFactory(url=url, content=picture, sha256=_sha(picture))
        cases.append(make_case("pic", author=f"a{i}", media_urls=[url]))

    tasks.fetch_case_media.apply(args=([case.pk for case in cases],))

    assert Campaign.objects.get(kind=Campaign.Kind.SHARED_MEDIA).member_count == 3


def test_a_restricted_member_makes_the_campaign_restricted(make_case):
    cases = [enrich(make_case(text, author=f"author-{i}")) for i, text in enumerate(VARIANTS[:2])]
    hidden = make_case(VARIANTS[2], author="hidden", is_restricted=True)
    enrich(hidden)

    assert campaign_of(hidden).is_restricted
    assert campaign_of(cases[0]) == campaign_of(hidden)


def _sha(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()


def test_a_members_size_signal_is_brought_up_to_date_before_it_is_routed_again(make_case):
    fifth = VARIANTS[0] + " and more"
    cases = [enrich(make_case(text, author=f"author-{i}")) for i, text in enumerate([*VARIANTS, fifth])]

    def size(case):
        return Signal.objects.get(case=case, label="campaign.size").value

    # Four members: a doubling, so everyone was told 4; the fifth joined without rewriting the others.
    assert [size(case) for case in cases] == [4, 4, 4, 4, 5]
    enrich(cases[0])  # a new report on it: enrichment groups it again before routing
    assert size(cases[0]) == 5
    assert Campaign.objects.get().member_count == 5
