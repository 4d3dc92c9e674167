"""Browser-facing hardening: a strict Content-Security-Policy and the other headers on every page, and a
production configuration that `manage.py check --deploy` finds nothing to complain about."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/queues/", "/api/docs/"])
def test_pages_carry_a_strict_content_security_policy(agent_client, path):
    response = agent_client.get(path)

    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_stored_media_keep_their_own_sandboxing_policy(agent_client, review_setup):
    url = "https://media.example/p.png"
    case = factories.OpenCaseFactory(queue=review_setup.queue, subject__media_urls=[url])
    factories.MediaFileFactory(url=url)

    response = agent_client.get(f"/cases/{case.pk}/media/0")

    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_no_page_of_the_app_has_an_inline_script(agent_client, review_setup):
    case = factories.OpenCaseFactory(queue=review_setup.queue)
    for path in ("/", "/queues/", "/queues/general/", f"/cases/{case.pk}/"):
        html = agent_client.get(path).content.decode()
        assert "<script>" not in html.replace(" ", "")
        assert " on" + "click=" not in html and " hx-on" not in html


def deploy_check(tmp_path, **extra_env) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        # Production shares its cache and sends tasks to a broker (moderation.W002, W003); never contacted here.
        "REDIS_URL": "redis://127.0.0.1:6379/1",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_SETTINGS_MODULE": "moderation.settings",
    }
    env.pop("DJANGO_DEBUG", None)
    env.pop("TWO_FACTOR_REQUIRED", None)
    # Set by the browser tests in this process, never in production.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_configuration_passes_the_deploy_check(tmp_path):
    result = deploy_check(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_complains_when_two_factor_is_off(tmp_path):
    result = deploy_check(tmp_path, TWO_FACTOR_REQUIRED="off")

    assert result.returncode != 0
    assert "moderation.W001" in result.stdout + result.stderr
