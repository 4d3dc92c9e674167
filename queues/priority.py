"""How urgent a case is: one function, so the formula is in one place and can be tested and explained."""

import math

SEVERITY_WEIGHT = 20.0  # severity 1..5 → 20..100
SCORE_WEIGHT = 50.0  # strongest ML / vendor score 0..1 → 0..50
REPORTER_WEIGHT = 10.0  # per doubling of distinct reporters…
REPORTER_CAP = 40.0  # …up to this
RELIABILITY_WEIGHT = 20.0  # most reliable reporting vendor 0..1 → 0..20


def priority_score(
    *,
    severity: int,
    max_score: float | None,
    distinct_reporters: int,
    vendor_reliability: float,
    boost: float = 0.0,
    reporter_accuracy: float = 1.0,
) -> float:
    """Priority of a case: higher is reviewed first (ties: oldest first).

    priority = 20 * policy severity (1..5)
             + 50 * the strongest signal score in 0..1 (ML scorers, vendor scores), 0 if none
             + 10 * log2(1 + distinct reporters), capped at 40 (1 → 10, 3 → 20, 15 → 40),
               times the reporters' track record (0..1; 1 until they have enough judged reports;
               muted reporters are not counted at all)
             + 20 * reliability of the most reliable vendor that reported it (0..1)
             + the matching routing rule's boost (may be negative)
    clamped at 0, rounded to 2 decimals.

    Severity carries the most weight, but not all of it: a mass-reported, high-confidence spam case
    (20 + 50 + 40 + 20 = 130) can outrank a single unscored harassment report (60 + 0 + 10 + 10 = 80). What must
    always come first (child safety) gets a routing rule with a boost and its own queue.
    """
    severity = min(max(int(severity), 1), 5)
    score = min(max(max_score or 0.0, 0.0), 1.0)
    reporters = min(REPORTER_WEIGHT * math.log2(1 + max(distinct_reporters, 0)), REPORTER_CAP) * min(
        max(reporter_accuracy, 0.0), 1.0
    )
    reliability = min(max(vendor_reliability, 0.0), 1.0)
    total = (
        SEVERITY_WEIGHT * severity
        + SCORE_WEIGHT * score
        + reporters
        + RELIABILITY_WEIGHT * reliability
        + boost
    )
    return round(max(total, 0.0), 2)
