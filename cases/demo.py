"""Demo data: a realistic platform configuration and a few hundred reports sent through the real intake."""

import random
import struct
import zlib
from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from cases.models import Bank, MediaFile, Scorer, Tag
from cases.selectors import media_url_hash
from cases.services.banks import create_bank, import_bank_entries
from cases.services.intake import ReportInput, SubjectInput, accept_reports
from moderation.audit import Actor
from moderation.models import Action, Policy, Vendor
from moderation.services import assign_role
from queues.models import Queue, QueueClearance, RoutingRule, ScoreCondition

DEMO_PASSWORD = "review-demo-2026"  # noqa: S105 - printed for the demo; never used outside seed_demo

ACTIONS = [
    # code, name, kind, enforcement_type, duration_hours, shortcut key (the same under every policy)
    ("remove", "Remove content", Action.Kind.REMOVE, "content.remove", None, "1"),
    ("restrict", "Restrict visibility", Action.Kind.RESTRICT, "content.restrict", None, "2"),
    ("label-sensitive", "Label as sensitive", Action.Kind.LABEL, "content.label", None, "3"),
    ("warn", "Warn author", Action.Kind.WARN, "account.warn", None, "4"),
    ("suspend-7d", "Suspend account 7 days", Action.Kind.SUSPEND_TEMPORARY, "account.suspend", 168, "5"),
    (
        "suspend-permanent",
        "Suspend account permanently",
        Action.Kind.SUSPEND_PERMANENT,
        "account.ban",
        None,
        "6",
    ),
    ("escalate", "Escalate to specialist", Action.Kind.ESCALATE, "", None, ""),  # the page's own key, e
    ("dismiss", "No violation", Action.Kind.NO_VIOLATION, "", None, "0"),
]

RESTRICTED_POLICIES = {"child-safety"}
POLICIES = [
    # code, name, severity, sla_hours, second review, dsa, allowed action codes
    (
        "spam",
        "Spam",
        1,
        72,
        False,
        Policy.DsaCategory.SCAMS_AND_FRAUD,
        ["remove", "restrict", "warn", "suspend-7d", "suspend-permanent", "dismiss"],
    ),
    (
        "harassment",
        "Harassment and bullying",
        3,
        24,
        False,
        Policy.DsaCategory.ILLEGAL_OR_HARMFUL_SPEECH,
        ["remove", "restrict", "warn", "suspend-7d", "suspend-permanent", "escalate", "dismiss"],
    ),
    (
        "hate",
        "Hateful conduct",
        4,
        12,
        False,
        Policy.DsaCategory.ILLEGAL_OR_HARMFUL_SPEECH,
        [
            "remove",
            "restrict",
            "label-sensitive",
            "warn",
            "suspend-7d",
            "suspend-permanent",
            "escalate",
            "dismiss",
        ],
    ),
    (
        "violent-extremism",
        "Violent extremism",
        5,
        4,
        True,
        Policy.DsaCategory.VIOLENCE,
        ["remove", "suspend-permanent", "escalate", "dismiss"],
    ),
    (
        "child-safety",
        "Child safety",
        5,
        1,
        True,
        Policy.DsaCategory.PROTECTION_OF_MINORS,
        ["remove", "suspend-permanent", "escalate", "dismiss"],
    ),
    (
        "self-harm",
        "Suicide and self-harm",
        4,
        4,
        False,
        Policy.DsaCategory.SELF_HARM,
        ["remove", "label-sensitive", "restrict", "escalate", "dismiss"],
    ),
    (
        "impersonation",
        "Impersonation",
        2,
        48,
        False,
        Policy.DsaCategory.IMPERSONATION,
        ["remove", "warn", "suspend-7d", "suspend-permanent", "dismiss"],
    ),
]

QUEUES = [
    # slug, name, sla_hours, default, restricted
    ("general", "General review", None, True, False),
    ("harassment-hate", "Harassment & hate", None, False, False),
    ("child-safety", "Child safety (restricted)", 1, False, True),
    ("violent-extremism", "Violent extremism", 4, False, False),
    ("spam", "Spam & scams", None, False, False),
    ("escalations", "Escalations", None, False, False),
]

