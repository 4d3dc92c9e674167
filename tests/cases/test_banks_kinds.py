"""Each bank kind: a hit, and the near miss next to it. Matched through the spot-test preview
(`bank_hits_for`), which uses the same compiled matchers as enrichment and writes nothing."""

import hashlib

import pytest

from cases.demo import png_bytes
from cases.detection.bank_hits import bank_hits_for, media_hashes_of
from cases.models import Signal
from tests.banks import bank_of, hit_values

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reload_every_time(settings):
    settings.BANK_RELOAD_SECONDS = 0


# --- keywords and phrases ---------------------------------------------------------------------------------


def test_a_keyword_hits_as_a_whole_word_never_inside_a_longer_one():
    bank_of("insults", "keyword", ["ass"])

    assert hit_values("what an ass!") == {"ass"}
    assert hit_values("ASS.") == {"ass"}
    assert hit_values("a first class passage, assets and bass") == set()


def test_a_phrase_matches_across_line_breaks_and_runs_of_spaces():
    bank_of("threats", "keyword", ["i know where you live"])

    assert hit_values("I know\n where   you\tlive.") == {"i know where you live"}
    assert hit_values("I know where you lived") == set()
    assert hit_values("i know where live") == set()


def test_a_hit_carries_its_evidence():
    bank = bank_of("threats", "keyword", ["kill"])

    (draft,) = bank_hits_for("I will k.i.l.l you")

    assert draft.source == Signal.Source.BANK == "bank"
    assert draft.source_name == "threats" and draft.label == "bank:threats"
    assert draft.score == 1.0 and draft.model == "bank" and draft.model_version == str(bank.revision)
    assert draft.value["entry_value"] == "kill" and draft.value["entry_label"] == "test"
    assert draft.value["matched"] == "kill" and draft.value["kind"] == "keyword"
    assert "separators" in draft.value["normalisations"]


def test_a_text_full_of_terms_makes_a_bounded_number_of_hits():
    terms = [f"term{index}x" for index in range(200)]
    bank_of("spam", "keyword", terms, normalisations=["case"])

    assert len(bank_hits_for(" ".join(terms))) == 25


def test_an_inactive_bank_matches_nothing():
    from cases.services.banks import update_bank

    bank = bank_of("insults", "keyword", ["ass"])
    update_bank(bank=bank, is_active=False, via="test")

    assert hit_values("ass") == set()


# --- regular expressions ------------------------------------------------------------------------------------


def test_regexes_match_in_one_pass_and_name_the_pattern_that_fired():
    bank_of("scams", "regex", [r"free\s+bitcoin", r"\bwire \$?\d{3,} (usd|eur)\b", r"whats?app \+\d{6,}"])

    (draft,) = bank_hits_for("Get FREE   Bitcoin now")
    assert draft.value["entry_value"] == r"free\s+bitcoin"
    assert draft.value["matched"] == "free bitcoin"  # matched in the normalised form
    assert hit_values("please wire $5000 usd today") == {r"\bwire \$?\d{3,} (usd|eur)\b"}
    assert hit_values("free coins, wire 50 usd") == set()


def test_a_regex_sees_through_the_banks_tricks():
    bank_of("scams", "regex", [r"free bitcoin"])  # regex default: invisible, nfkc, confusables, case

    assert hit_values("ｆｒｅｅ Вitcоin") == {"free bitcoin"}  # fullwidth, Cyrillic В and о


def test_catastrophic_patterns_run_in_linear_time():
    bank_of("redos", "regex", [r"(a+)+$"], normalisations=[])

    assert hit_values("a" * 50_000 + "!") == set()  # backtracking engines take years; RE2 is linear
    assert hit_values("aaaa") == {r"(a+)+$"}


def test_a_raw_regex_bank_matches_the_text_as_written():
    bank_of("exact", "regex", [r"K1ll"], normalisations=[])

    assert hit_values("K1ll") == {"K1ll"}
    assert hit_values("k1ll") == set()


# --- domains --------------------------------------------------------------------------------------------------


@pytest.fixture
def domains(db):
    return bank_of("phishing", "domain", ["evil.com", "https://Bücher.example/login", "user@spam.org"])


def test_a_domain_hits_itself_and_every_subdomain(domains):
    assert hit_values("go to https://evil.com/x") == {"evil.com"}
    assert hit_values("go to https://a.b.EVIL.com./x") == {"evil.com"}
    assert hit_values("see login.evil.com today") == {"evil.com"}


def test_a_lookalike_suffix_or_another_tld_is_not_the_domain(domains):
    assert hit_values("https://notevil.com/ http://evil.com.example.net/ evil.co") == set()


