"""The trained scorer: the live model's score is a routing signal with its version, a shadow model's is
recorded where no rule can read it, and what the model saw is logged so training rebuilds exactly that row."""

import pytest

from cases.detection.learned import forget_served_models, served_models
from cases.detection.training import examples, train
from cases.labels import policy_labels
from cases.models import Case, ModelVersion, Scorer, ScoringRecord, Signal, Strike
from cases.services.model_registry import promote_model, register_candidate, shadow_model
from cases.tasks import enrich_and_route
from moderation.audit import Actor
from queues.models import ScoreCondition
from tests import factories
from tests.learning import history, import_history, spam_policy

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture(autouse=True)
def _fresh_models():
    forget_served_models()
    yield
    forget_served_models()


def _register(policy, trained):
    return register_candidate(
        policy=policy,
        model=trained.model,
        algorithm="test",
        metrics={},
        threshold=trained.threshold,
        target_precision=0.9,
        label_counts=trained.label_counts,
        window_start=trained.window_start,
        window_end=trained.window_end,
        held_out_from=trained.held_out_from,
        actor=ACTOR,
    )


@pytest.fixture
def models(db):
    policy = spam_policy()
    import_history(history(200))
    trained = train(policy_id=policy.pk, target_precision=0.9)
    live = promote_model(version_id=_register(policy, trained).pk, actor=ACTOR)
    shadow = shadow_model(version_id=_register(policy, trained).pk, actor=ACTOR)
    Scorer.objects.create(name="Our models", kind=Scorer.Kind.TRAINED)
    factories.QueueFactory(slug="general", is_default=True)
    return policy, live, shadow


def _strike(author_id, policy):
    decision = factories.DecisionFactory(
        case=factories.CaseFactory(subject__author_id=author_id, policy=policy)
    )
    return Strike.objects.create(
        author_id=author_id, subject=decision.case.subject, decision=decision, policy=policy
    )


@pytest.fixture
def case(models):
    policy = models[0]
    _strike("a-1", policy)
    case = factories.CaseFactory(
        subject__text="W1N a FR33 prize, click this link now", subject__author_id="a-1", policy=policy
    )
    factories.ReportFactory(case=case)
    factories.SignalFactory(
        case=case, source=Signal.Source.VENDOR_SCORE, source_name="acme", label="spam", score=0.7
    )
    return case


def test_live_and_shadow_models_score_with_their_versions_and_only_the_live_one_is_routable(models, case):
    _, live, shadow = models

    enrich_and_route(case.pk)

    scored = {s.model_version: s for s in Signal.objects.filter(case=case, label="trained.spam")}
    assert scored[live.version].source == Signal.Source.SCORER
    assert scored[shadow.version].source == Signal.Source.SHADOW_MODEL
    assert scored[live.version].score > 0.5  # "win a free prize" under leetspeak: normalised first
    assert Signal.Source.SHADOW_MODEL not in ScoreCondition.Source.values
    records = ScoringRecord.objects.filter(case=case)
    assert {(r.model_version_id, r.is_shadow) for r in records} == {(live.pk, False), (shadow.pk, True)}


def test_the_training_row_rebuilt_later_equals_what_the_model_saw(models, case, review_setup):
    policy, live, _ = models
    enrich_and_route(case.pk)
    record = ScoringRecord.objects.get(case=case, model_version=live)
    # The world moves on after scoring: another strike, another report, another signal, new content.
    _strike("a-1", policy)
    factories.ReportFactory(case=case, subject=case.subject)
    factories.SignalFactory(
        case=case, source=Signal.Source.VENDOR_SCORE, source_name="acme", label="scam", score=0.9
    )
    factories.DecisionFactory(
        case=case, policy=policy, action=review_setup.actions["remove"], decided_by=review_setup.agent
    )

    (rebuilt,) = [e for e in examples(policy_labels(policy.pk)) if e.label.case_id == case.pk]

    assert rebuilt.features.inputs == record.inputs
    assert rebuilt.features.digest == record.feature_hash
    assert record.inputs["author.active_strikes"] == 1.0
    assert record.inputs["signal.vendor_score.spam"] == 0.7
    assert "signal.vendor_score.scam" not in record.inputs
    assert record.inputs["subject.reports_1h"] == 1.0


def test_serving_follows_the_live_version_without_a_restart(models):
    _, live, shadow = models
    assert {row.pk for row, _ in served_models()} == {live.pk, shadow.pk}

    ModelVersion.objects.filter(pk=shadow.pk).update(state=ModelVersion.State.RETIRED)

    assert {row.pk for row, _ in served_models()} == {live.pk}


def test_a_tampered_artefact_is_not_served(models):
    _, live, shadow = models
    ModelVersion.objects.filter(pk=shadow.pk).update(artefact=b"not our pickle")

    assert {row.pk for row, _ in served_models()} == {live.pk}


def test_the_one_text_fast_path_scores_exactly_like_the_fitted_pipeline(models):
    from cases.detection.features import features_of_text
    from cases.detection.learned import load

    model = load(models[1])
    texts = ["buy cheap pills now", "see you at lunch", "W1N a fr33 prize", "", "the build is green " * 40]
    for text in texts:
        features = features_of_text(text, kind="post", language="de")
        assert model.score_one(features) == pytest.approx(model.scores([features])[0], abs=1e-6)


