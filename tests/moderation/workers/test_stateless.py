"""Web is stateless: what one process remembers, every web process and worker must see. The deploy checks
say so when the settings would keep it per process."""

import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

from moderation.checks import cache_is_shared, tasks_go_to_a_broker


def test_a_local_memory_cache_is_flagged_for_deployment(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    (warning,) = cache_is_shared(None)

    assert warning.id == "moderation.W002"
    assert "REDIS_URL" in warning.hint


def test_a_shared_redis_cache_passes(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x:6379/1"}
    }
    assert cache_is_shared(None) == []


def test_no_broker_is_flagged_for_deployment(settings):
    settings.CELERY_BROKER_URL = ""
    assert [warning.id for warning in tasks_go_to_a_broker(None)] == ["moderation.W003"]
    settings.CELERY_BROKER_URL = "amqp://guest:guest@rabbit:5672/moderation"
    assert tasks_go_to_a_broker(None) == []


def test_sessions_live_in_the_database_not_in_a_process(settings):
    # Any web process can serve any request of a signed-in person.
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


def test_check_deploy_reports_the_per_process_cache(settings, capsys):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    call_command("check", "--deploy", "--tag", "caches")
    assert "moderation.W002" in capsys.readouterr().err


def test_behind_pgbouncer_no_server_side_cursor_outlives_its_transaction():
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False))"
    )
    root = Path(__file__).resolve().parents[3]
    env = {
        "DJANGO_SETTINGS_MODULE": "moderation.settings",
        "PATH": "/usr/bin:/bin",
        "VAR_DIR": "/tmp/pgb-var",
    }
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            env=env | extra,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for extra in ({}, {"DB_PGBOUNCER": "1", "DATABASE_URL": "postgres://app@pgbouncer:6432/moderation"})
    ]
    assert outputs == ["False", "True"]


def _database_options(extra: dict) -> str:
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "options = settings.DATABASES['default'].get('OPTIONS', {}); "
        "print(options.get('server_side_binding'), options.get('prepare_threshold'))"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "moderation.settings",
        "PATH": "/usr/bin:/bin",
        "VAR_DIR": "/tmp/pgb-var",
    }
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[3],
        env=env | extra,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_postgresql_connections_prepare_what_they_run_often_but_not_behind_pgbouncer_or_on_sqlite():
    postgres = {"DATABASE_URL": "postgres://app@db:5432/moderation"}

    assert _database_options(postgres) == "True 5"
    assert _database_options(postgres | {"DB_PREPARE_THRESHOLD": "2"}) == "True 2"
    assert _database_options(postgres | {"DB_PGBOUNCER": "1"}) == "None None"
    assert _database_options(postgres | {"DB_PGBOUNCER": "1", "DB_PREPARED_STATEMENTS": "1"}) == "True 5"
    assert _database_options(postgres | {"DB_PREPARED_STATEMENTS": "0"}) == "None None"
    assert _database_options({}) == "None None"  # SQLite
