"""Restricted content stays restricted wherever it goes (`cases.services.restriction`, `queues.selectors`).

`child-safety` is a restricted policy; `csam` a restricted queue. `carol` is a member of it with a clearance;
`alice` works the open `general` queue; `lena` is a lead (sees every unrestricted queue) without clearance.
"""

from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client

from cases.models import Case, Decision, Scorer
from cases.services import review
from cases.tasks import enrich_then_route as enrich_case
from moderation.audit import Actor, record_event
from moderation.models import AuditEvent, EnforcementEndpoint
from queues.admin import RoutingRuleForm
from queues.models import Queue, QueueClearance
from queues.selectors import can_view_case, visible_audit_events, visible_cases, visible_queue_ids
from queues.services import route_case
from tests import factories
from tests.accounts import fresh, person

pytestmark = pytest.mark.django_db

MESSAGE = {"kind": "message", "external_id": "msg-1", "author_id": "author-9", "text": "report me"}


@pytest.fixture
def world(review_setup, policies):
    policies["child-safety"].is_restricted = True
    policies["child-safety"].save()
    csam = factories.QueueFactory(slug="csam", name="Child safety", is_restricted=True)
    carol = factories.UserFactory(username="carol")
    csam.members.add(carol)
    QueueClearance.objects.create(queue=csam, user=carol, reason="trained")
    factories.RoutingRuleFactory(name="child safety", target_queue=csam).policies.add(
        policies["child-safety"]
    )
    lena = factories.UserFactory(username="lena")
    from django.contrib.auth.models import Permission

    lena.user_permissions.add(Permission.objects.get(codename="view_all_queues"))
    return SimpleNamespace(
        csam=csam, carol=fresh(carol), alice=review_setup.agent, lena=fresh(lena), general=review_setup.queue
    )


def send(client, report_body, external_id, reason, subject=MESSAGE):
    response = client.post(
        "/api/v1/reports", report_body(external_id=external_id, reason=reason, subject=subject), format="json"
    )
    assert response.status_code in (200, 201), response.content
    return Case.objects.get(pk=response.json()["case_id"])


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- A case that becomes restricted ------------------------------------------------------------------------


def test_a_child_safety_report_pulls_the_case_out_of_the_open_queue_at_once(world, api, report_body):
    case = send(api, report_body, "r-1", "harassment")
    route_case(case_id=case.pk)
    case = factories.hold(Case.objects.get(pk=case.pk), world.alice)
    assert case.queue == world.general

    send(api, report_body, "r-2", "child-safety")

    case.refresh_from_db()
    assert case.is_restricted and case.queue is None and case.assignee is None
    assert not can_view_case(fresh(world.alice), case)
    assert browser(world.alice).get(f"/cases/{case.pk}/").status_code == 404
    assert not can_view_case(world.lena, case)  # a lead uncleared for child safety: unrouted is restricted
    route_case(case_id=case.pk)
    case.refresh_from_db()
    assert case.queue == world.csam
    assert can_view_case(fresh(world.carol), case) and not can_view_case(fresh(world.lena), case)


def test_restriction_is_sticky_on_the_subject_and_its_earlier_cases(world, api, report_body, review_setup):
    first = send(api, report_body, "r-1", "harassment")
    route_case(case_id=first.pk)
    Case.objects.filter(pk=first.pk).update(status=Case.Status.RESOLVED)
    later = send(api, report_body, "r-2", "child-safety", subject={**MESSAGE, "text": "report me again"})

    assert Case.objects.get(pk=first.pk).is_restricted  # the decided case's content is restricted too
    assert first.pk not in visible_cases(fresh(world.alice)).values_list("pk", flat=True)
    # A new report on the subject later, under an open policy, is still restricted.
    Case.objects.filter(pk=later.pk).update(status=Case.Status.RESOLVED)
    again = send(api, report_body, "r-3", "spam", subject={**MESSAGE, "text": "third"})
    assert again.is_restricted
    route_case(case_id=again.pk)
    assert Case.objects.get(pk=again.pk).queue.is_restricted


def test_marking_a_policy_restricted_restricts_what_was_already_reported_under_it(
    world, api, report_body, policies
):
    case = send(api, report_body, "r-1", "harassment")
    route_case(case_id=case.pk)

    policies["harassment"].is_restricted = True
    policies["harassment"].save()

    case.refresh_from_db()
    assert case.is_restricted and case.queue is None
    assert AuditEvent.objects.filter(verb="policy.restricted_cases").exists()


