"""A service's refusal is one of four kinds (`moderation.errors`), answered the same way everywhere: each kind
has its status on a page, on an HTMX fragment and on the API, mapped in one place per edge."""

import json

import pytest

from cases.models import Decision, SubjectTag
from cases.services.review import decisions
from cases.services.review.common import CaseNotVisible
from tests import factories

pytestmark = pytest.mark.django_db

PAGE_STATUS = {"not-found": 404, "forbidden": 403, "conflict": 409, "invalid": 422}
API_STATUS = {"not-found": 404, "forbidden": 403, "conflict": 409, "invalid": 400}


@pytest.mark.urls("tests.moderation.error_urls")
@pytest.mark.parametrize("kind", PAGE_STATUS)
def test_each_kind_answers_a_page_with_its_status(client, kind):
    response = client.get(f"/page/{kind}/")

    assert response.status_code == PAGE_STATUS[kind]
    if kind != "not-found":  # a 404 is the site's 404 page: it says no more than any missing page
        assert response.content.decode() == f"Refused ({kind})."


@pytest.mark.urls("tests.moderation.error_urls")
@pytest.mark.parametrize("kind", PAGE_STATUS)
def test_each_kind_answers_a_fragment_with_its_status_and_a_toast_where_htmx_would_not_swap(client, kind):
    response = client.get(f"/page/{kind}/", HTTP_HX_REQUEST="true")

    assert response.status_code == PAGE_STATUS[kind]
    if PAGE_STATUS[kind] in (403, 404):
        assert json.loads(response["HX-Trigger"])["toast"]["message"] == f"Refused ({kind})."
    else:  # 409 and 422 are swapped in: the answer itself is what the agent sees
        assert "HX-Trigger" not in response


@pytest.mark.urls("tests.moderation.error_urls")
@pytest.mark.parametrize("kind", API_STATUS)
def test_each_kind_answers_the_api_with_its_status_and_the_error_body(client, kind):
    response = client.get(f"/api/v1/refuse/{kind}/")

    assert response.status_code == API_STATUS[kind]
    body = response.json()
    assert (
        body["error"]
        == {
            "not-found": "not_found",
            "forbidden": "permission_denied",
            "conflict": "conflict",
            "invalid": "validation_error",
        }[kind]
    )
    if kind in ("conflict", "invalid"):
        assert body["fields"] == {"thing": [f"Refused ({kind})."]}
    else:
        assert body["detail"] == f"Refused ({kind})." and "fields" not in body
    assert body.get("existing") == ({"id": 7} if kind == "conflict" else None)


# --- The real pages ----------------------------------------------------------------------------------------


@pytest.fixture
def protected_case(review_setup):
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
    tag = factories.TagFactory(slug="high-profile", is_protected=True)
    SubjectTag.objects.create(subject=case.subject, tag=tag)
    return factories.hold(case, review_setup.agent)


def post_decision(agent_client, case, review_setup, **headers):
    return agent_client.post(
        f"/cases/{case.pk}/decide",
        {"policy": case.policy_id, "action": review_setup.actions["remove"].pk, "version": case.version},
        **headers,
    )


def test_deciding_a_protected_subject_is_forbidden_on_the_page_with_the_reason_inline(
    agent_client, protected_case, review_setup
):
    response = post_decision(agent_client, protected_case, review_setup)

    assert response.status_code == 403
    assert 'id="decision-error"' in response.content.decode()
    assert not Decision.objects.exists()


def test_deciding_a_protected_subject_from_a_fragment_is_forbidden_with_a_toast(
    agent_client, protected_case, review_setup
):
    response = post_decision(
        agent_client, protected_case, review_setup, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="case-main"
    )

    assert response.status_code == 403
    assert "only leads can act on it" in json.loads(response["HX-Trigger"])["toast"]["message"]


def test_adding_a_protected_tag_from_the_fragment_is_forbidden(agent_client, review_setup):
    case = factories.OpenCaseFactory(queue=review_setup.queue)
    factories.TagFactory(slug="high-profile", is_protected=True)

    response = agent_client.post(
        f"/cases/{case.pk}/tags", {"tag": "high-profile"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="tags"
    )

    assert response.status_code == 403
    assert "Only leads" in json.loads(response["HX-Trigger"])["toast"]["message"]


def test_a_case_that_leaves_the_agents_view_before_the_service_runs_is_a_404_not_a_500(
    agent_client, review_setup, monkeypatch
):
    case = factories.hold(factories.OpenCaseFactory(queue=review_setup.queue), review_setup.agent)

    def gone(case_id, user):  # e.g. restricted between the page's look-up and the service's lock
        raise CaseNotVisible(case_id)

    monkeypatch.setattr(decisions, "lock_visible_case", gone)

    assert post_decision(agent_client, case, review_setup).status_code == 404
