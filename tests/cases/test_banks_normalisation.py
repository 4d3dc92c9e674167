"""Each evasion trick makes a keyword bank hit when the bank has that trick on, and only then.

The normaliser has its own corpus (tests/cases/test_normalise*.py); these check the banks use it on both
sides: the entry as imported and the text as reported.
"""

import pytest

from cases.detection.normalise import TRICKS
from cases.models.bank import NORMALISATION_TRICKS
from tests.banks import bank_of, hit_values

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reload_every_time(settings):
    settings.BANK_RELOAD_SECONDS = 0


# (trick, evasive text): the text holds the bank term "kill" only once that trick is undone.
EVASIONS = [
    ("separators", "i will k.i.l.l you"),
    ("separators", "i will k i l l you"),
    ("separators", "i will k-i-l-l you"),
    ("case", "i will KILL you"),
    ("nfkc", "i will ｋｉｌｌ you"),  # fullwidth letters (`case` folds width too: see OVERLAPS)
    ("nfkc", "i will 𝐤𝐢𝐥𝐥 you"),  # mathematical bold
    ("confusables", "i will кill you"),  # Cyrillic к
    ("confusables", "i will kіll you"),  # Cyrillic і
    ("confusables", "i will κill you"),  # Greek kappa
    ("leet", "i will k1ll you"),
    ("invisible", "i will k\u200bi\u200dll you"),  # zero-width space and joiner
    ("invisible", "i will k\u00adill you"),  # soft hyphen
    ("repeats", "i will kiiiiill you"),
]


@pytest.mark.parametrize(("trick", "text"), EVASIONS)
def test_each_trick_makes_the_evasion_hit_a_bank_that_has_it(trick, text):
    bank_of("threats", "keyword", ["kill"], normalisations=[trick])

    assert hit_values(text) == {"kill"}


# Tricks that undo another's evasion as well, by the normaliser's design: `case` folds fullwidth forms.
OVERLAPS = {"i will ｋｉｌｌ you": {"case"}}


@pytest.mark.parametrize(("trick", "text"), EVASIONS)
def test_a_bank_without_the_trick_does_not_see_through_it(trick, text):
    others = TRICKS - {trick} - OVERLAPS.get(text, set())
    bank_of("threats", "keyword", ["kill"], normalisations=sorted(others))

    assert hit_values(text) == set()


def test_a_bank_with_every_trick_sees_through_them_combined():
    bank_of("threats", "keyword", ["kill"])  # keyword default: every trick

    assert hit_values("I will Ｋ.\u200bі.l.ⅼ you") == {"kill"}  # fullwidth, ZWSP, Cyrillic, dots, ⅼ
    assert hit_values("i will 𝐊1iiill you") == {"kill"}  # bold, leet, repeats


def test_the_entry_is_normalised_like_the_text():
    bank_of("threats", "keyword", ["K.I.L.L", "ＳＴＯＰ ＩＴ"])

    assert hit_values("kill") == {"K.I.L.L"}
    assert hit_values("please stop   it now") == {"ＳＴＯＰ ＩＴ"}


def test_unicode_case_and_dotted_capital_i_fold_to_the_term():
    bank_of("threats", "keyword", ["kill"], normalisations=["invisible", "nfkc", "case"])

    assert hit_values("KİLL") == {"kill"}  # İ: dot is a combining mark once decomposed


def test_the_model_lists_the_normaliser_tricks():
    assert set(NORMALISATION_TRICKS) == TRICKS
