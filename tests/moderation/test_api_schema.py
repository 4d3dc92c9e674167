"""The published API contract (OpenAPI schema, offline Swagger UI) and site-level endpoints."""

import json
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import yaml
from django.test import Client

pytestmark = pytest.mark.django_db

API_PATHS = {
    "/api/v1/reports": "post",
    "/api/v1/reports/batch": "post",
    "/api/v1/reports/{report_id}": "get",
    "/api/v1/cases/{case_id}": "get",
    "/api/v1/appeals": "post",
    "/api/v1/appeals/{appeal_id}": "get",
    "/api/v1/events": "post",
}


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


# --- OpenAPI schema --------------------------------------------------------------------------------------


def test_schema_is_served_as_openapi_3_json_on_request(client):
    by_accept = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    by_format = client.get("/api/schema/?format=json")

    for response in (by_accept, by_format):
        assert response.status_code == 200
        assert "json" in response["Content-Type"]
        document = json.loads(response.content)
        assert document["openapi"].startswith("3.")
        assert document["info"]["title"]
        assert document["info"]["version"]
    assert json.loads(by_accept.content)["paths"].keys() == json.loads(by_format.content)["paths"].keys()


def test_schema_defaults_to_yaml_describing_the_same_api(client, schema):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert "openapi" in response["Content-Type"]
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == set(schema["paths"])


def test_schema_needs_no_credentials_even_with_a_bad_token(client):
    response = client.get("/api/schema/?format=json", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 200


def test_schema_documents_every_v1_endpoint_with_its_method(schema):
    for path, method in API_PATHS.items():
        assert path in schema["paths"], path
        assert method in schema["paths"][path], f"{method.upper()} {path}"


def test_schema_documents_exactly_the_public_api(schema):
    # The admin, health check, schema and docs are not part of the vendor API.
    assert set(schema["paths"]) == set(API_PATHS)


def test_schema_declares_the_bearer_token_scheme_and_requires_it(schema):
    schemes = schema["components"]["securitySchemes"]
    bearer = [
        name
        for name, scheme in schemes.items()
        if (scheme["type"], scheme.get("scheme")) == ("http", "bearer")
    ]
    assert bearer, schemes
    for path, method in API_PATHS.items():
        operation = schema["paths"][path][method]
        requirements = operation.get("security", schema.get("security", []))
        assert any(name in requirement for requirement in requirements for name in bearer), path


def test_schema_path_parameters_are_integers(schema):
    for path, name in [("/api/v1/reports/{report_id}", "report_id"), ("/api/v1/cases/{case_id}", "case_id")]:
        (parameter,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name]
        assert parameter["in"] == "path"
        assert parameter["required"] is True
        assert parameter["schema"]["type"] == "integer"


def test_schema_has_request_examples_for_sending_reports(schema):
    create = schema["paths"]["/api/v1/reports"]["post"]
    examples = create["requestBody"]["content"]["application/json"]["examples"]
    assert examples
    example = next(iter(examples.values()))["value"]
    assert {"external_id", "reason", "subject"} <= set(example)
    batch = schema["paths"]["/api/v1/reports/batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["examples"]


def test_schema_documents_error_responses(schema):
    create = schema["paths"]["/api/v1/reports"]["post"]
    assert {"201", "200", "400", "401", "409", "413", "415"} <= set(create["responses"])
    batch = schema["paths"]["/api/v1/reports/batch"]["post"]
    assert {"200", "207", "400", "401"} <= set(batch["responses"])
    for path in ("/api/v1/reports/{report_id}", "/api/v1/cases/{case_id}"):
        assert {"200", "401", "404"} <= set(schema["paths"][path]["get"]["responses"])


def test_schema_references_resolve(schema):
    refs = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    refs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema["paths"])
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/")
        node = schema
        for part in ref[2:].split("/"):
            assert part in node, ref
            node = node[part]


# --- Swagger UI ------------------------------------------------------------------------------------------


class _AssetCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.urls.append((tag, value))


def test_docs_page_is_html_served_without_credentials(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "swagger-ui" in page.lower()
    # Swagger UI's start-up script is a separate file (no inline script under the CSP); it loads our schema.
    assert "<script>" not in page.replace(" ", "")
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()


def test_docs_page_loads_nothing_from_an_external_host(client):
    page = client.get("/api/docs/").content.decode()
    collector = _AssetCollector()
    collector.feed(page)

    assert any(tag == "script" for tag, _ in collector.urls)
    for tag, url in collector.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"<{tag}> loads {url}"
    lowered = page.lower()
    for marker in ("cdn", "http://", "https://", "unpkg", "jsdelivr"):
        assert marker not in lowered, marker


def test_docs_page_assets_are_served_by_the_app(client):
    collector = _AssetCollector()
    collector.feed(client.get("/api/docs/").content.decode())

    assets = [url for tag, url in collector.urls if tag in {"script", "link"}]
    assert len(assets) >= 3  # the bundle, the preset, the stylesheet
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body, url


# --- Site endpoints --------------------------------------------------------------------------------------


def test_healthz_answers_status_ok_as_json(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.parametrize(
    "path",
    ["/api/", "/api/v2/reports", "/api/v1/nothing", "/api/v1/reports/not-a-number", "/api/v1/cases/"],
)
def test_an_unknown_api_path_is_a_json_404(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


def test_an_unknown_api_path_is_a_json_404_for_an_authenticated_vendor_too(api):
    response = api.get("/api/v1/unknown")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_an_unknown_page_outside_the_api_is_not_json(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
