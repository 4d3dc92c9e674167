"""The message to the affected user: the admin's template for the action (policy, language) filled in.

A placeholder with no value (no duration on a permanent action, no appeal link configured, no reason typed
where the template asks for one) is left visible and listed as unfilled: the decision is refused until it is
filled, so a user never receives "{duration}".
"""

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q

from moderation.models import Action, MessageTemplate, Policy

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass
class UserMessage:
    text: str
    unfilled: list[str] = field(default_factory=list)
    template: MessageTemplate | None = None


def choose_template(*, policy: Policy, action: Action, language: str) -> MessageTemplate | None:
    """Most specific first: this policy and language, this policy, any policy and this language, any."""
    language = (language or "").split("-")[0].lower()
    candidates = list(
        MessageTemplate.objects.filter(action=action, is_active=True)
        .filter(Q(policy=policy) | Q(policy__isnull=True))
        .order_by("-id")
    )
    for wanted_policy in (policy.pk, None):
        for wanted_language in (language, ""):
            for template in candidates:
                if (
                    template.policy_id == wanted_policy
                    and template.language.split("-")[0].lower() == wanted_language
                ):
                    return template
    return None


def compose_user_message(
    *, subject, policy: Policy, action: Action, reason: str, decision_id: int | None
) -> UserMessage:
    template = choose_template(policy=policy, action=action, language=subject.language)
    return fill_user_message(
        template, subject=subject, policy=policy, action=action, reason=reason, decision_id=decision_id
    )


def fill_user_message(
    template: MessageTemplate | None,
    *,
    subject,
    policy: Policy,
    action: Action,
    reason: str,
    decision_id: int | None,
) -> UserMessage:
    """The message from a template already chosen (no query): a decision fills it before and after it has an
    id (the appeal link names the decision) without looking the template up twice."""
    if template is None:
        return UserMessage(text=reason or policy.user_facing_text)
    appeal_link = None
    if settings.APPEAL_URL_TEMPLATE:
        appeal_link = (
            settings.APPEAL_URL_TEMPLATE.replace("{decision_id}", str(decision_id))
            if decision_id
            else "(the appeal link is added when the decision is recorded)"
        )
    hours = action.duration_hours
    values = {
        "subject": f"{subject.get_kind_display().lower()} {subject.external_id}",
        "policy": policy.name,
        "policy_text": policy.user_facing_text or None,
        "action": action.name,
        "duration": (f"{hours // 24} days" if hours % 24 == 0 else f"{hours} hours") if hours else None,
        "appeal_link": appeal_link,
        "reason": reason or None,
    }
    unfilled: list[str] = []

    def fill(match: re.Match) -> str:
        value = values.get(match.group(1))
        if value is None:
            unfilled.append("{" + match.group(1) + "}")
            return match.group(0)
        return value

    text = _PLACEHOLDER.sub(fill, template.body)
    return UserMessage(text=text, unfilled=sorted(set(unfilled)), template=template)
