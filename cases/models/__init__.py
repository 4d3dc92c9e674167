"""Subjects, reports, cases, signals and decisions: the evidence and the unit of review.

A package of modules by concept; every model is importable from `cases.models` as before (same app label, no
migrations).
"""

from cases.models.accepted_report import AcceptedReport
from cases.models.bank import Bank, BankChange, BankEntry
from cases.models.campaign import Campaign, CampaignMember, ContentIndicator, TextFingerprint, TextSignature
from cases.models.case import CLAIMABLE_STATUSES, Case, CaseNote, CaseViewer
from cases.models.decision import Appeal, Decision, Strike
from cases.models.delivery import Enforcement, OutboxMessage, VendorCallback
from cases.models.event import Event, EventTrigger
from cases.models.learning import ModelVersion, ScoringRecord
from cases.models.legal_hold import LegalHold
from cases.models.oversight import DecisionHour, PerformanceDay, ReportHour
from cases.models.report import Report, Reporter, Signal
from cases.models.signal_source import URL_PLACEHOLDERS, ContextProvider, Scorer
from cases.models.statement import StatementOfReasons
from cases.models.subject import (
    TAG_SLUG_VALIDATOR,
    MediaFile,
    Subject,
    SubjectTag,
    SubjectVersion,
    Tag,
    protection_reasons,
)

__all__ = [
    "CLAIMABLE_STATUSES",
    "TAG_SLUG_VALIDATOR",
    "URL_PLACEHOLDERS",
    "AcceptedReport",
    "Appeal",
    "Bank",
    "BankChange",
    "BankEntry",
    "Campaign",
    "CampaignMember",
    "Case",
    "CaseNote",
    "CaseViewer",
    "ContentIndicator",
    "ContextProvider",
    "Decision",
    "DecisionHour",
    "Enforcement",
    "Event",
    "EventTrigger",
    "LegalHold",
    "MediaFile",
    "ModelVersion",
    "OutboxMessage",
    "PerformanceDay",
    "Report",
    "ReportHour",
    "Reporter",
    "Scorer",
    "ScoringRecord",
    "Signal",
    "StatementOfReasons",
    "Strike",
    "Subject",
    "SubjectTag",
    "SubjectVersion",
    "Tag",
    "TextFingerprint",
    "TextSignature",
    "VendorCallback",
    "protection_reasons",
]
