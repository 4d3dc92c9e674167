"""Recalibration: a model's calibration and threshold are refitted on the labels decided since it was trained
(its ranking untouched), a new version takes its place, audited, and the old one stays for rollback."""

import io
import json
from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from cases.detection.learned import forget_served_models, load, served_models
from cases.detection.training import train
from cases.models import ModelVersion
from cases.services.model_registry import promote_model, recalibrate_model, register_candidate, rollback_model
from moderation.audit import Actor
from moderation.errors import Invalid
from moderation.models import AuditEvent
from tests.learning import history, import_history, spam_policy

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture(autouse=True)
def _fresh_models():
    forget_served_models()
    yield
    forget_served_models()


def _later(rows, *, days: int, keep_spam: float, seed: str):
    """The same kind of traffic a while later, with fewer violations: the drift recalibration is for."""
    out = []
    for index, row in enumerate(rows):
        if row["violating"] and (index % 100) >= keep_spam * 100:
            continue
        moved = datetime.fromisoformat(row["decided_at"]) + timedelta(days=days)
        out.append(row | {"external_id": f"{seed}-{row['external_id']}", "decided_at": moved.isoformat()})
    return out


@pytest.fixture
def live(db):
    policy = spam_policy()
    import_history(history(200))
    trained = train(policy_id=policy.pk, target_precision=0.9)
    version = register_candidate(
        policy=policy,
        model=trained.model,
        algorithm="test",
        metrics={"held_out": {}},
        threshold=trained.threshold,
        target_precision=0.9,
        label_counts=trained.label_counts,
        window_start=trained.window_start,
        window_end=trained.window_end,
        held_out_from=trained.held_out_from,
        actor=ACTOR,
    )
    return promote_model(version_id=version.pk, actor=ACTOR)


def test_recalibrating_the_live_model_puts_a_new_version_live_and_keeps_the_old_for_rollback(live):
    import_history(_later(history(300, seed=11), days=60, keep_spam=0.2, seed="late"))
    served_models()

    new = recalibrate_model(version_id=live.pk, target_precision=0.9, actor=ACTOR)

    live.refresh_from_db()
    assert new.state == ModelVersion.State.LIVE and live.state == ModelVersion.State.RETIRED
    figures = new.metrics["recalibration"]
    assert figures["from_version"] == live.version and figures["n"] > 50
    assert figures["positives"] / figures["n"] < 0.2  # calibrated on the recent, drifted window
    assert new.threshold == figures["threshold_after"]
    assert figures["after"]["calibration_error"] <= figures["before"]["calibration_error"]
    assert {row.pk for row, _ in served_models()} == {new.pk}  # serving follows without a restart
    event = AuditEvent.objects.get(verb="model.recalibrated")
    assert event.data["replaced"] == live.version
    rollback_model(version_id=live.pk, actor=ACTOR)
    assert ModelVersion.objects.get(pk=live.pk).state == ModelVersion.State.LIVE


def test_recalibration_keeps_the_ranking(live):
    from cases.detection.features import features_of_text

    import_history(_later(history(300, seed=11), days=60, keep_spam=0.2, seed="late"))
    new = recalibrate_model(version_id=live.pk, target_precision=0.9, actor=ACTOR)

    texts = [
        "buy cheap pills",
        "see you at lunch",
        "W1N a fr33 prize",
        "the build is green",
        "earn cash fast",
    ]
    features = [features_of_text(text, kind="post", language="en") for text in texts]
    before, after = load(live).raw(features), load(new).raw(features)
    assert list(before) == pytest.approx(list(after))


def test_recalibration_without_enough_recent_labels_is_refused(live):
    with pytest.raises(Invalid, match="labels since"):
        recalibrate_model(version_id=live.pk, target_precision=0.9, actor=ACTOR)
    assert ModelVersion.objects.get(pk=live.pk).state == ModelVersion.State.LIVE


def test_recalibrate_model_command_prints_the_before_and_after_figures(live):
    import_history(_later(history(300, seed=11), days=60, keep_spam=0.2, seed="late"))
    out = io.StringIO()

    call_command("recalibrate_model", "--policy", "spam", stdout=out)

    report = json.loads(out.getvalue())
    assert report["state"] == "live" and report["from_version"] == live.version
    assert {"before", "after", "threshold_before", "threshold_after"} <= set(report)
    with pytest.raises(CommandError, match="since: not an ISO"):
        call_command("recalibrate_model", "--policy", "spam", "--since", "yesterday")
