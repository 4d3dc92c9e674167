"""The "trained" scorer kind: every policy's live model scores the case, and each shadow model beside it.

A live model's score is a `scorer` signal routing rules can read (label `trained.<policy>`); a shadow
model's is a `shadow_model` signal no rule can name. Both carry the model version, and both log what they saw
(`ScoringRecord`: the feature digest and inputs) so training can check it rebuilds the same row.
"""

from django.utils import timezone

from cases.detection.features import TRAINED_MODEL_PREFIX, features_at
from cases.detection.learned import served_models
from cases.detection.sources import SignalDraft, source_key
from cases.models import Case, ModelVersion, Scorer, Signal


def trained_label(policy_code: str) -> str:
    return f"trained.{policy_code}"[:100]


def run_trained_scorer(scorer: Scorer, case: Case) -> list[SignalDraft]:
    models = served_models()
    if not models:
        return []
    at = timezone.now()
    subject = case.subject
    features = features_at(case, at, subject.content_version)
    key = source_key(scorer, subject)
    drafts = []
    for version, model in models:
        score = model.score_one(features)
        shadow = version.state == ModelVersion.State.SHADOW
        drafts.append(
            SignalDraft(
                source=Signal.Source.SHADOW_MODEL if shadow else Signal.Source.SCORER,
                source_name=scorer.name,
                label=trained_label(version.policy.code),
                score=score,
                model=f"{TRAINED_MODEL_PREFIX}{version.policy.code}"[:120],
                model_version=version.version,
                dedupe_key=f"{key}:{version.version}"[:255],
                scoring={
                    "model_version_id": version.pk,
                    "scored_at": at,
                    "content_version": subject.content_version,
                    "feature_hash": features.digest,
                    "inputs": features.inputs,
                    "score": score,
                    "is_shadow": shadow,
                },
            )
        )
    return drafts
