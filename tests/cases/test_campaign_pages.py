"""Campaigns as people see them: the case page's panel, the campaign page, restricted members hidden from
the uncleared, the `campaign.size` signal in routing, and a lead's decision on a whole campaign."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from cases.detection.enrichment import enrich_case
from cases.models import Campaign, CampaignMember, Case, Decision, Signal
from cases.services.review.campaign_decisions import decide_campaign
from moderation.errors import Conflict, Forbidden
from moderation.models import AuditEvent
from queues.models import ScoreCondition
from tests import factories
from tests.cases.test_campaigns import VARIANTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def restricted_queue(db):
    return factories.QueueFactory(slug="child-safety", name="Child safety", is_restricted=True)


@pytest.fixture
def campaign_cases(review_setup, restricted_queue):
    """Four near-duplicates by four authors in `general`, and one restricted one alice may not see."""
    cases = [
        factories.OpenCaseFactory(
            queue=review_setup.queue,
            policy=review_setup.policies["spam"],
            subject__text=text,
            subject__author_id=f"author-{i}",
        )
        for i, text in enumerate(VARIANTS)
    ]
    secret = factories.OpenCaseFactory(
        queue=restricted_queue,
        policy=review_setup.policies["child-safety"],
        is_restricted=True,
        subject__text=VARIANTS[0] + " secret",
        subject__author_id="author-secret",
        subject__external_id="secret-subject-7",
    )
    for case in [*cases, secret]:
        enrich_case(case_id=case.pk)
    return cases, secret


@pytest.fixture
def lead(review_setup):
    user = factories.UserFactory(username="lena")
    user.user_permissions.add(
        Permission.objects.get(codename="bulk_decide"), Permission.objects.get(codename="act_on_protected")
    )
    review_setup.queue.members.add(user)
    return user


def lead_client(lead) -> Client:
    client = Client()
    client.force_login(lead)
    return client


def campaign(cases) -> Campaign:
    return CampaignMember.objects.get(case=cases[0]).campaign


# --- the case page and the campaign page -------------------------------------------------------------------


def test_the_case_page_shows_the_campaign_without_its_restricted_members(agent_client, campaign_cases):
    cases, secret = campaign_cases

    html = agent_client.get(f"/cases/{cases[1].pk}/").content.decode()

    assert 'data-testid="campaign-panel"' in html
    # Neither listed nor counted: "1 hidden" would tell alice a child-safety case shares this text.
    assert "4 members" in html and " hidden)" not in html
    assert f'href="/cases/{cases[0].pk}/"' in html
    assert f"/cases/{secret.pk}/" not in html and "author-secret" not in html
    assert "<svg" in html and "<rect" in html  # growth, drawn on the server
    assert "<script" not in html.split('data-testid="campaign-panel"')[1].split("</section>")[0]


def test_the_campaign_page_lists_visible_members_and_never_counts_the_restricted(
    agent_client, campaign_cases
):
    cases, secret = campaign_cases

    response = agent_client.get(f"/cases/campaigns/{campaign(cases).pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert all(f'data-case="{case.pk}"' in html for case in cases)
    assert f'data-case="{secret.pk}"' not in html and "author-secret" not in html and "secret" not in html
    assert "4 members" in html and " hidden)" not in html
    assert "Decide the campaign" not in html  # agents do not get the form


def test_a_cleared_reviewer_sees_the_restricted_member(campaign_cases, restricted_queue):
    cases, secret = campaign_cases
    cleared = factories.UserFactory(username="cleo")
    restricted_queue.members.add(cleared)
    restricted_queue.clearances.create(user=cleared)
    client = Client()
    client.force_login(cleared)

    html = client.get(f"/cases/campaigns/{campaign(cases).pk}/").content.decode()

    assert f'data-case="{secret.pk}"' in html
    assert "5 members" in html


def test_a_campaign_of_only_invisible_members_does_not_exist_for_the_viewer(campaign_cases):
    cases, _ = campaign_cases
    outsider = factories.UserFactory(username="mallory")
    factories.QueueFactory(slug="elsewhere").members.add(outsider)
    client = Client()
    client.force_login(outsider)

    assert client.get(f"/cases/campaigns/{campaign(cases).pk}/").status_code == 404
    assert client.get("/cases/campaigns/999999/").status_code == 404


def test_a_restricted_campaign_looks_like_any_other_to_the_uncleared(
    agent_client, review_setup, restricted_queue
):
    cases = [
        factories.OpenCaseFactory(
            queue=review_setup.queue, subject__text=f"go https://lure.test/{i}", subject__author_id=f"a{i}"
        )
        for i in range(2)
    ]
    secret = factories.OpenCaseFactory(
        queue=restricted_queue,
        is_restricted=True,
        subject__text="https://lure.test/x",
        subject__author_id="s",
    )
    for case in [*cases, secret]:
        enrich_case(case_id=case.pk)
    shared = Campaign.objects.get(kind=Campaign.Kind.SHARED_DOMAIN)
    assert shared.is_restricted and shared.shared_key == "lure.test"

    html = agent_client.get(f"/cases/{cases[0].pk}/").content.decode()

    panel = html.split('data-testid="campaign-panel"')[1].split("</section>")[0]
    # The host is in alice's own case; saying it is withheld, or counting the third member, would reveal it.
    assert "lure.test" in panel and "withheld" not in panel and "restricted" not in panel.lower()
    assert "2 members" in panel and "hidden" not in panel


def test_a_hostile_shared_host_is_shown_as_escaped_text_not_a_link(agent_client, review_setup):
    cases = [
        factories.OpenCaseFactory(
            queue=review_setup.queue,
            subject__text=f"{word} https://xn--pple-43d.test/{i}",  # apple.test with a Cyrillic a
            subject__author_id=f"a{i}",
        )
        for i, word in enumerate(["log in", "verify", "urgent"])
    ]
    for case in cases:
        enrich_case(case_id=case.pk)
    assert Campaign.objects.get().kind == Campaign.Kind.SHARED_DOMAIN

    html = agent_client.get(f"/cases/{cases[0].pk}/").content.decode()
    panel = html.split('data-testid="campaign-panel"')[1].split("</section>")[0]

    assert "xn--pple-43d.test" in panel
    assert 'href="https://xn--pple-43d.test' not in panel and 'href="http' not in panel


# --- routing on the campaign's size ------------------------------------------------------------------------


def test_a_rule_on_campaign_size_routes_the_case(review_setup):
    from cases.tasks import enrich_then_route

    wave = factories.QueueFactory(slug="campaigns", name="Campaigns")
    rule = factories.RoutingRuleFactory(name="campaigns of 3+", position=1, target_queue=wave)
    factories.ScoreConditionFactory(
        rule=rule,
        source=ScoreCondition.Source.CONTEXT,
        source_name="campaigns",
        label="campaign.size",
        threshold=3,
    )
    cases = [
        factories.CaseFactory(
            policy=review_setup.policies["spam"], subject__text=text, subject__author_id=f"author-{i}"
        )
        for i, text in enumerate(VARIANTS[:3])
    ]

    for case in cases:
        enrich_then_route(case.pk)

    queues = dict(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("pk", "queue__slug"))
    # The first two are no campaign yet; the third forms it and is routed by the rule.
    assert queues[cases[2].pk] == "campaigns"
    assert queues[cases[0].pk] == queues[cases[1].pk] == "general"
    assert Signal.objects.get(case=cases[2], label="campaign.size").value == 3


# --- a lead's decision on the whole campaign ---------------------------------------------------------------


def _decide(lead, review_setup, camp, expected):
    return decide_campaign(
        user=lead,
        campaign_id=camp.pk,
        policy_id=review_setup.policies["spam"].pk,
        action_id=review_setup.actions["remove"].pk,
        reason="coordinated spam",
        expected_count=expected,
    )


def test_a_campaign_decision_skips_protected_held_and_hidden_cases_and_audits_each(
    lead, bob, review_setup, campaign_cases
):
    cases, secret = campaign_cases
    protected, held, *rest = cases
    protected.subject.is_protected = True
    protected.subject.save(update_fields=["is_protected"])
    Case.objects.filter(pk=held.pk).update(
        assignee=bob, status="in_review", lease_expires_at=timezone.now() + timedelta(minutes=5)
    )

    outcome = _decide(lead, review_setup, campaign(cases), expected=len(rest))

    assert sorted(outcome.decided) == sorted(case.pk for case in rest)
    assert outcome.skipped_protected == [protected.pk]
    assert outcome.skipped_held == [held.pk]
    assert outcome.skipped_hidden == 0  # the restricted member is not even counted for an uncleared lead
    assert set(Decision.objects.values_list("case_id", flat=True)) == {case.pk for case in rest}
    recorded = AuditEvent.objects.filter(verb="decision.recorded")
    assert sorted(recorded.values_list("case_id", flat=True)) == sorted(case.pk for case in rest)
    batch = AuditEvent.objects.get(verb="campaign.decided")
    assert batch.data["skipped_hidden"] == 0 and batch.data["skipped_protected"] == [protected.pk]
    assert Case.objects.get(pk=secret.pk).status == Case.Status.OPEN


def test_a_subject_marked_protected_while_the_campaign_is_decided_is_skipped_not_decided(
    lead, review_setup, campaign_cases, monkeypatch
):
    """The plan reads protection once, unlocked; a lead marking a member's subject meanwhile still wins:
    each case is checked again under its lock, and a batch never decides a protected subject."""
    from cases.services.protection import set_subject_protection
    from cases.services.review import campaign_decisions
    from moderation.roles import LEAD, sync_roles

    lead.groups.add(sync_roles()[LEAD])  # a real lead: may decide protected subjects one by one
    cases, _ = campaign_cases
    first, *others = cases
    real = campaign_decisions.record_decision

    def marking_the_others_during_the_first(**kwargs):
        if kwargs["case_id"] == first.pk:
            set_subject_protection(
                subject_ids=[case.subject_id for case in others], protected=True, reason="Partner", user=lead
            )
        return real(**kwargs)

    monkeypatch.setattr(campaign_decisions, "record_decision", marking_the_others_during_the_first)

    outcome = _decide(lead, review_setup, campaign(cases), expected=len(cases))

    assert outcome.decided == [first.pk]
    assert sorted(outcome.skipped_protected) == sorted(case.pk for case in others)
    assert set(Decision.objects.values_list("case_id", flat=True)) == {first.pk}


def test_a_campaign_that_changed_since_the_confirmation_decides_nothing(lead, review_setup, campaign_cases):
    cases, _ = campaign_cases

    with pytest.raises(Conflict):
        _decide(lead, review_setup, campaign(cases), expected=2)  # 4 would be decided

    assert not Decision.objects.exists()


def test_only_leads_decide_a_campaign(review_setup, campaign_cases, agent_client):
    cases, _ = campaign_cases

    with pytest.raises(Forbidden):
        _decide(review_setup.agent, review_setup, campaign(cases), expected=4)
    response = agent_client.post(
        f"/cases/campaigns/{campaign(cases).pk}/decide",
        {"policy": review_setup.policies["spam"].pk, "action": review_setup.actions["remove"].pk},
    )

    assert response.status_code == 403
    assert not Decision.objects.exists()


def test_the_campaign_form_confirms_the_count_then_decides(lead, review_setup, campaign_cases):
    cases, _ = campaign_cases
    client = lead_client(lead)
    url = f"/cases/campaigns/{campaign(cases).pk}/"

    page = client.get(url).content.decode()
    assert "4 open cases will be decided" in page and 'name="expected" value="4"' in page
    unconfirmed = client.post(
        url + "decide",
        {
            "policy": review_setup.policies["spam"].pk,
            "action": review_setup.actions["remove"].pk,
            "expected": 4,
        },
    )
    assert unconfirmed.status_code == 409 and not Decision.objects.exists()

    done = client.post(
        url + "decide",
        {
            "policy": review_setup.policies["spam"].pk,
            "action": review_setup.actions["remove"].pk,
            "expected": 4,
            "confirm": "yes",
            "reason": "spam wave",
        },
        follow=True,
    )

    assert done.status_code == 200
    assert "Decided 4 case(s)" in done.content.decode()
    assert Decision.objects.count() == 4


def test_a_bad_policy_in_the_campaign_form_names_the_field(lead, review_setup, campaign_cases):
    cases, _ = campaign_cases
    response = lead_client(lead).post(
        f"/cases/campaigns/{campaign(cases).pk}/decide",
        {"policy": "not-a-number", "action": "x", "expected": 4, "confirm": "yes"},
    )

    assert response.status_code == 422
    assert "Choose a policy." in response.content.decode()
    assert not Decision.objects.exists()


# --- attack pass: nothing derived from a restricted member reaches the uncleared ---------------------------


def test_the_growth_line_counts_restricted_members_only_for_the_cleared(
    campaign_cases, restricted_queue, bob
):
    from cases.campaign_selectors import campaign_detail

    cases, _ = campaign_cases
    restricted_queue.members.add(bob)
    restricted_queue.clearances.create(user=bob)
    alice = factories.UserFactory(username="alice-2")
    cases[0].queue.members.add(alice)

    uncleared = campaign_detail(campaign_id=campaign(cases).pk, user=alice)
    cleared = campaign_detail(campaign_id=campaign(cases).pk, user=bob)

    assert sum(day.count for day in uncleared.growth) == 4
    assert sum(day.count for day in cleared.growth) == 5
    assert (uncleared.member_count, uncleared.hidden_count) == (4, 0)
    assert (cleared.member_count, cleared.hidden_count) == (5, 0)


def test_a_member_in_another_open_queue_is_still_counted_as_hidden(agent_client, campaign_cases, lead):
    cases, _ = campaign_cases
    elsewhere = factories.OpenCaseFactory(
        queue=factories.QueueFactory(slug="elsewhere"), subject__text=VARIANTS[1], subject__author_id="far"
    )
    enrich_case(case_id=elsewhere.pk)
    assert CampaignMember.objects.get(case=elsewhere).campaign == campaign(cases)

    html = agent_client.get(f"/cases/campaigns/{campaign(cases).pk}/").content.decode()

    assert "5 members (1 hidden)" in html  # the spam case elsewhere; the restricted one not at all
    page = lead_client(lead).get(f"/cases/campaigns/{campaign(cases).pk}/").content.decode()
    assert "1 you may not see" in page
