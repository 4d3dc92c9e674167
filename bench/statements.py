"""DSA statement validator benchmark: statements/s through `cases.statement_rules.validate_statement`.

    python bench/statements.py [--statements 20000] [--repeat 3]

Half the statements are valid (both grounds, every restriction kind), half break one rule each, so both paths
are timed. Prints statements/s and µs per statement (best of `--repeat`), on one core.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cases.statement_rules import validate_statement

BASE = {
    "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
    "incompatible_content_ground": "Terms of service: Harassment policy (harassment)",
    "incompatible_content_explanation": "The content was found to break our Harassment policy." * 5,
    "incompatible_content_illegal": "No",
    "content_type": ["CONTENT_TYPE_TEXT", "CONTENT_TYPE_IMAGE"],
    "category": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "territorial_scope": ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"],
    "content_language": "EN",
    "content_date": "2026-11-30",
    "application_date": "2026-12-01",
    "decision_facts": "Remove under our Harassment policy, after a notice, by a moderator after review.",
    "source_type": "SOURCE_ARTICLE_16",
    "automated_detection": "No",
    "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
}
RESTRICTIONS = [
    {"decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"]},
    {"decision_account": "DECISION_ACCOUNT_SUSPENDED", "end_date_account_restriction": "2026-12-08"},
    {"decision_monetary": "DECISION_MONETARY_SUSPENSION"},
]
BREAKS = [{"puid": "has space"}, {"content_date": "1999-01-01"}, {"category": "STATEMENT_CATEGORY_OTHER"}]


def corpus(count: int) -> list[dict]:
    statements = []
    for n in range(count):
        statement = BASE | RESTRICTIONS[n % 3] | {"puid": f"mod-decision-{n}"}
        if n % 2:
            statement |= BREAKS[n % 3]
        statements.append(statement)
    return statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    statements = corpus(args.statements)
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        invalid = sum(1 for statement in statements if validate_statement(statement))
        best = min(best, time.perf_counter() - start)
    print(f"{args.statements} statements ({invalid} invalid): {args.statements / best:,.0f} statements/s, "
          f"{best / args.statements * 1e6:.1f} µs each (best of {args.repeat})")  # fmt: skip


if __name__ == "__main__":
    main()
