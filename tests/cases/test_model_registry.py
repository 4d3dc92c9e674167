"""Training registers a candidate; promotion needs it to beat the live model on the same held-out labels
without a worse slice; rollback puts an earlier version back; a swapped artefact is never loaded."""

import random

import pytest

from cases.detection.learned import ArtefactTampered, TextClassifier, load
from cases.detection.training import examples, train
from cases.labels import policy_labels
from cases.models import ModelVersion
from cases.services.model_registry import promote_model, register_candidate, rollback_model, shadow_model
from moderation.audit import Actor
from moderation.errors import Conflict, Invalid
from moderation.models import AuditEvent
from tests.learning import history, import_history, spam_policy

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


@pytest.fixture
def policy(db):
    policy = spam_policy()
    import_history(history(300))
    return policy


def _register(policy, model, like):
    return register_candidate(
        policy=policy,
        model=model,
        algorithm="test",
        metrics={},
        threshold=None,
        target_precision=0.9,
        label_counts={},
        window_start=like.window_start,
        window_end=like.window_end,
        held_out_from=like.held_out_from,
        actor=ACTOR,
    )


def _trained(policy):
    trained = train(policy_id=policy.pk, target_precision=0.9)
    return trained, _register(policy, trained.model, trained)


def _guessing(policy, like):
    """A model fitted on shuffled labels: no better than chance."""
    data = examples(policy_labels(policy.pk))
    labels = [e.label.violating for e in data]
    random.Random(3).shuffle(labels)
    return _register(policy, TextClassifier().fit([e.features for e in data], labels), like)


def test_training_measures_on_the_most_recent_labels_and_registers_a_candidate(policy):
    trained, version = _trained(policy)

    assert version.state == ModelVersion.State.CANDIDATE
    assert trained.metrics["split"] == {"train": 180, "validation": 60, "held_out": 60}
    assert trained.held_out_from == policy_labels(policy.pk)[240].decided_at
    held = trained.metrics["held_out"]
    assert held["roc_auc"] > 0.8 and held["n"] == 60
    assert set(held["slices"]["language"]) == {"en", "de"}
    assert 0.0 <= held["calibration_error"] <= 1.0
    assert AuditEvent.objects.filter(verb="model.trained", target_id=str(version.pk)).count() == 1


def test_the_first_model_is_promoted_and_a_worse_candidate_is_refused(policy):
    trained, good = _trained(policy)
    promote_model(version_id=good.pk, actor=ACTOR)
    worse = _guessing(policy, trained)

    with pytest.raises(Conflict, match="does not beat the live"):
        promote_model(version_id=worse.pk, actor=ACTOR)

    assert ModelVersion.objects.get(pk=good.pk).state == ModelVersion.State.LIVE
    assert ModelVersion.objects.get(pk=worse.pk).state == ModelVersion.State.CANDIDATE


def test_a_better_candidate_replaces_the_live_model_and_rollback_brings_the_old_one_back(policy):
    trained = train(policy_id=policy.pk, target_precision=0.9)
    weak = _guessing(policy, trained)
    promote_model(version_id=weak.pk, actor=ACTOR)
    strong = _register(policy, trained.model, trained)
    shadow_model(version_id=strong.pk, actor=ACTOR)

    promote_model(version_id=strong.pk, actor=ACTOR)

    states = dict(ModelVersion.objects.values_list("pk", "state"))
    assert states == {weak.pk: "retired", strong.pk: "live"}
    assert AuditEvent.objects.filter(verb="model.promoted", target_id=str(strong.pk)).count() == 1

    rollback_model(version_id=weak.pk, actor=ACTOR)

    states = dict(ModelVersion.objects.values_list("pk", "state"))
    assert states == {weak.pk: "live", strong.pk: "retired"}
    assert AuditEvent.objects.filter(verb="model.rolled_back", target_id=str(weak.pk)).count() == 1


def test_rollback_only_goes_to_a_version_that_was_live(policy):
    _, candidate = _trained(policy)

    with pytest.raises(Invalid):
        rollback_model(version_id=candidate.pk, actor=ACTOR)


def test_an_artefact_changed_behind_the_registry_is_refused(policy):
    _, version = _trained(policy)
    data = bytearray(bytes(version.artefact))
    data[-2] ^= 0xFF
    ModelVersion.objects.filter(pk=version.pk).update(artefact=bytes(data))

    with pytest.raises(ArtefactTampered):
        load(ModelVersion.objects.get(pk=version.pk))
