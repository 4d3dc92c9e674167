"""The priority formula, term by term."""

import pytest

from queues.priority import priority_score


def score(**overrides):
    args = {"severity": 1, "max_score": None, "distinct_reporters": 0, "vendor_reliability": 0.0}
    return priority_score(**(args | overrides))


def test_severity_alone_is_twenty_points_a_level():
    assert [score(severity=s) for s in range(1, 6)] == [20, 40, 60, 80, 100]


def test_strongest_signal_adds_up_to_fifty():
    assert score(max_score=1.0) - score() == 50
    assert score(max_score=0.5) - score() == 25


def test_reporters_count_by_doubling_and_are_capped():
    assert score(distinct_reporters=1) - score() == 10
    assert score(distinct_reporters=3) - score() == 20
    assert score(distinct_reporters=10_000) - score() == 40


def test_vendor_reliability_adds_up_to_twenty():
    assert score(vendor_reliability=1.0) - score() == 20


def test_rule_boost_is_added_and_the_result_never_goes_negative():
    assert score(boost=200) == 220
    assert score(boost=-1000) == 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"severity": 99}, 100),
        ({"severity": -3}, 20),
        ({"max_score": 7.0}, 70),
        ({"vendor_reliability": -1}, 20),
    ],
)
def test_out_of_range_inputs_are_clamped(overrides, expected):
    assert score(**overrides) == expected


def test_mass_reported_confident_spam_can_outrank_a_lone_harassment_report():
    spam_wave = score(severity=1, max_score=1.0, distinct_reporters=100, vendor_reliability=1.0)
    lone_harassment = score(severity=3, distinct_reporters=1, vendor_reliability=0.5)
    assert spam_wave > lone_harassment
