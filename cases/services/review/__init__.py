"""What an agent does on a case, by module:

- `decisions`: record, confirm, automated and shadow decisions (one path for people and automation).
- `bulk`: a lead's bulk decision.
- `case_work`: escalate, notes, tags, media reveals, presence, muting a reporter.
- `common`: finding and checking the case, clean text, protected subjects, moving the case on; the refusals.

The names below are re-exported so `from cases.services import review` and `review.record_decision(...)`
keep working (the tests use them); application code imports from the module that does the work.
"""

from cases.services.review.bulk import BULK_LIMIT, BulkOutcome, bulk_decide
from cases.services.review.case_work import (
    add_case_note,
    escalate_case,
    normalise_tag,
    record_media_served,
    reveal_media,
    set_reporter_muted,
    tag_subject,
    touch_presence,
    untag_subject,
)
from cases.services.review.common import (
    MAX_TEXT,
    CaseConflict,
    CaseNotVisible,
    ReviewError,
    can_act_on_protected,
    move_case_on,
    protection_of,
)
from cases.services.review.decisions import (
    confirm_decision,
    decide_automatically,
    record_decision,
    record_shadow_decision,
)

__all__ = [
    "BULK_LIMIT",
    "MAX_TEXT",
    "BulkOutcome",
    "CaseConflict",
    "CaseNotVisible",
    "ReviewError",
    "add_case_note",
    "bulk_decide",
    "can_act_on_protected",
    "confirm_decision",
    "decide_automatically",
    "escalate_case",
    "move_case_on",
    "normalise_tag",
    "protection_of",
    "record_decision",
    "record_media_served",
    "record_shadow_decision",
    "reveal_media",
    "set_reporter_muted",
    "tag_subject",
    "touch_presence",
    "untag_subject",
]
