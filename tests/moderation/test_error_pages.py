"""Error pages a person may land on are HTML pages (a title, a language, a way back), not bare text; the API
keeps its JSON errors."""

import re

import pytest
from django.test import RequestFactory

from moderation.views import server_error
from tests.accounts import logged_in, person

pytestmark = pytest.mark.django_db


def test_an_unknown_page_is_an_html_page_with_a_way_back(django_assert_max_num_queries):
    client = logged_in(person("ada", "agent"))

    with django_assert_max_num_queries(8):
        response = client.get("/cases/987654321/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert re.search(r'<html lang="en"[ >]', page) and "<title>Not found" in page
    assert 'href="/queues/"' in page


def test_an_unknown_api_endpoint_still_answers_json(client):
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_server_error_page_is_html_and_needs_no_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/queues/"))

    assert response.status_code == 500
    page = response.content.decode()
    assert re.search(r'<html lang="en"[ >]', page) and "<title>Something went wrong" in page
    assert "has been logged" in page
