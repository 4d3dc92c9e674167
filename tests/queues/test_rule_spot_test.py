"""Spot test: paste a text or name a case, see the signals and which rules fire; nothing is written."""

import pytest

from cases.detection.spot import spot_signals
from cases.models import Case, Decision, Scorer, Signal, Subject
from moderation.models import AuditEvent
from queues.models import RoutingRuleVersion, RuleMatch
from tests import factories
from tests.accounts import person

pytestmark = pytest.mark.django_db


@pytest.fixture
def scorer(db):
    return Scorer.objects.create(name="Built-in text model", kind=Scorer.Kind.BUILTIN_TEXT)


@pytest.fixture
def rules(queues, scorer):
    shadow = factories.RoutingRuleFactory(
        name="profane (shadow)", state="shadow", target_queue=queues["harassment"]
    )
    factories.ScoreConditionFactory(
        rule=shadow, label="profanity", source_name="Built-in text model", threshold=0.8
    )
    draft = factories.RoutingRuleFactory(
        name="strikes (draft)", state="draft", target_queue=queues["harassment"]
    )
    factories.ScoreConditionFactory(rule=draft, source="system", label="author.active_strikes", threshold=1)
    return shadow, draft


def written():
    return [
        model.objects.count()
        for model in (Signal, Case, Subject, Decision, AuditEvent, RuleMatch, RoutingRuleVersion)
    ]


def test_spot_signals_runs_the_local_model_without_writing(scorer):
    before = written()
    drafts = spot_signals(text="you are a fucking idiot", kind="message", language="en")
    assert [(d.source, d.source_name, d.label) for d in drafts] == [
        ("scorer", "Built-in text model", "profanity")
    ]
    assert drafts[0].score > 0.8
    assert written() == before


def test_a_pasted_text_shows_its_signals_and_which_rules_fire(admin_client, rules):
    shadow, draft = rules
    before = written()

    response = admin_client.post(
        "/cases/spot-test", {"text": "you are a fucking idiot", "kind": "message", "language": "en"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "profanity" in page
    assert f'data-rule="{shadow.pk}" data-fires="yes"' in page
    assert f'data-rule="{draft.pk}" data-fires="no"' in page
    assert "Shadow: evaluated and logged" in page
    assert written() == before


def test_an_existing_case_shows_its_stored_signals(admin_client, rules, make_case):
    shadow, _ = rules
    case = make_case(signals={"toxicity": 0.42})
    before = written()

    page = admin_client.post("/cases/spot-test", {"case_id": case.pk, "kind": "message"}).content.decode()

    assert "toxicity" in page and "0.420" in page
    assert f'data-rule="{shadow.pk}" data-fires="no"' in page
    assert written() == before


def test_a_restricted_case_answers_as_a_missing_one_for_an_uncleared_lead(client, queues, make_case):
    lead = person("lead", "lead")
    case = make_case()
    Case.objects.filter(pk=case.pk).update(is_restricted=True, queue=queues["child-safety"])
    client.force_login(lead)

    hidden = client.post("/cases/spot-test", {"case_id": case.pk, "kind": "message"})
    missing = client.post("/cases/spot-test", {"case_id": 999_999, "kind": "message"})

    assert hidden.status_code == missing.status_code == 404
    assert "toxicity" not in hidden.content.decode()


def test_bad_input_names_the_field_and_agents_are_refused(admin_client, agent_client, scorer):
    response = admin_client.post("/cases/spot-test", {"text": "hi", "kind": "tweet", "language": "english!"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-field="kind"' in page and 'data-field="language"' in page
    empty = admin_client.post("/cases/spot-test", {"text": "  ", "kind": "message"})
    assert empty.status_code == 400 and "Paste a text or enter a case id" in empty.content.decode()
    assert agent_client.get("/cases/spot-test").status_code == 403


def test_a_pasted_text_shows_its_bank_hits_and_the_bank_rules_they_fire(admin_client, queues, settings):
    from tests.banks import bank_of

    settings.BANK_RELOAD_SECONDS = 0
    bank_of("scam-domains", "domain", ["evil.example"])
    rule = factories.RoutingRuleFactory(name="scam link", state="shadow", target_queue=queues["harassment"])
    factories.ScoreConditionFactory(
        rule=rule, source="bank", source_name="scam-domains", label="bank:scam-domains", threshold=1
    )
    before = written()

    drafts = spot_signals(text="claim at https://login.evil.example/x", kind="message", language="en")
    response = admin_client.post(
        "/cases/spot-test",
        {"text": "claim at https://login.evil.example/x", "kind": "message", "language": "en"},
    )

    assert [(d.source, d.label, d.score) for d in drafts if d.source == "bank"] == [
        ("bank", "bank:scam-domains", 1.0)
    ]
    page = response.content.decode()
    assert "bank:scam-domains" in page
    assert response.context["rules"] == [(rule, True)] or (rule, True) in response.context["rules"]
    assert written() == before
