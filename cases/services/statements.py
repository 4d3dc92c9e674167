"""Building the EU DSA statement of reasons for a restricting decision (the rules: `cases.statement_rules`).

Called inside the decision's transaction (`cases.services.effects.decision_takes_effect`), so a restriction
never exists without its statement. What goes in is chosen so that no personal data can: the policy's and
action's admin-written texts, counts and enumerations; never the content, its author, a reporter, a
report's comment, the agent or the agent's free-text reason. The puid is derived from the decision id.

Submission is `cases.services.statement_submission`.
"""

from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Min

from cases import statement_rules as rules
from cases.models import Case, Decision, Report, StatementOfReasons, Subject, SubjectVersion
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Conflict, NotFound
from moderation.models import Action, Policy

# How an action's kind reads as a DSA restriction when the admin set none (`Action.dsa_restriction`).
# Warnings restrict nothing; escalation and "no violation" are not decisions against anyone.
RESTRICTION_BY_KIND = {
    Action.Kind.REMOVE: "DECISION_VISIBILITY_CONTENT_REMOVED",
    Action.Kind.RESTRICT: "DECISION_VISIBILITY_CONTENT_DEMOTED",
    Action.Kind.LABEL: "DECISION_VISIBILITY_CONTENT_LABELLED",
    Action.Kind.SUSPEND_TEMPORARY: "DECISION_ACCOUNT_SUSPENDED",
    Action.Kind.SUSPEND_PERMANENT: "DECISION_ACCOUNT_TERMINATED",
}
NEVER_RESTRICTING = (Action.Kind.ESCALATE, Action.Kind.NO_VIOLATION)
# Where each restriction value goes, and which end date belongs to it.
_FIELDS = (
    ("DECISION_VISIBILITY_", "decision_visibility", "end_date_visibility_restriction"),
    ("DECISION_MONETARY_", "decision_monetary", "end_date_monetary_restriction"),
    ("DECISION_PROVISION_", "decision_provision", "end_date_service_restriction"),
    ("DECISION_ACCOUNT_", "decision_account", "end_date_account_restriction"),
)
# Notices outrank our own initiative: the strongest source among a case's reports is the statement's.
_SOURCE_RANK = (rules.TRUSTED_FLAGGER, rules.ARTICLE_16, rules.VOLUNTARY)


def restriction_for(action: Action) -> str | None:
    """The TDB restriction value an action is, or None if it restricts nothing."""
    if action.kind in NEVER_RESTRICTING:
        return None
    return action.dsa_restriction or RESTRICTION_BY_KIND.get(action.kind)


def puid_for(decision: Decision) -> str:
    return f"{settings.DSA_PUID_PREFIX}-decision-{decision.pk}"


def record_statement(decision: Decision, *, fresh: bool = False) -> StatementOfReasons | None:
    """Inside the decision's transaction: the statement of reasons for a live restricting decision (once per
    decision), validated before it is stored. One that breaks a rule is stored `failed` with its errors and
    never sent; a lead fixes the configuration (the policy's grounds, say) and retries, which rebuilds it.
    `fresh`: the decision takes effect for the first time now, so one INSERT (the one-to-one still guards)."""
    if decision.mode != Decision.Mode.LIVE or decision.case.kind == Case.Kind.IMPORTED:
        return None
    if restriction_for(decision.action) is None:
        return None
    payload = statement_payload(decision)
    errors = rules.validate_statement(payload)
    fields = {
        "case_id": decision.case_id,
        "puid": payload["puid"],
        "payload": payload,
        "validation_errors": errors,
        "state": StatementOfReasons.State.FAILED if errors else StatementOfReasons.State.PENDING,
        "last_error": _summary(errors),
        # Not submitted while its decision may still be undone.
        "next_attempt_at": decision.undo_until,
        **_columns(payload),
    }
    if fresh:
        return StatementOfReasons.objects.create(decision=decision, **fields)
    statement, _ = StatementOfReasons.objects.get_or_create(decision=decision, defaults=fields)
    return statement


