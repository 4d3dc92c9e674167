"""What a security review of the case page found, kept fixed: no leaks from restricted queues through related
cases, no unaudited media bytes, a heartbeat that beats at its interval, required versions, and HTMX requests
of expired sessions sent to the login page."""

import pytest
from django.test import Client

from cases.models import Case, Decision
from moderation.models import Action, AuditEvent
from queues.services import claim_case
from tests import factories

pytestmark = pytest.mark.django_db

HX_MAIN = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "case-main"}
MEDIA_URL = "https://media.platform.example/p.png"


@pytest.fixture
def case(review_setup):
    return factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies["harassment"],
        subject__author_id="author-x",
        subject__text="same words everywhere",
        subject__content_hash="hash-1",
        subject__media_urls=[MEDIA_URL],
    )


@pytest.fixture
def restricted_case(review_setup):
    """A case in a restricted queue alice is not a member of: same author, same content hash."""
    restricted = factories.QueueFactory(slug="child-safety", name="Child safety", is_restricted=True)
    hidden = factories.OpenCaseFactory(
        queue=restricted,
        policy=review_setup.policies["child-safety"],
        subject__author_id="author-x",
        subject__text="same words everywhere",
        subject__content_hash="hash-1",
        subject__external_id="secret-subject",
    )
    factories.DecisionFactory(case=hidden, action=review_setup.actions["remove"])
    return hidden


def test_author_history_and_same_content_show_only_cases_the_agent_may_see(
    agent_client, case, restricted_case
):
    html = agent_client.get(f"/cases/{case.pk}/").content.decode()

    assert f"#{restricted_case.pk}" not in html
    assert "secret-subject" not in html
    assert "Child safety" not in html.split('id="decide-title"')[0]  # not in the evidence column
    assert "0 earlier enforcements" in html


def test_a_superuser_sees_the_restricted_related_case(client, case, restricted_case):
    client.force_login(factories.UserFactory(username="root", is_superuser=True))

    html = client.get(f"/cases/{case.pk}/").content.decode()

    assert f"#{restricted_case.pk}" in html
    assert "1 earlier enforcement " in html


def test_every_media_copy_sent_to_a_browser_is_audited(agent_client, case, review_setup):
    factories.MediaFileFactory(url=MEDIA_URL)

    response = agent_client.get(f"/cases/{case.pk}/media/0")

    assert response.status_code == 200
    served = AuditEvent.objects.filter(verb="media.served", case_id=case.pk)
    assert served.count() == 1
    assert served.get().actor_label == review_setup.agent.username
    assert served.get().data == {"index": 0}


def test_the_first_render_beats_once_on_load_and_later_beats_only_on_the_interval(agent_client, case):
    page = agent_client.get(f"/cases/{case.pk}/").content.decode()
    beat = agent_client.post(f"/cases/{case.pk}/heartbeat", {"holding": "0"}, HTTP_HX_REQUEST="true")

    assert 'hx-trigger="load delay:1s, every 30s"' in page
    assert 'hx-trigger="every 30s"' in beat.content.decode()
    assert "load" not in beat.content.decode().split("hx-trigger=")[1].split('"')[1]


def test_a_lost_lease_warning_stays_on_every_later_beat(agent_client, case, review_setup):
    claim_case(case_id=case.pk, user=review_setup.agent)
    bob = factories.UserFactory(username="bob")
    Case.objects.filter(pk=case.pk).update(assignee=bob)  # taken over (e.g. after the lease ran out)

    first = agent_client.post(f"/cases/{case.pk}/heartbeat", {"holding": "1"}, HTTP_HX_REQUEST="true")
    first_html = first.content.decode()
    again = agent_client.post(f"/cases/{case.pk}/heartbeat", {"holding": "1"}, HTTP_HX_REQUEST="true")

    assert "You no longer hold this case" in first_html
    assert '"holding": "1"' in first_html  # the page keeps reporting it, so the warning persists
    assert "You no longer hold this case" in again.content.decode()


@pytest.mark.parametrize("version", ["", "0", "x", str(2**64)])
def test_a_decision_without_a_valid_version_is_a_conflict_and_writes_nothing(
    agent_client, case, review_setup, version
):
    factories.hold(case, review_setup.agent)  # holding it: only the version is wrong

    response = agent_client.post(
        f"/cases/{case.pk}/decide",
        {
            "policy": review_setup.policies["harassment"].pk,
            "action": review_setup.actions["remove"].pk,
            "version": version,
        },
        **HX_MAIN,
    )

    assert response.status_code == 409
    assert "did not say which version" in response.content.decode()
    assert not Decision.objects.filter(case=case).exists()
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN


def test_a_decision_from_an_agent_only_viewing_the_case_is_a_conflict_and_writes_nothing(
    agent_client, case, review_setup
):
    # Keys pressed on a case one only browses decide nothing: the agent must claim it first.
    response = agent_client.post(
        f"/cases/{case.pk}/decide",
        {
            "policy": review_setup.policies["harassment"].pk,
            "action": review_setup.actions["remove"].pk,
            "version": case.version,
        },
        **HX_MAIN,
    )

    assert response.status_code == 409
    assert "Claim this case before deciding it" in response.content.decode()
    assert not Decision.objects.filter(case=case).exists()
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN


def test_an_escalation_without_a_version_is_a_conflict(agent_client, case, review_setup):
    other = factories.QueueFactory(slug="specialists")

    response = agent_client.post(
        f"/cases/{case.pk}/escalate", {"queue": other.pk, "note": "please look"}, **HX_MAIN
    )

    assert response.status_code == 409
    assert Case.objects.get(pk=case.pk).queue_id == case.queue_id


def test_an_htmx_request_of_an_expired_session_navigates_to_login(case):
    anonymous = Client()

    response = anonymous.post(f"/cases/{case.pk}/heartbeat", {"holding": "1"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/")
    assert b"password" not in response.content


def test_a_plain_request_of_an_expired_session_still_redirects(case):
    response = Client().get(f"/cases/{case.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_releasing_without_htmx_says_so_on_the_next_page(agent_client, case, review_setup):
    claim_case(case_id=case.pk, user=review_setup.agent)

    response = agent_client.post(f"/cases/{case.pk}/release", follow=True)

    assert f"Case {case.pk} went back to the queue." in response.content.decode()


def test_no_violation_decisions_are_not_sent_to_the_platform(agent_client, case, review_setup):
    assert review_setup.actions["no-violation"].kind == Action.Kind.NO_VIOLATION
    factories.hold(case, review_setup.agent)
    response = agent_client.post(
        f"/cases/{case.pk}/decide",
        {
            "policy": review_setup.policies["harassment"].pk,
            "action": review_setup.actions["no-violation"].pk,
            "version": case.version,
        },
        **HX_MAIN,
    )

    assert response.status_code == 200
    assert not case.enforcements.exists()
