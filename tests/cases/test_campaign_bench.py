"""Smoke test of bench/campaigns.py at a tiny size: it runs against the test database and finds the campaigns
it planted (figures are the benchmark's business, not the test's)."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

BENCH = Path(__file__).resolve().parents[2] / "bench" / "campaigns.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_campaigns", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_campaign_benchmark_runs_and_finds_its_planted_campaigns(policies):
    result = load_bench().run(reports=150, templates=5, duplicates=0.3, seed=3, commit_every=50)

    assert result["reports"] == 150 and result["reports_per_second"] > 0
    assert result["planted"] == 5
    assert result["precision"] >= 0.9 and result["recall"] >= 0.8


def test_pairwise_scores_count_pairs():
    bench = load_bench()
    planted = {1: 0, 2: 0, 3: 0, 4: None, 5: 1, 6: 1}
    found = {1: 10, 2: 10, 3: None, 4: 10, 5: 11, 6: 11}

    precision, recall = bench.pairwise(found, planted)

    # found pairs: (1,2) (1,4) (2,4) (5,6); true pairs: (1,2) (1,3) (2,3) (5,6)
    assert precision == pytest.approx(2 / 4)
    assert recall == pytest.approx(2 / 4)


def test_the_batched_mode_finds_what_one_by_one_finds(policies):
    bench = load_bench()
    one_by_one = bench.run(reports=120, templates=4, duplicates=0.4, seed=5, commit_every=10)
    bench.empty_index()
    batched = bench.run(reports=120, templates=4, duplicates=0.4, seed=5, batch=25)

    assert batched["batch"] == 25 and batched["reports_per_second"] > 0
    assert batched["partition"] == one_by_one["partition"] and batched["partition"]
    assert batched["recall"] >= 0.8
