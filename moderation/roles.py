"""Roles as Django groups with permissions: agent, lead, admin (plus superuser).

What each role may do lives here, in one table, and `sync_roles` (run after every `migrate`) makes the groups
match it, so a deployment never depends on someone clicking permissions together in the admin.

Roles say *what* someone may do; *which cases* they see comes from queue membership (direct, or through a
team group listed as a queue's member group) and, for restricted queues, a clearance (`queues.selectors`).
So a lead sees their team's queues, not the whole platform; `queues.view_all_queues` (admins) widens that to
every unrestricted queue.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

AGENT, LEAD, ADMIN = "Agents", "Leads", "Admins"

# (app_label, codename). Agents need no model permission: membership of a queue is what lets them work it.
AGENT_PERMISSIONS: list[tuple[str, str]] = []

LEAD_PERMISSIONS = [
    *AGENT_PERMISSIONS,
    ("cases", "act_on_protected"),  # decide protected subjects (e.g. high-profile accounts)
    ("cases", "bulk_decide"),
    ("cases", "mute_reporter"),
    ("cases", "place_legal_hold"),  # keep a case's or subject's content past retention
    ("cases", "retry_enforcement"),
    ("cases", "reverse_decision"),  # reopen or reverse a decision outside appeals
    ("cases", "reassign_case"),  # take over or reassign a case another agent holds
    ("moderation", "view_auditevent"),
    # Read-only admin pages a lead uses to follow up on their team's work (scoped to visible cases).
    ("cases", "view_case"),
    ("cases", "view_report"),
    ("cases", "view_decision"),
    ("cases", "view_enforcement"),
    ("cases", "view_vendorcallback"),
    ("cases", "view_strike"),
    ("cases", "view_subject"),
    ("cases", "view_bank"),  # leads see what the banks hold and where a hit came from; admins change them
    ("cases", "view_bankentry"),
    ("cases", "view_statementofreasons"),  # DSA statements, their export and the transparency report
    ("queues", "add_savedview"),  # a queue filter saved under a name for everyone working the queue
    ("queues", "delete_savedview"),
]

# Admins configure the platform: policies, actions, queues, routing, vendors, scorers, templates, clearances.
_CONFIG_MODELS = {
    "moderation": ["policy", "action", "vendor", "vendortoken", "enforcementendpoint", "messagetemplate"],
    "queues": ["queue", "routingrule", "scorecondition", "queueclearance", "rulechangerequest"],
    "cases": ["scorer", "contextprovider", "tag", "bank", "bankentry", "modelversion"],
}
_TWO_FACTOR_DEVICES = [("otp_totp", "totpdevice"), ("otp_static", "staticdevice")]
ADMIN_PERMISSIONS = (
    LEAD_PERMISSIONS
    + [("queues", "view_all_queues"), ("auth", "view_user")]  # view_user: pick people for clearances
    # Reset a lost authenticator (delete the device; the user enrols again). Keys are never shown.
    + [(app, f"{verb}_{model}") for app, model in _TWO_FACTOR_DEVICES for verb in ("view", "delete")]
    + [
        (app_label, f"{verb}_{model}")
        for app_label, models in _CONFIG_MODELS.items()
        for model in models
        for verb in ("view", "add", "change", "delete")
    ]
)

ROLES: dict[str, list[tuple[str, str]]] = {
    AGENT: AGENT_PERMISSIONS,
    LEAD: LEAD_PERMISSIONS,
    ADMIN: ADMIN_PERMISSIONS,
}

# Permissions that make an account "privileged": two-factor is required for it (`moderation.two_factor`).
PRIVILEGED_PERMISSIONS = frozenset(
    {f"{app}.{codename}" for app, codename in ADMIN_PERMISSIONS if not codename.startswith("view_")}
    | {"queues.view_all_queues", "moderation.view_auditevent"}
)


def _permissions(pairs: list[tuple[str, str]]) -> list[Permission]:
    if not pairs:
        return []
    condition = Q()
    for app_label, codename in pairs:
        condition |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(condition))
    missing = set(pairs) - {(p.content_type.app_label, p.codename) for p in found}
    if missing:
        raise LookupError(f"Unknown permissions for roles: {sorted(missing)}")
    return found


def sync_roles() -> dict[str, Group]:
    """Create the role groups and set their permissions to exactly the table above."""
    groups = {}
    for name, pairs in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions(pairs))
        groups[name] = group
    return groups


# Strongest first.
ROLE_LABELS = [(ADMIN, "admin"), (LEAD, "lead"), (AGENT, "agent")]
ROLE_BY_LABEL = {label: name for name, label in ROLE_LABELS}
STAFF_ROLES = {LEAD, ADMIN}  # may open the admin site (leads: read-only follow-up pages, retries)


def is_privileged(user) -> bool:
    """Leads and admins, by role or by any permission a lead or admin holds (however it was granted)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.is_staff:
        return True
    # One set intersection over the permissions Django has already loaded (and cached) for this user.
    return not PRIVILEGED_PERMISSIONS.isdisjoint(user.get_all_permissions())
