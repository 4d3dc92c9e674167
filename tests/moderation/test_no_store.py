"""Nothing the app answers may be kept by a browser or a proxy (`Cache-Control: no-store`): cases, queues, the
audit log and its export, the API, sign-in and two-factor pages, stored media. Static files keep their caching."""

import pytest
from django.contrib.auth.models import Permission

from tests import factories

pytestmark = pytest.mark.django_db
MEDIA_URL = "https://media.example/evidence.png"


@pytest.fixture
def case(review_setup):
    case = factories.OpenCaseFactory(queue=review_setup.queue, subject__media_urls=[MEDIA_URL])
    factories.MediaFileFactory(url=MEDIA_URL)
    return case


@pytest.fixture
def lead_client(agent_client, review_setup):
    review_setup.agent.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    return agent_client


def assert_not_stored(response):
    assert "no-store" in response["Cache-Control"], (response.status_code, response.get("Cache-Control"))


@pytest.mark.parametrize(
    "url",
    [
        "/cases/{case}/",
        "/cases/{case}/media/0",
        "/queues/",
        "/queues/general/",
        "/audit/",
        "/audit/export.csv",
        "/",
    ],
)
def test_staff_pages_fragments_exports_and_media_are_never_stored(lead_client, case, url):
    response = lead_client.get(url.format(case=case.pk))

    assert response.status_code == 200
    assert_not_stored(response)


def test_htmx_fragments_are_never_stored(agent_client, case):
    response = agent_client.get(f"/cases/{case.pk}/actions", {"policy": "harassment"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert_not_stored(response)


def test_state_changes_and_redirects_are_never_stored(agent_client, case):
    response = agent_client.post(f"/cases/{case.pk}/claim")

    assert response.status_code in (200, 302)
    assert_not_stored(response)


def test_errors_are_never_stored(agent_client):
    assert_not_stored(agent_client.get("/cases/999999/"))
    assert_not_stored(agent_client.get("/no-such-page"))


def test_an_anonymous_visitors_redirect_to_sign_in_is_never_stored(client, case):
    response = client.get(f"/cases/{case.pk}/")

    assert response.status_code == 302
    assert_not_stored(response)


@pytest.mark.parametrize(
    "url", ["/accounts/login/", "/admin/login/", "/accounts/two-factor/setup/", "/accounts/two-factor/"]
)
def test_sign_in_and_two_factor_pages_are_never_stored(client, settings, url):
    from tests.accounts import logged_in, person

    settings.TWO_FACTOR_REQUIRED = "privileged"
    browser = logged_in(person("lena", "lead")) if "two-factor" in url else client

    response = browser.get(url)

    assert response.status_code in (200, 302)
    assert_not_stored(response)


def test_api_answers_are_never_stored(api, report_body):
    created = api.post("/api/v1/reports", report_body(), format="json")
    read = api.get(f"/api/v1/reports/{created.json()['id']}")
    case = api.get(f"/api/v1/cases/{created.json()['case_id']}")
    missing = api.get("/api/v1/reports/999999")

    assert [r.status_code for r in (created, read, case, missing)] == [201, 200, 200, 404]
    for response in (created, read, case, missing):
        assert_not_stored(response)


def test_refused_api_calls_are_never_stored(client, settings):
    settings.API_MAX_BODY_BYTES = 100
    unauthenticated = client.get("/api/v1/reports/1", HTTP_AUTHORIZATION="Bearer nope")
    too_large = client.post("/api/v1/reports", "x" * 200, content_type="application/json")

    assert (unauthenticated.status_code, too_large.status_code) == (401, 413)
    assert_not_stored(unauthenticated)
    assert_not_stored(too_large)


def test_the_https_redirect_is_never_stored(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/queues/")

    assert response.status_code == 301
    assert_not_stored(response)


def test_the_api_schema_and_health_check_are_never_stored(client):
    for url in ("/api/schema/", "/healthz"):
        response = client.get(url)
        assert response.status_code == 200
        assert_not_stored(response)


def test_static_files_keep_their_caching(client):
    response = client.get("/static/css/app.css")

    assert response.status_code == 200
    assert "no-store" not in response["Cache-Control"]
    assert "max-age=" in response["Cache-Control"]
