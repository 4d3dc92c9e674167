"""Settings come from the environment and bad values fail loudly."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from moderation.env import database_from_url, env_bool, env_int


def test_postgres_url_becomes_a_database_entry_with_options():
    db = database_from_url(
        "postgres://mod:s%40cret@db.internal:6543/reviews?sslmode=require&server_side_binding=false"
    )
    assert db["ENGINE"] == "moderation.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "reviews",
        "mod",
        "s@cret",
        "db.internal",
        "6543",
    )
    assert db["OPTIONS"] == {"sslmode": "require", "server_side_binding": False}


def test_sqlite_url():
    assert database_from_url("sqlite:///var/x.sqlite3") == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "var/x.sqlite3",
    }


@pytest.mark.parametrize("url", ["mysql://x/y", "postgres://host/"])
def test_unsupported_or_incomplete_urls_are_refused(url):
    with pytest.raises(ImproperlyConfigured):
        database_from_url(url)


def test_env_helpers_refuse_garbage(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    monkeypatch.setenv("COUNT", "ten")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG")
    with pytest.raises(ImproperlyConfigured, match="COUNT"):
        env_int("COUNT", 1)
    monkeypatch.setenv("FLAG", "on")
    assert env_bool("FLAG") is True
