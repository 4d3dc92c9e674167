"""Attacks on matching banks found in the issue-14 attack pass: entries that would hit (nearly) every text,
and hosts written so that a browser reads them but the domain bank did not."""

import pytest

from cases.content_display import url_host
from cases.services.banks import import_bank_entries
from moderation.errors import InvalidRows
from tests.banks import bank_of, hit_values

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reload_every_time(settings):
    settings.BANK_RELOAD_SECONDS = 0


# --- entries that would hit every text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("a", "single letter or digit"),
        ("aaaa", "single letter or digit"),  # the `repeats` trick folds it to `a`
        ("I", "single letter or digit"),
        ("0", "single letter or digit"),
        (".", "only punctuation"),
        ("...", "only punctuation"),
        ("'", "only punctuation"),
        ("- -", "only punctuation"),
    ],
)
def test_a_keyword_that_would_hit_almost_every_text_is_refused(value, why):
    bank = bank_of("words", "keyword", [])

    with pytest.raises(InvalidRows, match=why) as refused:
        import_bank_entries(bank=bank, data=f'value\n"{value}"\n', via="test")

    assert [(line, field) for line, field, _ in refused.value.problems] == [(2, "value")]


def test_short_terms_that_are_real_signals_are_still_accepted():
    bank_of("words", "keyword", ["kys", "🔪", "$$"])

    assert hit_values("just kys") == {"kys"}
    assert hit_values("bring a 🔪 tonight") == {"🔪"}
    assert hit_values("cheap $$ now") == {"$$"}
    assert hit_values("an ordinary sentence, with punctuation... and I think a 0.") == set()


@pytest.mark.parametrize("pattern", [".", "(?s).", "[\\s\\S]", "\\b", "\\w|\\W", "\\S", "[^\\n]"])
def test_a_pattern_that_matches_every_text_is_refused(pattern):
    bank = bank_of("patterns", "regex", [])

    with pytest.raises(InvalidRows, match="every text") as refused:
        import_bank_entries(bank=bank, data=f'value\n"{pattern}"\n', via="test")

    assert [(line, field) for line, field, _ in refused.value.problems] == [(2, "value")]


def test_a_broad_but_meaningful_pattern_is_accepted():
    bank_of("patterns", "regex", ["\\d{16}", "[a-z]+@[a-z]+\\.ru", "free\\s+money"])

    assert hit_values("card 4111111111111111") == {"\\d{16}"}
    assert hit_values("hello there") == set()


# --- hosts as a browser reads them -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "login at http://%65vil.example/now",
        "login at http://EVIL%2Eexample/",
        "login at https://www.%65%76%69%6c.example/x",
        "login at http://good.example@%65vil.example/",
    ],
)
def test_a_percent_encoded_host_still_hits_the_domain(text):
    bank_of("phish", "domain", ["evil.example"])

    assert hit_values(text) == {"evil.example"}


def test_a_percent_encoded_entry_is_stored_as_the_host():
    bank = bank_of("phish", "domain", ["http://%65vil.example/"])

    assert set(bank.entries.values_list("match_key", flat=True)) == {"evil.example"}
    assert hit_values("see evil.example") == {"http://%65vil.example/"}


def test_percent_encoding_in_the_path_or_userinfo_does_not_move_the_host():
    bank_of("phish", "domain", ["evil.example"])

    assert hit_values("http://good.example/%65vil.example") == set()
    assert hit_values("http://evil.example%2F@good.example/") == set()


def test_the_agent_page_shows_the_decoded_host_and_no_host_for_a_decoded_delimiter():
    assert url_host("http://%65vil.example/") == "evil.example"
    assert url_host("http://evil.example%2F@good.example/") == "good.example"
    assert url_host("http://evil%2Fexample/") == ""


# --- flat pictures and perceptual banks ------------------------------------------------------------------


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (120, 30, 200)])
def test_a_flat_picture_is_never_looked_up_in_a_pdq_bank(colour):
    from cases.demo import png_bytes
    from cases.detection import perceptual
    from cases.detection.bank_hits import bank_hits_for, media_hashes_of

    flat = png_bytes(64, 64, colour)
    _, quality = perceptual.pdq_of_image(flat)
    assert quality < perceptual.MIN_USEFUL_QUALITY
    real = png_bytes(64, 64, (200, 10, 10), stripes=4)
    bank_of("known-pdq", "pdq", [perceptual.pdq_of_image(real)[0]], pdq_max_distance=256)

    assert [pdq for _, _, pdq in media_hashes_of(flat)] == [""]  # no perceptual lookup at all
    assert bank_hits_for("", media=media_hashes_of(flat)) == []
    assert len(bank_hits_for("", media=media_hashes_of(real))) == 1


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255)])
def test_a_flat_pictures_hash_is_refused_as_a_pdq_entry(colour):
    from cases.demo import png_bytes
    from cases.detection import perceptual

    bank = bank_of("known-pdq", "pdq", [])
    flat_hash = perceptual.pdq_of_image(png_bytes(64, 64, colour))[0]

    with pytest.raises(InvalidRows, match="flat") as refused:
        import_bank_entries(bank=bank, data=f"value\n{flat_hash}\n", via="test")

    assert [(line, field) for line, field, _ in refused.value.problems] == [(2, "value")]


@pytest.mark.parametrize(
    "text",
    [
        "login at http://0x5d.0xb8.0xd8.0x22/",  # hex
        "login at http://0135.0270.0330.042/",  # octal
        "login at http://93.184.55330/",  # fewer parts: the last fills the rest
        "login at http://93.12113954/",
    ],
)
def test_an_ip_written_the_way_browsers_also_read_it_hits_the_banked_address(text):
    bank_of("phish-ips", "domain", ["93.184.216.34"])

    assert hit_values(text) == {"93.184.216.34"}


def test_numeric_hosts_are_read_as_browsers_read_them():
    assert url_host("http://2130706433/") == "127.0.0.1"
    assert url_host("http://0x7f.1/") == "127.0.0.1"
    assert url_host("http://256.1.1.1/") == ""  # no address: browsers refuse it
    assert url_host("http://example.123/") == ""
    assert url_host("http://1.2.3.example/") == "1.2.3.example"  # a name, not an address


# --- spaced-out letters with other whitespace ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "you k\ni\nl\nl now",
        "you k\ti\tl\tl now",
        "you k\u2800i\u2800l\u2800l now",
        "you k\r\ni\r\nl\r\nl now",
    ],
)
def test_letters_spaced_out_with_line_breaks_tabs_or_braille_blanks_still_hit(text):
    bank_of("threats", "keyword", ["kill"])

    assert hit_values(text) == {"kill"}


def test_a_phrase_across_lines_still_hits_and_words_on_separate_lines_stay_words():
    bank_of("threats", "keyword", ["i know where you live"])

    assert hit_values("I know\nwhere you\n\nlive") == {"i know where you live"}
    assert hit_values("skill\nset") == set()
