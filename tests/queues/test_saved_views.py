"""Saved views (a lead's named queue filter, for everyone who works the queue) and starred queues: both in
the header, both audited when they change."""

import pytest
from django.test import Client

from moderation.models import AuditEvent
from queues.models import QueueStar, SavedView
from tests import factories
from tests.accounts import person

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(review_setup):
    user = person("lena", "lead")
    review_setup.queue.members.add(user)
    return user


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_lead_saves_the_queue_filter_under_a_name_audited(lead, review_setup):
    response = browser(lead).post(
        "/queues/general/views",
        {"name": "  Late   spam ", "querystring": "status=active&policy=&sla=late&page=4&evil=1&sort=oldest"},
    )
    view = SavedView.objects.get()
    assert (view.name, view.querystring) == ("Late spam", "status=active&sla=late&sort=oldest")
    assert response.status_code == 302 and response["Location"] == f"/queues/general/?{view.querystring}"
    event = AuditEvent.objects.get(verb="saved_view.created")
    assert event.actor_label == "lena" and event.data["filter"] == view.querystring


def test_an_agent_may_not_save_a_view(agent_client):
    agent_client.post("/queues/general/views", {"name": "mine", "querystring": "status=any"})
    assert not SavedView.objects.exists()
    assert not AuditEvent.objects.filter(verb="saved_view.created").exists()


def test_a_filter_the_queue_page_would_refuse_is_not_saved(lead):
    browser(lead).post("/queues/general/views", {"name": "bad", "querystring": "score_min=7"})
    assert not SavedView.objects.exists()


def test_a_name_is_used_once_per_queue(lead):
    client = browser(lead)
    client.post("/queues/general/views", {"name": "Late", "querystring": "sla=late"})
    response = client.post("/queues/general/views", {"name": "Late", "querystring": "sla=soon"}, follow=True)
    assert SavedView.objects.count() == 1
    assert "already has a view called" in response.content.decode()


def test_saved_views_appear_for_everyone_who_sees_the_queue_and_nobody_else(lead, review_setup, agent_client):
    browser(lead).post("/queues/general/views", {"name": "Late", "querystring": "sla=late"})
    html = agent_client.get("/queues/shortcuts").content.decode()
    assert "General: Late" in html and 'href="/queues/general/?sla=late"' in html
    outsider = factories.UserFactory(username="outsider")
    assert "Late" not in browser(outsider).get("/queues/shortcuts").content.decode()


def test_the_queue_page_lists_its_saved_views_and_offers_leads_the_save_form(lead, agent_client):
    browser(lead).post("/queues/general/views", {"name": "Late", "querystring": "sla=late"})
    agent_html = agent_client.get("/queues/general/").content.decode()
    assert 'href="/queues/general/?sla=late">Late</a>' in agent_html
    assert "Save view for the team" not in agent_html
    lead_html = browser(lead).get("/queues/general/", {"sla": "late"}).content.decode()
    assert "Save view for the team" in lead_html and 'value="sla=late"' in lead_html


def test_a_lead_removes_a_saved_view_audited(lead):
    client = browser(lead)
    client.post("/queues/general/views", {"name": "Late", "querystring": "sla=late"})
    view = SavedView.objects.get()
    client.post(f"/queues/general/views/{view.pk}/remove")
    assert not SavedView.objects.exists()
    assert AuditEvent.objects.filter(verb="saved_view.deleted", target_id=str(view.pk)).exists()


def test_an_agent_stars_a_queue_once_and_it_shows_in_the_header(agent_client, review_setup):
    agent_client.post("/queues/general/star", {"starred": "1"})
    agent_client.post("/queues/general/star", {"starred": "1"})
    assert QueueStar.objects.filter(user=review_setup.agent).count() == 1
    assert AuditEvent.objects.filter(verb="queue.starred").count() == 1
    fragment = agent_client.get(
        "/queues/shortcuts", headers={"HX-Request": "true", "HX-Target": "header-shortcuts"}
    ).content.decode()
    assert "<html" not in fragment and "★ General" in fragment
    # the header's nav stays and only its links are swapped in: no second element with its id
    assert 'id="header-shortcuts"' not in fragment


def test_unstarring_removes_it_audited(agent_client, review_setup):
    agent_client.post("/queues/general/star", {"starred": "1"})
    response = agent_client.post(
        "/queues/general/star", {"starred": "0"}, headers={"HX-Request": "true", "HX-Target": "star-form"}
    )
    assert response["HX-Trigger"] == "shortcuts-changed" and "Star this queue" in response.content.decode()
    assert not QueueStar.objects.exists()
    assert AuditEvent.objects.filter(verb="queue.unstarred").count() == 1


def test_a_queue_the_agent_cannot_see_cannot_be_starred(agent_client):
    factories.QueueFactory(slug="secret", name="Secret")
    assert agent_client.post("/queues/secret/star", {"starred": "1"}).status_code == 404
    assert not QueueStar.objects.exists()


def test_a_star_on_a_queue_the_agent_left_disappears_from_the_header(agent_client, review_setup):
    agent_client.post("/queues/general/star", {"starred": "1"})
    review_setup.queue.members.remove(review_setup.agent)
    assert "★ General" not in agent_client.get("/queues/shortcuts").content.decode()


def test_the_header_loads_the_shortcuts_after_the_page(agent_client):
    html = agent_client.get("/queues/").content.decode()
    assert 'id="header-shortcuts"' in html and 'hx-get="/queues/shortcuts"' in html
    # a star clicked before the first fetch answers must still refresh it
    assert 'hx-trigger="load, shortcuts-changed from:body"' in html and 'hx-sync="this:replace"' in html
    assert 'id="global-search"' in html and 'role="combobox"' in html


def test_the_shortcuts_fragment_is_bounded(agent_client, lead, django_assert_max_num_queries):
    client = browser(lead)
    for n in range(5):
        client.post("/queues/general/views", {"name": f"View {n}", "querystring": "sla=late"})
    client.post("/queues/general/star", {"starred": "1"})
    client.get("/queues/shortcuts")
    # session, user, two permission look-ups, visible queues, starred queues, saved views
    with django_assert_max_num_queries(7):
        client.get("/queues/shortcuts", headers={"HX-Request": "true", "HX-Target": "header-shortcuts"})


def test_the_queue_page_shows_each_agent_their_own_star(agent_client, review_setup):
    from django.test import Client

    bob = factories.UserFactory(username="bob")
    review_setup.queue.members.add(bob)
    agent_client.post("/queues/general/star", {"starred": "1"})
    other = Client()
    other.force_login(bob)

    assert 'aria-pressed="true"' in agent_client.get("/queues/general/").content.decode()
    assert 'aria-pressed="false"' in other.get("/queues/general/").content.decode()
