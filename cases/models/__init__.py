"""Subjects, reports, cases, signals and decisions: the evidence and the unit of review.

A package of modules by concept; every model is importable from `cases.models` as before (same app label, no
migrations).
"""

from cases.models.decisions import Appeal, Decision, Strike
from cases.models.detection import URL_PLACEHOLDERS, ContextProvider, MediaFile, Scorer
from cases.models.outbox import Enforcement, OutboxMessage, VendorCallback
from cases.models.reports import Report, Reporter, Signal
from cases.models.review import CLAIMABLE_STATUSES, Case, CaseNote, CaseViewer
from cases.models.subjects import TAG_SLUG_VALIDATOR, Subject, SubjectTag, SubjectVersion, Tag

__all__ = [
    "CLAIMABLE_STATUSES",
    "TAG_SLUG_VALIDATOR",
    "URL_PLACEHOLDERS",
    "Appeal",
    "Case",
    "CaseNote",
    "CaseViewer",
    "ContextProvider",
    "Decision",
    "Enforcement",
    "MediaFile",
    "OutboxMessage",
    "Report",
    "Reporter",
    "Scorer",
    "Signal",
    "Strike",
    "Subject",
    "SubjectTag",
    "SubjectVersion",
    "Tag",
    "VendorCallback",
]
