"""bench/velocity.py runs (tiny sizes): it seeds, records and reads, and its figures are sane."""

import importlib.util
import os
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

BENCH = Path(__file__).resolve().parents[2] / "bench" / "velocity.py"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_velocity", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_velocity_benchmark_runs_on_tiny_sizes(settings):
    if REDIS_URL:
        settings.VELOCITY_REDIS_URL = REDIS_URL
        settings.VELOCITY_KEY_PREFIX = f"test-bench-{uuid.uuid4().hex}"
        settings.VELOCITY_REDIS_TIMEOUT = 2.0
    bench = load_bench()

    figures = bench.run(reports=300, authors=5, reads=5, record=600)

    assert figures["twin_p95_ms"] >= figures["twin_p50_ms"] > 0
    if REDIS_URL:
        assert figures["record_batch_500"] > figures["record_batch_1"] > 0
        assert figures["live_p95_ms"] > 0 and figures["page_p95_ms"] > 0
        import redis

        assert not list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{settings.VELOCITY_KEY_PREFIX}:*"))
