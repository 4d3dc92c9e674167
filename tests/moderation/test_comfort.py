"""Wellness settings: personal choices over the organisation's defaults, applied on every page from the
session; exposure from the audit log's reveals; timestamps with their zone; readable audit details."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from moderation.audit import Actor, Verb, record_event
from moderation.comfort import Comfort, exposure_seconds, my_exposure, resolve_comfort
from moderation.comfort_models import OrgDefaults, UserSettings
from moderation.models import AuditEvent
from moderation.templatetags.readable import detail_items, stamp
from queues.comfort_selectors import team_exposure
from tests import factories

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_a_person_follows_the_org_defaults_until_they_choose(db):
    OrgDefaults.objects.create(pk=1, blur="strong", exposure_budget_minutes=45)
    user = factories.UserFactory()

    assert resolve_comfort(user).blur == "strong"
    UserSettings.objects.create(user=user, blur="light")
    comfort = resolve_comfort(user)
    assert (comfort.blur, comfort.exposure_budget_minutes) == ("light", 45)


def test_saving_my_settings_is_audited_and_applies_to_the_next_page(agent_client, review_setup):
    response = agent_client.post(
        reverse("my-settings"),
        {
            "blur": "strong",
            "greyscale": "off",
            "enlarge_on_reveal": "on",
            "theme": "dark",
            "time_zone": "Europe/Berlin",
        },
    )

    assert response.status_code == 302
    own = UserSettings.objects.get(user=review_setup.agent)
    assert (own.blur, own.greyscale, own.theme, own.auto_reveal) == ("strong", False, "dark", None)
    event = AuditEvent.objects.get(verb=Verb.SETTINGS_CHANGED)
    assert event.actor_id == str(review_setup.agent.pk) and event.data["blur"] == "strong"
    html = agent_client.get(reverse("queues:dashboard")).content.decode()
    assert '<html lang="en" class="theme-dark">' in html
    assert 'class="blur-strong colour-media mute-video enlarge-on-reveal"' in html


def test_an_unknown_time_zone_or_a_budget_over_a_day_is_refused(agent_client, review_setup):
    response = agent_client.post(
        reverse("my-settings"), {"time_zone": "Mars/Olympus", "exposure_budget_minutes": "2000"}
    )

    assert response.status_code == 422
    assert not UserSettings.objects.filter(user=review_setup.agent).exists()


def test_the_settings_are_read_from_the_session_without_a_query(
    agent_client, review_setup, django_assert_num_queries
):
    UserSettings.objects.create(user=review_setup.agent, theme="light")
    agent_client.force_login(review_setup.agent)  # login copies the settings into the session
    from django.test import RequestFactory

    from moderation.comfort import SESSION_KEY, session_comfort

    request = RequestFactory().get("/")
    request.session = {SESSION_KEY: agent_client.session[SESSION_KEY]}
    with django_assert_num_queries(0):
        assert session_comfort(request).html_class == "theme-light"


def test_logging_in_with_a_chosen_time_zone_shows_page_times_in_it(agent_client, review_setup):
    UserSettings.objects.create(user=review_setup.agent, time_zone="Asia/Tokyo")
    agent_client.force_login(review_setup.agent)
    review_setup.agent.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    record_event(
        actor=Actor.for_user(review_setup.agent), verb=Verb.SETTINGS_CHANGED, target=review_setup.agent
    )

    html = agent_client.get(reverse("audit-log")).content.decode()

    assert " JST</time>" in html


# --- exposure ---------------------------------------------------------------------------------------------


def test_each_reveal_counts_two_minutes_and_overlaps_count_once(settings):
    settings.EXPOSURE_PER_REVEAL_SECONDS = 120
    reveals = [T0, T0 + timedelta(seconds=60), T0 + timedelta(minutes=10)]

    assert exposure_seconds(reveals) == 180 + 120
    assert exposure_seconds([]) == 0


def _reveal(user, case_id=None):
    return record_event(
        actor=Actor.for_user(user), verb=Verb.MEDIA_REVEALED, target=user, case_id=case_id, data={}
    )


def test_past_the_budget_the_header_suggests_a_break(agent_client, review_setup, settings):
    settings.EXPOSURE_PER_REVEAL_SECONDS = 7 * 60
    UserSettings.objects.create(user=review_setup.agent, exposure_budget_minutes=5)
    agent_client.force_login(review_setup.agent)

    assert 'data-badge="break"' not in agent_client.get(reverse("queues:badges")).content.decode()
    _reveal(review_setup.agent)  # (the audit log is append-only: its times cannot be moved back)

    html = agent_client.get(reverse("queues:badges")).content.decode()
    assert 'data-badge="break"' in html and "7 min of revealed media today (your budget: 5)" in html
    assert my_exposure(review_setup.agent, Comfort(exposure_budget_minutes=5)).over_budget


def _lead():
    user = factories.UserFactory(username="lena")
    user.user_permissions.add(
        Permission.objects.get(codename="view_case", content_type__app_label="cases"),
        Permission.objects.get(codename="view_all_queues", content_type__app_label="queues"),
    )
    return type(user).objects.get(pk=user.pk)


def test_leads_see_team_exposure_only_aggregated_and_not_for_fewer_than_three_people(review_setup):
    case = factories.CaseFactory(queue=review_setup.queue)
    agents = [factories.UserFactory(username=f"agent{n}") for n in range(2)]
    for agent in agents:
        _reveal(agent, case.pk)
    lead = _lead()

    assert not team_exposure(lead, Comfort(), budget_minutes=60).shown
    _reveal(factories.UserFactory(username="agent3"), case.pk)
    figures = team_exposure(lead, Comfort(), budget_minutes=60)
    assert figures.shown and figures.people == 3


def test_reveals_on_restricted_cases_are_left_out_of_an_uncleared_leads_figures(review_setup):
    restricted = factories.QueueFactory(slug="child-safety", is_restricted=True)
    hidden = factories.CaseFactory(queue=restricted, is_restricted=True)
    for n in range(3):
        _reveal(factories.UserFactory(username=f"cleared{n}"), hidden.pk)

    assert team_exposure(_lead(), Comfort(), budget_minutes=60).people == 0


def test_my_settings_page_shows_my_exposure_and_a_lead_the_team_figures(client, review_setup):
    lead = _lead()
    client.force_login(lead)

    html = client.get(reverse("my-settings")).content.decode()

    assert 'data-exposure-minutes="0"' in html and "Team exposure today" in html
    client.force_login(review_setup.agent)
    assert "Team exposure today" not in client.get(reverse("my-settings")).content.decode()


# --- timestamps and audit details -------------------------------------------------------------------------


def test_a_timestamp_names_its_time_zone():
    with timezone.override("Europe/Berlin"):
        assert stamp(T0) == "2026-12-02 10:00 CET"
    assert stamp(T0, "seconds") == "2026-12-02 09:00:00 UTC"
    assert stamp(None) == ""


def test_audit_details_read_as_key_value_pairs():
    assert detail_items({"first_decider": 7, "muted": True, "labels": ["a", "b"], "reason": ""}) == [
        ("first decider", "7"),
        ("labels", "a, b"),
        ("muted", "yes"),
        ("reason", "—"),
    ]


def test_the_audit_log_lists_details_escaped_not_as_json(admin_client, db):
    user = factories.UserFactory()
    record_event(
        actor=Actor.for_user(user), verb=Verb.SETTINGS_CHANGED, target=user, data={"note": "<b>x</b>"}
    )

    html = admin_client.get(reverse("audit-log")).content.decode()

    assert "<dt>note</dt><dd>&lt;b&gt;x&lt;/b&gt;</dd>" in html
    assert '{"note"' not in html


# --- error pages ------------------------------------------------------------------------------------------


def test_a_missing_page_is_the_styled_404_saying_what_to_do_next(agent_client):
    response = agent_client.get("/no-such-page/")

    assert response.status_code == 404
    assert "Go to your queues" in response.content.decode()


def test_a_forbidden_page_is_the_styled_403(client, db):
    user = factories.UserFactory(is_staff=False)
    client.force_login(user)

    response = client.get(reverse("dsa:statements"))

    assert response.status_code == 403
    assert "ask an admin for the role" in response.content.decode()


def test_a_server_error_is_the_styled_500_without_the_request(rf):
    from moderation.views import server_error

    response = server_error(rf.get("/queues/"))

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


@pytest.mark.parametrize("name", ["403.html", "404.html", "500.html"])
def test_error_pages_extend_the_base_and_carry_no_inline_script_or_style(name):
    from django.conf import settings

    text = (settings.BASE_DIR / "templates" / name).read_text()
    assert text.startswith('{% extends "base.html" %}')
    assert "<script" not in text and "style=" not in text


def test_the_case_page_gives_each_age_its_timestamp_with_the_zone(agent_client, review_setup):
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
    factories.ReportFactory(case=case)

    html = agent_client.get(reverse("cases:review", args=[case.pk])).content.decode()

    assert re.search(r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">\d+s ago</time>', html)


def test_the_header_theme_button_cycles_and_goes_back_to_the_page(agent_client, review_setup):
    response = agent_client.post(reverse("switch-theme"), {"next": "/queues/general/"})

    assert response.status_code == 302 and response["Location"] == "/queues/general/"
    assert UserSettings.objects.get(user=review_setup.agent).theme == "dark"
    agent_client.post(reverse("switch-theme"), {"next": "https://evil.example/"})
    assert UserSettings.objects.get(user=review_setup.agent).theme == "light"
    response = agent_client.post(reverse("switch-theme"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("queues:dashboard")
    assert 'class="theme-' not in agent_client.get(reverse("queues:dashboard")).content.decode()