def statement_payload(decision: Decision) -> dict:
    """The statement exactly as it is submitted: absent fields are left out, never sent as null."""
    action, policy, case = decision.action, decision.policy, decision.case
    subject = case.subject
    restriction = restriction_for(action)
    statement: dict = {}
    for prefix, field, end_field in _FIELDS:
        if restriction and restriction.startswith(prefix):
            statement[field] = [restriction] if field == "decision_visibility" else restriction
            if decision.effect_expires_at is not None:
                statement[end_field] = _day(decision.effect_expires_at)
    statement.update(_ground(policy))
    content_types, other = _content_types(subject)
    statement["content_type"] = content_types
    if other:
        statement["content_type_other"] = other
    statement["category"] = (
        policy.dsa_category if policy.dsa_category in rules.CATEGORIES else rules.CATEGORY_FALLBACK
    )
    statement["territorial_scope"] = list(settings.DSA_TERRITORIAL_SCOPE)
    version = _decided_version(decision)
    language = _language(version.language if version else subject.language)
    if language:
        statement["content_language"] = language
    posted, sources = _what_the_reports_say(case)
    statement["content_date"] = _content_date(posted, version, subject)
    statement["application_date"] = _day(decision.created_at)
    source = _source_type(sources)
    statement["source_type"] = source
    statement["automated_detection"] = "Yes" if decision.automated or source == rules.VOLUNTARY else "No"
    statement["automated_decision"] = rules.FULLY if decision.automated else rules.NOT_AUTOMATED
    statement["decision_facts"] = _facts(decision, source)
    statement["puid"] = puid_for(decision)
    return statement


def _ground(policy: Policy) -> dict:
    explanation = (policy.dsa_explanation or policy.user_facing_text or "").strip() or (
        f"The content was found to break our {policy.name} policy."
    )
    if policy.dsa_ground == rules.ILLEGAL:
        return {
            "decision_ground": rules.ILLEGAL,
            # Empty when the admin has not named the law: the validator refuses it, leads see why.
            "illegal_content_legal_ground": policy.dsa_legal_ground.strip(),
            "illegal_content_explanation": explanation[:2000],
        }
    return {
        "decision_ground": rules.INCOMPATIBLE,
        "incompatible_content_ground": (
            policy.dsa_contractual_ground.strip() or f"Terms of service: {policy.name} policy ({policy.code})"
        )[:500],
        "incompatible_content_explanation": explanation[:2000],
        "incompatible_content_illegal": "Yes" if policy.dsa_also_illegal else "No",
    }


def _content_types(subject: Subject) -> tuple[list[str], str]:
    if subject.kind in (Subject.Kind.PROFILE, Subject.Kind.ACCOUNT):
        return [
            "CONTENT_TYPE_OTHER"
        ], "User account" if subject.kind == Subject.Kind.ACCOUNT else "User profile"
    if subject.kind == Subject.Kind.MEDIA:
        return ["CONTENT_TYPE_IMAGE"], ""
    types = ["CONTENT_TYPE_TEXT"]
    if subject.media_urls:
        types.append("CONTENT_TYPE_IMAGE")
    return types, ""


def _decided_version(decision: Decision) -> SubjectVersion | None:
    if decision.subject_version is None:
        return None
    # The decision service hands over the stored version it just checked (`Decision.decided_version_row`):
    # the same row, one query fewer on the decision path.
    known = getattr(decision, "decided_version_row", None)
    if known is not None and known.pk is not None and known.version == decision.subject_version:
        return known
    return SubjectVersion.objects.filter(
        subject_id=decision.case.subject_id, version=decision.subject_version
    ).first()


def _language(tag: str) -> str | None:
    primary = (tag or "").split("-")[0].split("_")[0].upper()
    return primary if primary in rules.ISO_639_1 else None


def _what_the_reports_say(case: Case) -> tuple[datetime | None, set[str]]:
    """The earliest `occurred_at` the case's reports gave, and their vendors' DSA source types: one grouped
    read (a row per source type with its earliest time), not one read for each."""
    rows = (
        # order_by(): without it the reports' default ordering joins the GROUP BY (one row per report).
        Report.objects.filter(case_id=case.pk)
        .order_by()
        .values_list("vendor__dsa_source_type")
        .annotate(posted=Min("occurred_at"))
    )
    sources: set[str] = set()
    posted = None
    for source, earliest in rows:
        sources.add(source)
        if earliest is not None and (posted is None or earliest < posted):
            posted = earliest
    return posted, sources