# --- Routing and escalation never send it to an open queue -------------------------------------------------


def test_a_rule_sending_a_restricted_policy_to_an_open_queue_is_refused_on_save(world, policies):
    form = RoutingRuleForm(data={"policies": [policies["child-safety"].pk], "target_queue": world.general.pk})

    assert not form.is_valid()
    assert "restricted" in form.errors["target_queue"][0]


def test_at_routing_time_a_restricted_case_never_lands_in_an_open_queue(world, api, report_body, policies):
    # An over-broad rule (no policy condition) sends everything to the open queue, ahead of the csam rule.
    factories.RoutingRuleFactory(name="everything", position=1, target_queue=world.general)
    case = send(api, report_body, "r-1", "child-safety")

    route_case(case_id=case.pk)

    case.refresh_from_db()
    assert case.queue.slug == settings.RESTRICTED_TRIAGE_QUEUE_SLUG and case.queue.is_restricted


def test_a_restricted_case_is_escalated_only_to_restricted_queues(world, api, report_body):
    case = send(api, report_body, "r-1", "child-safety")
    route_case(case_id=case.pk)
    case = factories.hold(Case.objects.get(pk=case.pk), world.carol)

    with pytest.raises(review.ReviewError) as refused:
        review.escalate_case(
            case_id=case.pk,
            user=world.carol,
            queue_id=world.general.pk,
            note="?",
            expected_version=case.version,
        )
    assert refused.value.field == "queue"
    page = browser(world.carol).get(f"/cases/{case.pk}/").content.decode()
    escalate = page.split('id="escalate-queue"')[1].split("</select>")[0]
    assert "General" not in escalate


def test_an_open_queue_never_lists_a_restricted_case_left_in_it(world, api, report_body):
    case = send(api, report_body, "r-1", "harassment")
    route_case(case_id=case.pk)
    Case.objects.filter(pk=case.pk).update(is_restricted=True)  # however it got there

    page = browser(world.alice).get(f"/queues/{world.general.slug}/").content.decode()

    assert "report me" not in page and f"/cases/{case.pk}/" not in page


# --- Appeals -----------------------------------------------------------------------------------------------


def test_the_appeals_queues_exist_from_the_start_and_leads_see_the_open_one(db):
    lead = person("lara", "lead")
    appeals = Queue.objects.get(slug=settings.APPEALS_QUEUE_SLUG)
    restricted = Queue.objects.get(slug=settings.APPEALS_RESTRICTED_QUEUE_SLUG)

    assert restricted.is_restricted and not appeals.is_restricted
    assert appeals.pk in visible_queue_ids(lead)
    assert restricted.pk not in visible_queue_ids(lead)  # a member, but not cleared
    QueueClearance.objects.create(queue=restricted, user=lead, reason="trained")
    assert restricted.pk in visible_queue_ids(fresh(lead))


def test_an_appeal_of_a_child_safety_decision_goes_to_the_restricted_appeals_queue(world, api, report_body):
    EnforcementEndpoint.objects.create(name="p", url="https://platform.example/h", secret="s" * 40)
    case = send(api, report_body, "r-1", "child-safety")
    route_case(case_id=case.pk)
    case = factories.hold(Case.objects.get(pk=case.pk), world.carol)
    decision = review.record_decision(
        case_id=case.pk,
        user=world.carol,
        policy_id=case.policy_id,
        action_id=Decision._meta.get_field("action").related_model.objects.get(code="remove").pk,
        expected_version=case.version,
    )

    filed = api.post(
        "/api/v1/appeals",
        {"external_id": "ap-1", "decision_id": decision.pk, "statement": "not me"},
        format="json",
    )

    assert filed.status_code == 201
    appeal_case = Case.objects.get(kind=Case.Kind.APPEAL)
    assert appeal_case.is_restricted
    assert appeal_case.queue.slug == settings.APPEALS_RESTRICTED_QUEUE_SLUG
    lead = person("lara", "lead")
    assert not can_view_case(lead, appeal_case)


# --- Derived things: audit rows, 404s, sources -------------------------------------------------------------


