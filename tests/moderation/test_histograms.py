"""Log-binned duration histograms: percentiles from summed bins stay within the documented error."""

import random

import pytest

from moderation.histograms import MAX_RELATIVE_ERROR, bin_of, histogram, merge, percentile
from tests.queues.test_health_rollups import exact_percentile


def test_a_binned_percentile_is_within_the_documented_error_of_the_exact_one():
    rng = random.Random(7)
    durations = [rng.lognormvariate(7, 1.5) + 1 for _ in range(5000)]
    bins = merge({}, histogram(durations))
    for fraction in (0.1, 0.5, 0.9, 0.99):
        exact = exact_percentile(durations, fraction)
        assert percentile(bins, fraction) == pytest.approx(exact, rel=MAX_RELATIVE_ERROR)
    assert MAX_RELATIVE_ERROR < 0.05


def test_histograms_of_parts_sum_to_the_histogram_of_the_whole():
    whole = histogram([3, 30, 300, 3000, 30000])
    parts = merge(merge({}, histogram([3, 30])), histogram([300, 3000, 30000]))
    assert parts == merge({}, whole)


def test_sub_second_and_negative_durations_fall_in_the_first_bin():
    assert bin_of(0.2) == 0
    assert histogram([-5, 0.5]) == {"0": 2}
    assert percentile({}, 0.5) is None
