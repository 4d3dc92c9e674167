"""The Reporters & vendors dashboard and the outbox's delivery health, with its alert on the lead pages."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from cases.delivery_health import delivery_alert, delivery_health
from queues.selectors import visible_queue_ids
from tests.accounts import fresh
from tests.cases.oversight_world import build, by_label, csv_rows

URL = "/cases/oversight/sources"


@pytest.fixture
def world(review_setup):
    return build(review_setup)


@pytest.fixture
def lead_client(world):
    client = Client()
    client.force_login(world.lead)
    return client


def test_vendor_volume_and_accuracy_count_only_cases_the_lead_may_see(lead_client):
    table = by_label(csv_rows(lead_client.get(URL, {"csv": "vendor-figures"})))
    # Reports, upheld, rejected, accuracy %: Acme's report on the restricted case is not counted.
    assert table == {"Acme": ["3", "2", "1", "66.7"], "Beta": ["1", "0", "0", ""]}


def test_reports_by_vendor_land_on_the_day_they_were_received(lead_client, world):
    rows = csv_rows(lead_client.get(URL, {"csv": "reports-by-vendor"}))
    assert rows[0] == ["Period", "Acme (reports)", "Beta (reports)"]
    day = [row for row in rows[1:] if row[1] != "0"]
    assert day == [[world.when.strftime("%d %b"), "3", "1"]]


def test_top_reporters_show_their_track_record_and_mutes(lead_client):
    table = by_label(csv_rows(lead_client.get(URL, {"csv": "top-reporters"})))
    # Judged, upheld, rejected, accuracy %, muted: most judged first. rep-1's upheld report on the
    # restricted case is not counted for this uncleared lead (8 upheld all time, 7 she may see).
    assert list(table) == ["Acme: rep-1", "Beta: rep-2"]
    assert table["Acme: rep-1"] == ["9", "7", "2", "77.8", ""]
    assert table["Beta: rep-2"] == ["4", "1", "3", "25", "yes"]


def test_muted_reporters_are_counted_and_listed(lead_client):
    body = lead_client.get(URL).content.decode()
    assert '<span data-count="muted">1</span>' in body
    assert "rep-2" in body


def test_delivery_health_per_destination_hides_the_restricted_case(world):
    rows = {row.destination: row for row in delivery_health(fresh(world.lead))}
    assert set(rows) == {"Enforcements → Platform hook", "Callbacks → Acme"}
    enforcements = rows["Enforcements → Platform hook"]
    assert (enforcements.pending, enforcements.failing, enforcements.failed) == (1, 1, 1)
    callbacks = rows["Callbacks → Acme"]
    assert (callbacks.pending, callbacks.failing, callbacks.failed) == (0, 0, 1)
    assert enforcements.oldest_undelivered_at is not None


def test_the_delivery_alert_is_one_query_and_counts_what_the_user_may_see(world, django_assert_num_queries):
    lead = fresh(world.lead)
    visible_queue_ids(lead)  # memoised per request: the page has paid for it already
    with django_assert_num_queries(1):
        alert = delivery_alert(lead)
    assert (alert.pending, alert.failing, alert.failed) == (1, 1, 2)
    assert alert.is_alarming
    root = User.objects.create_superuser("root", "root@example.test", "x")
    with django_assert_num_queries(1):
        assert delivery_alert(root).failed == 3  # the restricted case's failed enforcement too


def _seen_directly(user) -> tuple[int, int, int]:
    """What the user may see of the outbox, counted straight off `visible_cases` (the rule of every page)."""
    from cases.models import Enforcement, VendorCallback
    from queues.selectors import visible_cases

    pending = failing = failed = 0
    for model in (Enforcement, VendorCallback):
        rows = model.objects.filter(state__in=("pending", "failed"), case__in=visible_cases(user))
        pending += rows.filter(state="pending").count()
        failing += rows.filter(state="pending", attempts__gt=0).count()
        failed += rows.filter(state="failed").count()
    return pending, failing, failed


def test_the_shared_counts_show_each_viewer_what_visible_cases_would(world):
    from queues.models import QueueClearance
    from tests import factories

    cleared = factories.UserFactory(username="cleo")
    world.restricted_queue.members.add(cleared)
    world.queue.members.add(cleared)
    QueueClearance.objects.create(user=cleared, queue=world.restricted_queue, reason="vetted")
    only_restricted = factories.UserFactory(username="rita")
    world.restricted_queue.members.add(only_restricted)
    QueueClearance.objects.create(user=only_restricted, queue=world.restricted_queue, reason="vetted")
    outsider = factories.UserFactory(username="olga")
    root = User.objects.create_superuser("root", "root@example.test", "x")

    for user in (world.lead, cleared, only_restricted, outsider, root):
        alert = delivery_alert(fresh(user))
        assert (alert.pending, alert.failing, alert.failed) == _seen_directly(fresh(user)), user.username
    assert delivery_alert(fresh(outsider)).failed == 0
    assert delivery_alert(fresh(cleared)).failed == 3


def test_the_counts_are_read_once_for_every_lead_while_cached(world, settings, django_assert_num_queries):
    settings.OUTBOX_STATS_CACHE_SECONDS = 5
    root = fresh(User.objects.create_superuser("root", "root@example.test", "x"))
    lead = fresh(world.lead)
    visible_queue_ids(lead)

    with django_assert_num_queries(1):
        assert delivery_alert(root).failed == 3
    with django_assert_num_queries(0):
        assert delivery_alert(lead).failed == 2  # the shared rows, filtered to what she may see


def test_no_alert_when_everything_is_delivered(world):
    from cases.models import Enforcement, VendorCallback

    Enforcement.objects.update(state="delivered")
    VendorCallback.objects.update(state="delivered")
    assert not delivery_alert(fresh(world.lead)).is_alarming


def test_the_alert_banner_is_on_this_page_and_the_lead_dashboard(lead_client, world):
    for path in (URL, "/queues/", "/cases/oversight/outcomes"):
        body = lead_client.get(path).content.decode()
        assert 'id="delivery-alert"' in body, path
        assert "2 given up, 1 failing" in body, path


def test_agents_see_no_delivery_banner_on_their_dashboard(agent_client, world):
    body = agent_client.get("/queues/").content.decode()
    assert 'id="delivery-alert"' not in body


def test_the_page_renders_with_bounded_queries(lead_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        response = lead_client.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('<svg class="chart') == 2
    assert 'id="deliveries"' in body


def test_agents_get_403(agent_client):
    assert agent_client.get(URL).status_code == 403


def test_a_bad_custom_range_is_422(lead_client):
    response = lead_client.get(URL, {"period": "custom", "from": "2026-01-01", "to": "2028-01-01"})
    assert response.status_code == 422
    assert "at most 366 days" in response.content.decode()


def test_a_superuser_counts_the_restricted_report_too(world):
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "x"))
    table = by_label(csv_rows(client.get(URL, {"csv": "vendor-figures"})))
    assert table["Acme"] == ["4", "3", "1", "75"]
