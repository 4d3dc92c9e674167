"""Every verb the audit log knows: one enumeration, so a typo is an error, not a new kind of event.

A verb is `<what>.<what happened to it>`. The value is what is stored (`AuditEvent.verb`) and what the audit
log's filters match on, so a member's value never changes once events carry it; add members, never rename.
"""

from enum import StrEnum


class Verb(StrEnum):
    # Intake
    CASE_OPENED = "case.opened"
    REPORT_RECEIVED = "report.received"
    # Routing and claiming
    CASE_ROUTED = "case.routed"
    CASE_REROUTED = "case.rerouted"
    CASE_CLAIMED = "case.claimed"
    CASE_RELEASED = "case.released"
    CASE_SKIPPED = "case.skipped"
    CASE_LEASE_EXPIRED = "case.lease_expired"
    # Working a case
    CASE_ESCALATED = "case.escalated"
    CASE_REOPENED = "case.reopened"  # a lead sent a decided case back for a fresh decision
    CASE_TAKEN_OVER = "case.taken_over"  # a lead took a case another agent held
    CASE_REASSIGNED = "case.reassigned"  # a lead gave a case to another eligible agent
    CASE_NOTE_ADDED = "case.note_added"
    SUBJECT_TAGGED = "subject.tagged"
    SUBJECT_UNTAGGED = "subject.untagged"
    MEDIA_REVEALED = "media.revealed"
    MEDIA_SERVED = "media.served"
    REPORTER_MUTED = "reporter.muted"
    REPORTER_UNMUTED = "reporter.unmuted"
    # Decisions
    DECISION_RECORDED = "decision.recorded"
    DECISION_AWAITING_CONFIRMATION = "decision.awaiting_confirmation"
    DECISION_CONFIRMED = "decision.confirmed"
    DECISION_OVERTURNED = "decision.overturned"
    DECISION_AUTOMATED = "decision.automated"
    DECISION_SHADOW_RECORDED = "decision.shadow_recorded"
    DECISION_EXPIRED = "decision.expired"
    DECISION_UNDONE = "decision.undone"  # its decider took it back inside the undo window
    DECISION_REVERSED = "decision.reversed"  # a lead reversed it outside appeals
    BULK_DECIDED = "bulk.decided"
    # Campaigns (cases grouped by near-duplicate text, a shared link host or shared media)
    CAMPAIGN_FORMED = "campaign.formed"
    CAMPAIGN_MERGED = "campaign.merged"
    CAMPAIGN_DECIDED = "campaign.decided"
    # Learning from decisions: imported history, trained models and their promotion
    DECISIONS_IMPORTED = "decisions.imported"
    MODEL_TRAINED = "model.trained"
    MODEL_SHADOWED = "model.shadowed"
    MODEL_PROMOTED = "model.promoted"
    MODEL_ROLLED_BACK = "model.rolled_back"
    MODEL_RECALIBRATED = "model.recalibrated"
    # Appeals
    APPEAL_FILED = "appeal.filed"
    APPEAL_UPHELD = "appeal.upheld"
    APPEAL_OVERTURNED = "appeal.overturned"
    # Delivery to vendors: enforcement webhooks and outcome callbacks
    ENFORCEMENT_DELIVERED = "enforcement.delivered"
    ENFORCEMENT_FAILED = "enforcement.failed"
    ENFORCEMENT_RETRIED = "enforcement.retried"
    VENDOR_CALLBACK_DELIVERED = "vendor_callback.delivered"
    VENDOR_CALLBACK_FAILED = "vendor_callback.failed"
    VENDOR_CALLBACK_RETRIED = "vendor_callback.retried"
    # EU DSA statements of reasons (Transparency Database) and the transparency report
    STATEMENT_SUBMITTED = "statement.submitted"
    STATEMENT_FAILED = "statement.failed"
    STATEMENT_RETRIED = "statement.retried"
    STATEMENTS_EXPORTED = "statements.exported"
    TRANSPARENCY_REPORT_EXPORTED = "transparency_report.exported"
    # Configuration
    POLICY_RESTRICTED_CASES = "policy.restricted_cases"
    VENDOR_TOKEN_ISSUED = "vendor_token.issued"
    VENDOR_TOKEN_REVOKED = "vendor_token.revoked"
    VENDOR_TOKEN_ROTATED = "vendor_token.rotated"
    USER_ROLE_ASSIGNED = "user.role_assigned"
    ADMIN_ADDED = "admin.added"
    ADMIN_CHANGED = "admin.changed"
    ADMIN_DELETED = "admin.deleted"
    ADMIN_SECRET_ROTATED = "admin.secret_rotated"
    ADMIN_SECRET_REMOVED = "admin.secret_removed"
    AUDIT_EXPORTED = "audit.exported"
    # Routing rules: every change is a version; going live with more automation may wait for a second admin
    RULE_VERSIONED = "rule.versioned"
    RULE_STATE_CHANGED = "rule.state_changed"
    RULE_AUTO_PAUSED = "rule.auto_paused"
    RULE_CHANGE_REQUESTED = "rule.change_requested"
    RULE_CHANGE_APPROVED = "rule.change_approved"
    RULE_CHANGE_REJECTED = "rule.change_rejected"
    SUBJECT_PROTECTED = "subject.protected"
    SUBJECT_UNPROTECTED = "subject.unprotected"
    # Matching banks
    BANK_CREATED = "bank.created"
    BANK_CHANGED = "bank.changed"
    BANK_ENTRIES_IMPORTED = "bank.entries_imported"
    BANK_ENTRY_REMOVED = "bank.entry_removed"
    BANK_EXPORTED = "bank.exported"
    # Retention: content purged after its policy's retention; legal holds that block it
    CONTENT_PURGED = "content.purged"
    LEGAL_HOLD_PLACED = "legal_hold.placed"
    LEGAL_HOLD_RELEASED = "legal_hold.released"
    # Finding work: a lead's saved queue views (for the team), an agent's starred queues
    SAVED_VIEW_CREATED = "saved_view.created"
    SAVED_VIEW_DELETED = "saved_view.deleted"
    QUEUE_STARRED = "queue.starred"
    QUEUE_UNSTARRED = "queue.unstarred"
    # Signing in
    AUTH_LOGIN_FAILED = "auth.login_failed"
    AUTH_TWO_FACTOR_ENROLLED = "auth.two_factor_enrolled"
    AUTH_TWO_FACTOR_VERIFIED = "auth.two_factor_verified"
    AUTH_TWO_FACTOR_FAILED = "auth.two_factor_failed"
    AUTH_TWO_FACTOR_RESET = "auth.two_factor_reset"
    AUTH_BACKUP_CODE_USED = "auth.backup_code_used"
    # Wellness and comfort: a person's own media, theme and time-zone settings
    SETTINGS_CHANGED = "settings.changed"


def known_verb(verb: "Verb | str") -> Verb:
    """`verb` as a member; anything the enumeration does not list is refused (ValueError)."""
    try:
        return Verb(verb)
    except ValueError:
        raise ValueError(f"{verb!r} is not an audit verb: add it to moderation.audit_verbs.Verb") from None
