"""Helpers for the learning tests: a small labelled history, imported the way real history is."""

import random
from datetime import UTC, datetime, timedelta

from cases.services.decision_import import import_decisions
from moderation.models import Action, Policy

SPAMMY = [
    "buy cheap pills",
    "win a free prize",
    "click this link now",
    "limited offer viagra",
    "earn cash fast",
]
HAMMY = [
    "meeting notes attached",
    "see you at lunch",
    "the build is green",
    "review my patch",
    "thanks for the help",
]


def spam_policy() -> Policy:
    remove, _ = Action.objects.get_or_create(
        code="remove", defaults={"name": "Remove", "kind": Action.Kind.REMOVE}
    )
    Action.objects.get_or_create(
        code="no-violation",
        defaults={"name": "No violation", "kind": Action.Kind.NO_VIOLATION, "shortcut_key": "0"},
    )
    policy, _ = Policy.objects.get_or_create(code="spam", defaults={"name": "Spam"})
    policy.allowed_actions.add(remove)
    return policy


def history(n: int = 300, *, seed: int = 7, languages=("en", "de")) -> list[dict]:
    """`n` decisions over `n` hours; spam mentions spammy phrases (obfuscated now and then), ham does not;
    10 % of labels are noise so no model is perfect."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        violating = rng.random() < 0.4
        words = rng.sample(SPAMMY if violating else HAMMY, 2) + rng.sample(HAMMY + SPAMMY, 1)
        text = " ".join(words) + f" #{i}"
        if violating and rng.random() < 0.3:
            text = text.replace("e", "3").replace("o", "0")  # leetspeak: the normaliser undoes it
        noisy = rng.random() < 0.1
        rows.append(
            {
                "external_id": f"h-{seed}-{i}",
                "text": text,
                "policy": "spam",
                "violating": violating != noisy,
                "language": languages[i % len(languages)],
                "decided_at": (start + timedelta(hours=i)).isoformat(),
            }
        )
    return rows


def import_history(rows: list[dict]) -> None:
    import json

    import_decisions(lines=[json.dumps(row) for row in rows], source="test")
