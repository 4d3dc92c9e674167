"""Trained models in the admin: figures and SVG plots on the page, and promotion through the registry
(refused for a worse candidate, with the reason shown; audited when it succeeds)."""

import pytest
from django.test import Client

from cases.detection.training import train
from cases.models import ModelVersion
from cases.services.model_registry import register_candidate
from moderation.audit import Actor
from moderation.models import AuditEvent
from tests.accounts import person
from tests.learning import history, import_history, spam_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    client = Client()
    client.force_login(person("ada", "admin"))
    return client


@pytest.fixture
def candidate(db):
    policy = spam_policy()
    import_history(history(200))
    trained = train(policy_id=policy.pk, target_precision=0.9)
    return register_candidate(
        policy=policy,
        model=trained.model,
        algorithm="test",
        metrics=trained.metrics,
        threshold=trained.threshold,
        target_precision=0.9,
        label_counts=trained.label_counts,
        window_start=trained.window_start,
        window_end=trained.window_end,
        held_out_from=trained.held_out_from,
        actor=Actor.system("test"),
    )


def test_the_model_page_shows_held_out_figures_and_plots(admin, candidate):
    page = admin.get(f"/admin/cases/modelversion/{candidate.pk}/change/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "Precision-recall" in body and "Calibration" in body and "<svg" in body
    assert "language=de" in body
    assert "<script" not in body.split("<svg", 1)[1].split("</svg>", 1)[0]


def test_promoting_from_the_admin_goes_through_the_registry_and_is_audited(admin, candidate):
    response = admin.post(
        "/admin/cases/modelversion/",
        {"action": "promote", "_selected_action": [candidate.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert ModelVersion.objects.get(pk=candidate.pk).state == ModelVersion.State.LIVE
    assert AuditEvent.objects.filter(verb="model.promoted", actor_label="ada").count() == 1


def test_rolling_back_to_a_candidate_is_refused_with_the_reason(admin, candidate):
    response = admin.post(
        "/admin/cases/modelversion/",
        {"action": "roll_back", "_selected_action": [candidate.pk]},
        follow=True,
    )

    assert "Roll back to a model that was live before" in response.content.decode()
    assert ModelVersion.objects.get(pk=candidate.pk).state == ModelVersion.State.CANDIDATE