def _content_date(posted: datetime | None, version: SubjectVersion | None, subject: Subject) -> str:
    """When the content was posted, as best known: the earliest `occurred_at` a report gave, else when we
    first saw this version (or the subject)."""
    when = posted or (version.captured_at if version else subject.first_seen_at)
    return max(_day(when), "2000-01-01")


def _source_type(sources: set[str]) -> str:
    for source in _SOURCE_RANK:
        if source in sources:
            return source
    return rules.VOLUNTARY  # no report at all: a case our detection opened from an event


def _facts(decision: Decision, source: str) -> str:
    how = {
        rules.TRUSTED_FLAGGER: "a notice from a trusted flagger",
        rules.ARTICLE_16: "a notice",
        rules.VOLUNTARY: "our own detection",
    }[source]
    who = "by an automated rule" if decision.automated else "by a moderator after review"
    facts = (
        f"{decision.action.name} under our {decision.policy.name} policy. The content was brought to our "
        f"attention by {how} and the decision was taken {who}."
    )
    return facts[:5000]


def _day(moment: datetime | date) -> str:
    return (moment.date() if isinstance(moment, datetime) else moment).isoformat()


def _columns(payload: dict) -> dict:
    return {
        "decision_ground": payload.get("decision_ground", ""),
        "source_type": payload.get("source_type", ""),
        "automated_decision": payload.get("automated_decision", ""),
        "automated_detection": payload.get("automated_detection") == "Yes",
    }


def _summary(errors: dict) -> str:
    if not errors:
        return ""
    return ("Invalid: " + "; ".join(f"{field}: {msgs[0]}" for field, msgs in sorted(errors.items())))[:500]


@transaction.atomic(durable=True)
def retry_statement(*, statement_id: int, user) -> StatementOfReasons:
    """A lead sends a failed statement again. One refused by the rules (ours or the TDB's) is rebuilt from
    the decision and today's configuration first; it is queued only if it now passes. Audited."""
    statement = (
        StatementOfReasons.objects.select_for_update()
        .select_related("decision__action", "decision__policy", "decision__case__subject")
        .filter(pk=statement_id)
        .first()
    )
    if statement is None:
        raise NotFound("No such statement of reasons.")
    if statement.state != StatementOfReasons.State.FAILED:
        raise Conflict("Only a failed statement can be retried.")
    payload = statement_payload(statement.decision) if statement.validation_errors else statement.payload
    errors = rules.validate_statement(payload)
    statement.payload = payload
    statement.validation_errors = errors
    statement.last_error = _summary(errors)
    for field, value in _columns(payload).items():
        setattr(statement, field, value)
    if not errors:
        statement.state = StatementOfReasons.State.PENDING
        statement.attempts_before_retry = statement.attempts
        statement.next_attempt_at = None
        statement.claimed_until = None
    statement.save()
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.STATEMENT_RETRIED,
        target=statement,
        case_id=statement.case_id,
        data={"puid": statement.puid, "queued": not errors, "errors": sorted(errors)},
    )
    return statement


class _Period:
    """An export's audit target: the statements of a period (`cases.statementofreasons:<since>..<until>`)."""

    _meta = StatementOfReasons._meta

    def __init__(self, since: date, until: date):
        self.pk = f"{since.isoformat()}..{until.isoformat()}"


def record_export(*, actor: Actor, since: date, until: date, fmt: str, report: bool = False) -> None:
    """An export of statements (or of the transparency report) is audited before its first byte leaves."""
    record_event(
        actor=actor,
        verb=Verb.TRANSPARENCY_REPORT_EXPORTED if report else Verb.STATEMENTS_EXPORTED,
        target=_Period(since, until),
        data={"since": since.isoformat(), "until": until.isoformat(), "format": fmt},
    )