def test_audit_rows_of_a_restricted_case_stay_hidden_from_the_uncleared(world, api, report_body):
    case = send(api, report_body, "r-1", "child-safety")
    route_case(case_id=case.pk)
    record_event(actor=Actor.system("test"), verb="media.revealed", target=case, case_id=case.pk)

    lena_sees = visible_audit_events(world.lena, AuditEvent.objects.filter(case_id=case.pk))
    carol_sees = visible_audit_events(world.carol, AuditEvent.objects.filter(case_id=case.pk))

    assert not lena_sees.exists() and carol_sees.exists()


def test_a_restricted_case_answers_like_a_missing_id_with_the_same_queries(
    world, api, report_body, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    case = send(api, report_body, "r-1", "child-safety")
    route_case(case_id=case.pk)
    client = browser(world.alice)
    counts = []
    for case_id in (case.pk, case.pk + 1000):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/cases/{case_id}/")
        assert response.status_code == 404
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_an_outside_scorer_never_receives_restricted_content_unless_a_superuser_vetted_it(
    world, api, report_body, httpserver, settings
):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    httpserver.expect_request("/score").respond_with_json({"toxicity": 0.4})
    scorer = Scorer.objects.create(
        name="outside", kind=Scorer.Kind.HTTP, url=httpserver.url_for("/score"), timeout_seconds=2
    )
    case = send(api, report_body, "r-1", "child-safety")

    enrich_case(case_id=case.pk)
    assert len(httpserver.log) == 0

    Scorer.objects.filter(pk=scorer.pk).update(receives_restricted_content=True)
    from cases.selectors import forget_signal_sources

    forget_signal_sources()
    enrich_case(case_id=case.pk)
    assert len(httpserver.log) == 1


def test_only_a_superuser_configures_a_source_that_receives_restricted_content(world):
    from tests.accounts import logged_in

    scorer = Scorer.objects.create(
        name="vetted", kind=Scorer.Kind.HTTP, url="https://scorer.example/x", receives_restricted_content=True
    )
    admin = person("adam", "admin")
    client = logged_in(admin)

    assert client.get(f"/admin/cases/scorer/{scorer.pk}/change/").status_code in (200, 403)
    posted = client.post(
        f"/admin/cases/scorer/{scorer.pk}/change/",
        {"name": "vetted", "kind": "http", "url": "https://evil.example/steal", "timeout_seconds": 3},
    )
    assert posted.status_code == 403
    scorer.refresh_from_db()
    assert scorer.url == "https://scorer.example/x"


def test_a_picture_that_is_also_restricted_evidence_is_withheld_from_the_uncleared(world, api, report_body):
    from cases.detection.media import fetch_case_media

    png = factories.png_bytes(3, 3, (10, 20, 30)) if hasattr(factories, "png_bytes") else None
    restricted_case = send(
        api,
        report_body,
        "r-1",
        "child-safety",
        subject={**MESSAGE, "media_urls": ["https://a.example/x.png"]},
    )
    open_case = send(
        api,
        report_body,
        "r-2",
        "harassment",
        subject={
            "kind": "post",
            "external_id": "p-2",
            "text": "t",
            "media_urls": ["https://b.example/y.png"],
        },
    )
    route_case(case_id=open_case.pk)
    # The same bytes under two URLs; the restricted case's copy is marked when its media are fetched.
    factories.MediaFileFactory(url="https://a.example/x.png", content=png, sha256="d" * 64)
    factories.MediaFileFactory(url="https://b.example/y.png", content=png, sha256="d" * 64)
    fetch_case_media([restricted_case.pk])

    client = browser(world.alice)
    page = client.get(f"/cases/{open_case.pk}/").content.decode()

    assert "Withheld: this picture is also evidence in a restricted case" in page
    assert client.get(f"/cases/{open_case.pk}/media/0").status_code == 404


def test_claim_next_in_an_open_queue_never_hands_out_a_restricted_case_left_in_it(world, api, report_body):
    from queues.services import claim_next_case

    case = send(api, report_body, "r-1", "harassment")
    route_case(case_id=case.pk)
    Case.objects.filter(pk=case.pk).update(is_restricted=True)  # however it got there

    assert claim_next_case(user=fresh(world.alice), queue=world.general) is None
    assert Case.objects.get(pk=case.pk).assignee is None
