"""Settings come from the environment and bad values fail loudly."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from moderation.env import database_from_url, env_bool, env_int, owner_database_from_url


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


APP_DATABASE = database_from_url("postgres://moderation_app:app-secret@pgbouncer:6432/moderation")


def test_the_migrate_url_is_the_owners_login_to_the_apps_own_database():
    owner = owner_database_from_url(
        "postgres://moderation:owner-secret@postgres:5432/moderation", APP_DATABASE
    )

    assert owner == {
        "USER": "moderation",
        "PASSWORD": "owner-secret",
        "HOST": "postgres",
        "PORT": "5432",
        "OPTIONS": {},
    }
    assert "NAME" not in owner, "the name stays the app's (and the tests' database stays the tests')"


def test_a_migrate_url_naming_another_database_is_refused():
    with pytest.raises(ImproperlyConfigured, match="same database"):
        owner_database_from_url("postgres://moderation@postgres/other", APP_DATABASE)


def test_a_migrate_url_without_postgresql_is_refused():
    sqlite = database_from_url("sqlite:///var/db.sqlite3")
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL"):
        owner_database_from_url("sqlite:///var/db.sqlite3", sqlite)