TEXTS = {
    "spam": [
        "Congrats!! You won a $500 gift card, claim at https://gift-card-claim.example/win",
        "Earn 3000/day from home with the secret crypto method: free-crypto.example",
        "cheap followers 10k for $5 click now",
    ],
    "harassment": [
        "you are worthless, nobody wants you here, log off forever",
        "everyone at school laughs at you, loser",
        "I know where you live and I will make your life hell",
    ],
    "hate": [
        "people like them are vermin and should be kicked out of the country",
        "[slur] don't belong in this city",
    ],
    "violent-extremism": [
        "join the movement, the day of reckoning is coming, arm yourselves",
        "glory to the martyrs of the attack, share this video",
    ],
    "child-safety": [
        "[content withheld: suspected CSAM hash match]",
        "hey how old are you? send pics, don't tell your mom",
    ],
    "self-harm": ["I can't do this anymore, tonight is the night", "what's the most painless way to go"],
    "impersonation": [
        "Official support account: send your password to verify",
        "I am the real CEO, this is my new account",
    ],
}

# Markup and script in reported content: the UI must show it as text, never render it.
HOSTILE_TEXTS = [
    '<script>alert("xss")</script> free stuff',
    "<img src=x onerror=alert(1)> click",
    "javascript:alert(1)",
]


@transaction.atomic
def seed_configuration() -> dict:
    actions = {}
    # Keys are unique among active actions: free them first, so a re-run can hand them out again in any order.
    Action.objects.filter(code__in=[code for code, *_ in ACTIONS]).exclude(
        kind=Action.Kind.NO_VIOLATION
    ).update(shortcut_key="")
    for code, name, kind, enforcement_type, duration, key in ACTIONS:
        actions[code], _ = Action.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "enforcement_type": enforcement_type,
                "duration_hours": duration,
                "shortcut_key": key,
            },
        )
    for code, name, severity, sla, second, dsa, allowed in POLICIES:
        policy, _ = Policy.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "severity": severity,
                "sla_hours": sla,
                "requires_second_review": second,
                # Child sexual abuse material: seen only by cleared reviewers, wherever it goes.
                "is_restricted": code in RESTRICTED_POLICIES,
                "dsa_category": dsa,
                "user_facing_text": f"Your content was found to violate our {name} policy.",
            },
        )
        policy.allowed_actions.set([actions[a] for a in allowed])

    for slug, name, sla, default, restricted in QUEUES:
        Queue.objects.update_or_create(
            slug=slug,
            defaults={"name": name, "sla_hours": sla, "is_default": default, "is_restricted": restricted},
        )

    vendors = {}
    for slug, name, reliability in [
        ("user-reports", "User reports pipeline", 0.45),
        ("sentinel", "Sentinel detection", 0.85),
    ]:
        vendors[slug], _ = Vendor.objects.update_or_create(
            slug=slug, defaults={"name": name, "reliability": reliability}
        )

    seed_routing(actions)
    seed_banks()

    # Roles (what people may do) are the groups `moderation.roles` keeps in step; teams (which queues they
    # work) are plain groups listed as the queues' member groups.
    general_team, _ = Group.objects.get_or_create(name="Team: general review")
    safety_team, _ = Group.objects.get_or_create(name="Team: child safety")
    users = {}
    for username, role, teams, superuser in [
        ("agent", "agent", [general_team.name], False),
        ("lead", "lead", [general_team.name, safety_team.name], False),
        ("admin", "admin", [], True),
    ]:
        user, _ = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.test"}
        )
        user.is_superuser = superuser
        user.set_password(DEMO_PASSWORD)
        user.save()
        # The same path as `manage.py grant_role`: role group, teams and staff flag, audited.
        assign_role(user=user, role=role, teams=teams, actor=Actor.system("seed_demo"))
        users[username] = user
    for queue in Queue.objects.filter(is_restricted=False):
        queue.member_groups.add(general_team)
    for queue in Queue.objects.filter(is_restricted=True):
        queue.member_groups.add(safety_team)
        # Restricted queues need a dated clearance on top of membership: the demo lead has one.
        QueueClearance.objects.update_or_create(
            queue=queue,
            user=users["lead"],
            defaults={
                "granted_by": users["admin"],
                "expires_at": timezone.now() + timedelta(days=365),
                "reason": "Demo: wellness training completed",
            },
        )

    for slug, name, protected in [
        ("high-profile", "High-profile account (protected: leads act)", True),
        ("lang:de", "German", False),
        ("campaign:x", "Campaign X", False),
    ]:
        Tag.objects.update_or_create(
            slug=slug, defaults={"name": name, "is_curated": True, "is_protected": protected}
        )
    return {"vendors": vendors, "users": users}


