"""`train_model` prints its held-out evaluation as JSON and registers a candidate; `evaluate_model` scores a
labelled file with the live or a named model; bad arguments are errors naming the argument."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from cases.models import ModelVersion
from tests.learning import history, import_history, spam_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(db):
    spam_policy()
    import_history(history(200))
    out = io.StringIO()
    call_command("train_model", "--policy", "spam", stdout=out)
    return json.loads(out.getvalue())


def test_train_model_prints_the_evaluation_and_registers_a_candidate(trained):
    held = trained["held_out"]
    for key in (
        "roc_auc",
        "pr_auc",
        "precision_at_threshold",
        "recall_at_threshold",
        "calibration_error",
        "slices",
    ):
        assert key in held
    assert set(held["slices"]) == {"language", "kind"}
    assert trained["split"] == {"train": 120, "validation": 40, "held_out": 40}
    assert ModelVersion.objects.get(version=trained["version"]).state == ModelVersion.State.CANDIDATE


def test_evaluate_model_scores_a_golden_file_with_a_named_model(trained, tmp_path):
    golden = tmp_path / "golden.jsonl"
    golden.write_text("\n".join(json.dumps(row) for row in history(120, seed=99)) + "\n")
    out = io.StringIO()

    call_command("evaluate_model", "--policy", "spam", str(golden), "--model", trained["version"], stdout=out)

    figures = json.loads(out.getvalue())
    assert figures["model"] == trained["version"] and figures["n"] == 120
    assert figures["roc_auc"] > 0.8


def test_evaluate_model_without_a_live_model_says_so(trained, tmp_path):
    golden = tmp_path / "golden.jsonl"
    golden.write_text(json.dumps(history(1)[0]) + "\n")

    with pytest.raises(CommandError, match="model: no live model"):
        call_command("evaluate_model", "--policy", "spam", str(golden))


def test_bad_arguments_name_the_argument(db, tmp_path):
    spam_policy()
    with pytest.raises(CommandError, match="policy: no policy"):
        call_command("train_model", "--policy", "nope")
    with pytest.raises(CommandError, match="policy: 0 labels"):
        call_command("train_model", "--policy", "spam")
    with pytest.raises(CommandError, match="target-precision"):
        call_command("train_model", "--policy", "spam", "--target-precision", "1.5")
    with pytest.raises(CommandError, match="since"):
        call_command("train_model", "--policy", "spam", "--since", "last week")


def test_train_model_picks_the_threshold_for_the_policys_target_precision(db):
    from moderation.models import Policy

    spam_policy()
    Policy.objects.filter(code="spam").update(target_precision=0.75)
    import_history(history(200))
    out = io.StringIO()

    call_command("train_model", "--policy", "spam", stdout=out)

    report = json.loads(out.getvalue())
    version = ModelVersion.objects.get(version=report["version"])
    assert report["target_precision"] == version.target_precision == 0.75


def test_the_command_line_target_precision_overrides_the_policys(db):
    spam_policy()
    import_history(history(200))
    out = io.StringIO()

    call_command("train_model", "--policy", "spam", "--target-precision", "0.6", stdout=out)

    assert ModelVersion.objects.get(version=json.loads(out.getvalue())["version"]).target_precision == 0.6


def test_evaluate_model_reports_where_the_policys_target_precision_is_reached_on_the_file(trained, tmp_path):
    from moderation.models import Policy

    Policy.objects.filter(code="spam").update(target_precision=0.8)
    golden = tmp_path / "golden.jsonl"
    golden.write_text("\n".join(json.dumps(row) for row in history(120, seed=99)) + "\n")
    out = io.StringIO()

    call_command("evaluate_model", "--policy", "spam", str(golden), "--model", trained["version"], stdout=out)

    at = json.loads(out.getvalue())["at_target"]
    assert at["target_precision"] == 0.8
    assert at["threshold"] is not None and at["precision"] >= 0.8


def test_a_target_precision_of_zero_or_above_one_is_refused(db):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    policy = spam_policy()
    for bad in (0.0, -0.1, 1.5):
        policy.target_precision = bad
        with pytest.raises(ValidationError, match="above 0 and at most 1"):
            policy.full_clean()
        with pytest.raises(IntegrityError), transaction.atomic():
            type(policy).objects.filter(pk=policy.pk).update(target_precision=bad)
    policy.target_precision = 1.0
    policy.full_clean()  # exactly 1 is allowed: flag only where no mistake was seen
    with pytest.raises(CommandError, match="target-precision"):
        call_command("train_model", "--policy", "spam", "--target-precision", "0")


def test_the_policy_admin_edits_the_target_precision(admin_client, db):
    policy = spam_policy()

    html = admin_client.get(f"/admin/moderation/policy/{policy.pk}/change/").content.decode()

    assert 'name="target_precision"' in html


def test_the_policy_admin_refuses_a_target_precision_above_one(admin_client, db):
    from tests.moderation.test_admin import policy_form

    response = admin_client.post("/admin/moderation/policy/add/", policy_form(target_precision="1.5"))

    assert response.status_code == 200
    assert "above 0 and at most 1" in response.content.decode()
