"""The fast path of the built-in model computes exactly what the library computes."""

import pytest
from profanity_check import predict_prob

from cases.detection.textmodel import text_model

TEXTS = [
    "you are a fucking idiot",
    "have a lovely day",
    "I will kill you",
    "",
    "limited offer!!! buy followers now",
    "Ich hasse dich",
    "<script>alert(1)</script>",
    "shit " * 200,
]


def test_fast_path_matches_the_library_probabilities():
    expected = [float(p) for p in predict_prob(TEXTS)]
    assert text_model().scores(TEXTS) == pytest.approx(expected, abs=1e-9)


def test_scores_are_probabilities_and_rank_offensive_text_higher():
    offensive, benign = text_model().scores(["you are a fucking idiot", "have a lovely day"])
    assert 0.0 <= benign < 0.3 < 0.8 < offensive <= 1.0