def seed_banks() -> None:
    """Two small matching banks and a rule on each, so the demo's cases show bank hits with evidence."""
    banks = [
        ("threat-terms", "keyword", "value,label\nmake your life hell,threat\nday of reckoning,incitement\n"),
        ("scam-domains", "domain", "value,label\nfree-crypto.example,scam\ngift-card-claim.example,scam\n"),
    ]
    for name, kind, rows in banks:
        if Bank.objects.filter(name=name).exists():
            continue
        bank = create_bank(name=name, kind=kind, description="Demo bank", via="seed_demo")
        import_bank_entries(bank=bank, data=rows, source="demo", via="seed_demo")


def seed_routing(actions: dict) -> None:
    """The built-in text scorer and a few routing rules that show each kind of outcome."""
    Scorer.objects.update_or_create(
        name="Built-in text model", defaults={"kind": Scorer.Kind.BUILTIN_TEXT, "is_enabled": True}
    )
    queues = {queue.slug: queue for queue in Queue.objects.all()}
    policies = {policy.code: policy for policy in Policy.objects.all()}
    rules = [
        # name, position, policies, target queue, boost, sla, mode, auto policy, auto action,
        # conditions (source, source name, label, operator, threshold)
        ("Child safety first", 10, ["child-safety"], "child-safety", 200, 1, "off", None, None, []),
        (
            "Violent extremism",
            20,
            ["violent-extremism"],
            "violent-extremism",
            50,
            None,
            "off",
            None,
            None,
            [],
        ),
        (
            "Obvious spam: remove (shadow)",
            30,
            ["spam"],
            None,
            0,
            None,
            "shadow",
            "spam",
            "remove",
            # Sentinel sends a `spam` score with its reports: a vendor claim, so an automatic decision
            # (even a shadow one) may count it only by naming the vendor.
            [(ScoreCondition.Source.VENDOR, "sentinel", "spam", "gte", 0.95)],
        ),
        (
            "Very offensive harassment",
            40,
            ["harassment", "hate"],
            "harassment-hate",
            30,
            6,
            "off",
            None,
            None,
            # The built-in model's label: a vendor sending its own `profanity` score never matches it.
            [(ScoreCondition.Source.SCORER, "", "profanity", "gte", 0.9)],
        ),
        (
            "Harassment and hate",
            50,
            ["harassment", "hate"],
            "harassment-hate",
            0,
            None,
            "off",
            None,
            None,
            [],
        ),
        ("Spam", 60, ["spam"], "spam", 0, None, "off", None, None, []),
        (
            "Known threat phrase (bank)",
            35,
            [],
            "harassment-hate",
            40,
            None,
            "off",
            None,
            None,
            [(ScoreCondition.Source.BANK, "threat-terms", "bank:threat-terms", "gte", 1.0)],
        ),
        (
            "Known scam domain (bank)",
            36,
            [],
            "spam",
            40,
            None,
            "off",
            None,
            None,
            [(ScoreCondition.Source.BANK, "scam-domains", "bank:scam-domains", "gte", 1.0)],
        ),
    ]
    for name, position, codes, queue, boost, sla, mode, auto_policy, auto_action, conditions in rules:
        rule, _ = RoutingRule.objects.update_or_create(
            name=name,
            defaults={
                "position": position,
                "state": RoutingRule.State.LIVE,
                "target_queue": queues.get(queue) if queue else None,
                "priority_boost": boost,
                "sla_hours_override": sla,
                "automation_mode": mode,
                "auto_policy": policies.get(auto_policy) if auto_policy else None,
                "auto_action": actions.get(auto_action) if auto_action else None,
            },
        )
        rule.policies.set([policies[code] for code in codes])
        rule.score_conditions.all().delete()
        for source, source_name, label, operator, threshold in conditions:
            ScoreCondition.objects.create(
                rule=rule,
                source=source,
                source_name=source_name,
                label=label,
                operator=operator,
                threshold=threshold,
            )


