import pytest

pytestmark = pytest.mark.django_db


def test_home_page_links_to_admin_and_api_docs(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/admin/"' in html and 'href="/api/docs/"' in html
    assert "/static/css/app.css" in html
