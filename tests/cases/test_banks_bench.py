"""The bank benchmark runs (tiny sizes) and its RE2 set agrees with the patterns one by one; the figures are
not timed here (they belong in the README, measured by `python bench/banks.py`)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "banks.py"


def test_the_bank_benchmark_runs_with_small_sizes(capsys):
    spec = importlib.util.spec_from_file_location("bench_banks", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    figures = bench.main(["--terms", "300", "--regexes", "20", "--texts", "400", "--repeat", "1"])

    assert figures["disagreements"] == 0
    assert 0.05 < figures["hit_rate"] < 0.5  # the corpus holds terms and evasions, and they are found
    assert "texts/s" in capsys.readouterr().out