def test_userinfo_tricks_resolve_to_the_real_host(domains):
    assert hit_values("http://evil.com@bank.example/") == set()  # goes to bank.example
    assert hit_values("http://bank.example@evil.com/") == {"evil.com"}
    assert hit_values("https://bank.example\\@evil.com/") == set()  # backslash: the host is bank.example
    assert hit_values("mail me: someone@spam.org") == {"user@spam.org"}


def test_punycode_and_unicode_hosts_meet(domains):
    assert hit_values("http://xn--bcher-kva.example/") == {"https://Bücher.example/login"}
    assert hit_values("http://shop.bücher.example/") == {"https://Bücher.example/login"}


def test_invisible_characters_and_fullwidth_dots_do_not_hide_a_host(domains):
    assert hit_values("evil\u200b.com") == {"evil.com"}
    assert hit_values("ｅｖｉｌ．ｃｏｍ") == {"evil.com"}


def test_the_subjects_urls_are_checked_too(domains):
    assert hit_values("no links here", urls=["https://cdn.evil.com/a.png"]) == {"evil.com"}


# --- exact media hashes --------------------------------------------------------------------------------------

PNG = png_bytes(4, 4, (10, 20, 30))
OTHER = png_bytes(4, 4, (10, 20, 31))


def test_sha256_and_md5_banks_hit_the_exact_bytes_only():
    sha = hashlib.sha256(PNG).hexdigest()
    md5 = hashlib.md5(PNG).hexdigest()
    bank_of("known-sha", "sha256", [sha.upper()])
    bank_of("known-md5", "md5", [md5])

    hits = bank_hits_for("", media=[(sha, md5, "")])
    assert {(draft.label, draft.value["hash"]) for draft in hits} == {
        ("bank:known-sha", sha),
        ("bank:known-md5", md5),
    }
    other = (hashlib.sha256(OTHER).hexdigest(), hashlib.md5(OTHER).hexdigest(), "")
    assert bank_hits_for("", media=[other]) == []
    assert len(bank_hits_for("", media=media_hashes_of(PNG))) == 2  # the spot test's pasted picture
    assert bank_hits_for("", media=media_hashes_of(OTHER)) == []


# --- perceptual hashes (PDQ): needs cases.detection.perceptual -----------------------------------------------


def test_pdq_hits_a_reencoded_and_a_rotated_copy_but_not_another_picture():
    perceptual = pytest.importorskip("cases.detection.perceptual")
    from io import BytesIO

    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (256, 256), "white")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((20, 30, 140, 200), fill="black")
    draw.ellipse((150, 40, 240, 120), fill="red")

    def encoded(image, fmt="PNG", **options) -> bytes:
        out = BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()

    original, _quality = perceptual.pdq_of_image(encoded(picture))
    bank_of("known-pdq", "pdq", [original], pdq_max_distance=31)

    def media_of(data: bytes):
        return [("", "", variant) for variant in perceptual.pdq_variants(data)]

    (hit,) = bank_hits_for("", media=media_of(encoded(picture, "JPEG", quality=40)))
    assert hit.label == "bank:known-pdq" and 0.85 < hit.score <= 1.0
    assert hit.value["distance"] <= 31
    assert bank_hits_for("", media=media_of(encoded(picture.rotate(90, expand=True))))
    unrelated = Image.effect_noise((256, 256), 64).convert("RGB")
    assert bank_hits_for("", media=media_of(encoded(unrelated))) == []


@pytest.fixture(autouse=True)
def _no_bank_crashed(caplog):
    """A bank that crashes is skipped and logged, so a miss could hide a crash: none may happen here."""
    yield
    crashed = [r for r in caplog.records if r.name == "cases.detection.bank_hits" and r.levelname == "ERROR"]
    assert not crashed, crashed[0].getMessage()


# --- hostile input ----------------------------------------------------------------------------------------------


def test_a_huge_hostile_text_is_scanned_in_bounded_time_up_to_the_cap():
    import time

    from cases.detection.bank_hits import MAX_SCAN_CHARS

    bank_of("threats", "keyword", ["kill"])
    bank_of("scams", "regex", [r"(x+x+)+y", r"free\s+money"])
    bank_of("phishing", "domain", ["evil.com"])
    texts = [
        "a" * 200_000,  # one long dotless token (a backtracking link finder takes minutes)
        "a." * 100_000,  # 100,000 link-like tokens
        "x" * 150_000,  # the regex engine's worst case for (x+x+)+y
        "k.i." * 50_000,
    ]
    start = time.perf_counter()
    for text in texts:
        assert hit_values(text) == set()
    assert time.perf_counter() - start < 10  # linear: well under a second each here

    assert hit_values("a " * (MAX_SCAN_CHARS // 2) + "kill") == set()  # past the cap: not scanned
    assert hit_values("a " * (MAX_SCAN_CHARS // 2 - 10) + "kill") == {"kill"}