def seed_reports(*, vendors: dict[str, Vendor], count: int = 300, seed: int = 7) -> int:
    """Send `count` reports through the real intake service, several per subject for some."""
    rng = random.Random(seed)
    policies = {policy.code: policy for policy in Policy.objects.all()}
    now = timezone.now()
    batch: dict[str, list[ReportInput]] = {slug: [] for slug in vendors}
    subjects = [f"msg-{n:05d}" for n in range(int(count * 0.7))]
    for n in range(count):
        reason = rng.choices(list(TEXTS), weights=[30, 25, 12, 5, 3, 8, 10])[0]
        text = rng.choice(TEXTS[reason] + (HOSTILE_TEXTS if reason == "spam" else []))
        subject_id = rng.choice(subjects) if rng.random() < 0.4 else subjects[n % len(subjects)]
        vendor_slug = "sentinel" if rng.random() < 0.35 else "user-reports"
        kind = rng.choice(["message", "post", "post", "media"]) if reason != "impersonation" else "profile"
        media = [f"https://media.platform.example/{subject_id}.jpg"] if kind == "media" else []
        scores = (
            ((reason.replace("-", "_"), round(rng.uniform(0.5, 0.99), 2)),)
            if vendor_slug == "sentinel"
            else ()
        )
        subject = SubjectInput(
            kind=kind,
            external_id=f"{kind}-{subject_id}",
            author_id=f"user-{rng.randint(1, 120)}",
            text=text,
            media_urls=tuple(media),
            language="en",
            url=f"https://platform.example/{kind}/{subject_id}",
        )
        occurred = now - timedelta(minutes=rng.randint(1, 60 * 48))
        external_id = f"demo-{vendor_slug}-{n}"
        reporter = f"user-{rng.randint(200, 900)}" if vendor_slug == "user-reports" else ""
        payload = {
            "external_id": external_id,
            "reason": reason,
            "subject": subject.content() | {"kind": kind},
            "reporter": {"id": reporter},
            "occurred_at": occurred.isoformat(),
            "demo": True,
        }
        batch[vendor_slug].append(
            ReportInput(
                external_id=external_id,
                policy=policies[reason],
                subject=subject,
                payload=payload,
                reporter_id=reporter,
                comment="",
                occurred_at=occurred,
                scores=scores,
            )
        )
    # Copies first: the media worker then finds every demo picture already stored and fetches nothing.
    seed_media_copies(
        rng, {url for items in batch.values() for item in items for url in item.subject.media_urls}
    )
    created = 0
    for slug, items in batch.items():
        for start in range(0, len(items), 100):
            outcomes = accept_reports(vendor=vendors[slug], reports=items[start : start + 100])
            created += sum(1 for outcome in outcomes if outcome.status == "created")
    return created


def seed_media_copies(rng: random.Random, urls: set[str]) -> None:
    """Stored copies for the demo's media URLs (generated pictures: nothing is fetched from anywhere)."""
    for url in sorted(urls):
        content = png_bytes(
            240, 160, (rng.randint(40, 180), rng.randint(40, 180), rng.randint(40, 180)), stripes=12
        )
        MediaFile.objects.update_or_create(
            url_hash=media_url_hash(url),
            defaults={
                "url": url,
                "state": MediaFile.State.STORED,
                "content_type": "image/png",
                "content": content,
                "size": len(content),
            },
        )


def png_bytes(width: int, height: int, colour: tuple[int, int, int], *, stripes: int = 0) -> bytes:
    """A small RGB PNG (no imaging library needed): a solid colour, optionally with diagonal stripes.

    The demo stores these as the copies of its media items, so reveal/blur can be tried without the app ever
    fetching anything from the internet.
    """
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            light = stripes and ((x + y) // stripes) % 2
            row += bytes(min(255, c + 70) if light else c for c in colour)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )
