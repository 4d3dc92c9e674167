"""The layout a newcomer can read: no two modules of one name in an app, at whatever depth (one name per
concept, so `enrichment` or `review` always means one thing)."""

from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("app", ["cases", "queues", "moderation"])
def test_no_two_modules_or_packages_of_one_name_in_an_app(app):
    names = Counter()
    for path in (ROOT / app).rglob("*"):
        if "migrations" in path.parts or "__pycache__" in path.parts:
            continue
        if path.suffix == ".py" and path.name != "__init__.py":
            names[path.stem] += 1
        elif path.is_dir() and (path / "__init__.py").exists():
            names[path.name] += 1

    assert [name for name, count in names.items() if count > 1] == []