@pytest.fixture
def queued_case(models, review_setup):
    case = factories.OpenCaseFactory(
        queue=review_setup.queue, policy=models[0], subject__text="buy cheap pills, click this link now"
    )
    factories.ReportFactory(case=case)
    enrich_and_route(case.pk)
    return case


def test_the_case_page_explains_the_live_score(agent_client, queued_case, models):
    html = agent_client.get(f"/cases/{queued_case.pk}/").content.decode()

    panel = html[html.index('id="model-explanation"') :]
    panel = panel[: panel.index("</section>")]
    assert models[1].version in panel
    assert "What pushed the score" in panel and "towards violating" in panel


def test_a_case_the_model_is_unsure_about_is_raised_for_review(queued_case, models):
    from queues.services.routing import route_case

    live = models[1]
    score = ScoringRecord.objects.get(case=queued_case, model_version=live).score
    far = score - 0.5 if score > 0.5 else score + 0.5
    ModelVersion.objects.filter(pk=live.pk).update(threshold=far)
    route_case(case_id=queued_case.pk)
    sure = Case.objects.get(pk=queued_case.pk).priority

    ModelVersion.objects.filter(pk=live.pk).update(threshold=score)
    route_case(case_id=queued_case.pk)

    assert Case.objects.get(pk=queued_case.pk).priority == pytest.approx(
        sure + ModelVersion.UNSURE_PRIORITY_BOOST
    )


def test_a_shadow_score_never_moves_routing(review_setup):
    from queues.selectors import case_facts

    case = factories.OpenCaseFactory(queue=review_setup.queue)
    factories.SignalFactory(case=case, source=Signal.Source.SHADOW_MODEL, label="trained.spam", score=0.99)

    facts = case_facts(case, with_velocity=False)

    assert facts.max_score is None
    assert not [key for key in facts.signals if key[0] == Signal.Source.SHADOW_MODEL]


def _shadow_rule(policy, action):
    """A live rule whose automatic decision (`action`) runs in shadow on anything our model scored."""
    from queues.models import RoutingRule

    policy.allowed_actions.add(action)
    rule = factories.RoutingRuleFactory(
        name=f"auto {action.code}",
        position=1,
        automation_mode=RoutingRule.AutomationMode.SHADOW,
        auto_policy=policy,
        auto_action=action,
    )
    factories.ScoreConditionFactory(rule=rule, label="trained.spam", operator="gte", threshold=0.0)
    return rule


def _sure_violating(queued_case, live) -> float:
    """Put the threshold well under the case's score: the model says violating, and is sure of it."""
    score = ScoringRecord.objects.get(case=queued_case, model_version=live).score
    ModelVersion.objects.filter(pk=live.pk).update(threshold=max(0.01, score - 2 * ModelVersion.UNSURE_BAND))
    return score


def test_a_case_the_model_disagrees_with_a_live_rule_on_is_raised_for_review(
    queued_case, models, review_setup
):
    from queues.selectors import forget_routing_config
    from queues.services.routing import route_case

    live = models[1]
    _sure_violating(queued_case, live)
    rule = _shadow_rule(models[0], review_setup.actions["remove"])
    forget_routing_config()
    route_case(case_id=queued_case.pk)
    agreeing = Case.objects.get(pk=queued_case.pk).priority

    rule.auto_action = review_setup.actions["no-violation"]
    rule.save()  # the rule now says "no violation" where the model says violating
    forget_routing_config()
    route_case(case_id=queued_case.pk)

    assert Case.objects.get(pk=queued_case.pk).priority == pytest.approx(
        agreeing + ModelVersion.DISAGREEMENT_PRIORITY_BOOST
    )


def test_a_rule_without_a_yes_or_no_never_counts_as_a_disagreement(queued_case, models, review_setup):
    from queues.selectors import forget_routing_config
    from queues.services.routing import route_case

    _sure_violating(queued_case, models[1])
    route_case(case_id=queued_case.pk)
    before = Case.objects.get(pk=queued_case.pk).priority
    _shadow_rule(models[0], review_setup.actions["escalate"])
    forget_routing_config()

    route_case(case_id=queued_case.pk)

    assert Case.objects.get(pk=queued_case.pk).priority == pytest.approx(before)


def test_the_case_page_names_the_rule_the_model_disagrees_with(
    agent_client, queued_case, models, review_setup
):
    from queues.selectors import forget_routing_config
    from queues.services.routing import route_case

    _sure_violating(queued_case, models[1])
    _shadow_rule(models[0], review_setup.actions["no-violation"])
    forget_routing_config()
    route_case(case_id=queued_case.pk)

    html = agent_client.get(f"/cases/{queued_case.pk}/").content.decode()

    panel = html[html.index('id="model-explanation"') :]
    panel = panel[: panel.index("</section>")]
    assert "Disagrees with a rule" in panel and "auto no-violation" in panel
    assert "What pushed the score" in panel


def test_the_case_page_shows_no_disagreement_when_rule_and_model_agree(
    agent_client, queued_case, models, review_setup
):
    from queues.selectors import forget_routing_config
    from queues.services.routing import route_case

    _sure_violating(queued_case, models[1])
    _shadow_rule(models[0], review_setup.actions["remove"])
    forget_routing_config()
    route_case(case_id=queued_case.pk)

    html = agent_client.get(f"/cases/{queued_case.pk}/").content.decode()

    assert "Disagrees with a rule" not in html
