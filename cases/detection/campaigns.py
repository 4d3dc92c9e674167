"""Grouping open cases into campaigns: near-duplicate text, a shared link host, shared media.

    group_case(case)            when a case is enriched alone (`cases.detection.enrichment`): text and hosts
    group_cases(ids)            intake's chunks, all at once (`cases.detection.campaign_batch`, same result)
    group_cases_media(ids)      after `fetch_case_media` stored the cases' pictures: their SHA-256s

A campaign forms when at least `CAMPAIGN_MIN_MEMBERS` open cases, by at least `CAMPAIGN_MIN_AUTHORS` authors,
share near-duplicate text (`cases.detection.near_duplicates`), a host or a picture; one author's burst is
velocity, not a campaign. A case is in at most one campaign per kind (`CampaignMember` unique per case and
kind). Later matches join it; a new text that matches members of two campaigns bridges them, and the younger
is merged into the older (audited). A case already in a host campaign that links another crowded host stays
where it is (a campaign has one key). Members that resolve stay listed, as history.

Every member case gets a `campaign.size` signal (source context, source name `campaigns`, value = members)
so routing rules can ask for `[context: campaigns] campaign.size >= 10`.

Concurrency: the index is in the database, so workers share it. Each kind is grouped in a savepoint; two
workers forming the same campaign meet at a unique constraint (one member row per case and kind, one open
campaign per key) and the loser retries once, now seeing the winner's campaign. A campaign's row is locked
(in id order) before it changes, so joins to one campaign are serialised and counts stay exact. Restricted
cases take part (a restricted member makes the campaign restricted): who may see what is decided when the
campaign is shown (`cases.campaign_selectors`).
"""

import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from cases.content_display import link_hosts
from cases.detection import near_duplicates
from cases.models import (
    Campaign,
    CampaignMember,
    Case,
    ContentIndicator,
    MediaFile,
    Signal,
    TextFingerprint,
    TextSignature,
)
from cases.models.signal_source import BUILTIN_CONTEXT_SOURCES
from cases.selectors import media_url_hash
from moderation.audit import Actor, Verb, record_event

logger = logging.getLogger(__name__)

DETECTOR = Actor.system("campaigns")
SIGNAL_SOURCE_NAME = "campaigns"
SIGNAL_LABEL = BUILTIN_CONTEXT_SOURCES[SIGNAL_SOURCE_NAME][0]  # "campaign.size"
# Bounds on the work one case may cause: candidates verified, peers considered, hosts looked at.
MAX_CANDIDATES = 200
MAX_PEERS = 500
MAX_HOSTS = 5
MAX_MEDIA = 10
Kind = Campaign.Kind
_SIGNATURES = TextSignature._meta.db_table
_FINGERPRINTS = TextFingerprint._meta.db_table


@dataclass(frozen=True)
class Peer:
    case_id: int
    subject_id: int
    author_id: str
    is_restricted: bool
    jaccard: float | None = None
    key: str = ""


def group_case(case: Case) -> list[Campaign]:
    """Index the case's text and link hosts and group it with the open cases that share them. Returns the
    campaigns it is in now. Never raises for a grouping problem: enrichment and routing go on without it."""
    if case.kind != Case.Kind.REPORT or case.status == Case.Status.RESOLVED:
        return []
    found = []
    sketch = near_duplicates.sketch(case.subject.text or "")
    # Too short to tell a campaign from chance: "ok", "thanks", "lol" from a thousand people are not one.
    if sketch.shingles >= settings.CAMPAIGN_MIN_SHINGLES:
        found.append(in_savepoint(Kind.NEAR_DUPLICATE_TEXT, case, lambda case: group_text(case, sketch)))
    hosts = subject_hosts(case.subject)
    if hosts:
        found.append(in_savepoint(Kind.SHARED_DOMAIN, case, lambda case: group_hosts(case, hosts)))
    return [campaign for campaign in found if campaign is not None]


def group_cases_media(case_ids: list[int]) -> int:
    """After the cases' media copies are stored: group each open case with the others showing the same
    picture (same bytes, any URL). Returns how many of the cases are in a media campaign."""
    grouped = 0
    cases = Case.objects.filter(pk__in=case_ids, kind=Case.Kind.REPORT).exclude(status=Case.Status.RESOLVED)
    for case in cases.select_related("subject").order_by("pk"):
        with transaction.atomic():
            if in_savepoint(Kind.SHARED_MEDIA, case, _group_media) is not None:
                grouped += 1
    return grouped


def in_savepoint(kind: str, case: Case, group) -> Campaign | None:
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return group(case)
        except IntegrityError:
            # Another worker grouped one of these cases (or made this key's campaign) meanwhile: once more,
            # on what it committed.
            if attempt == 2:
                logger.warning("case %s: %s grouping lost two races; left for its next report", case.pk, kind)
        except Exception:
            # A bug here must not cost the case its signals and routing: the savepoint undid the grouping.
            logger.exception("case %s: %s grouping failed", case.pk, kind)
            return None
    return None


# --- near-duplicate text -----------------------------------------------------------------------------------


def group_text(case: Case, sketch: near_duplicates.TextSketch) -> Campaign | None:
    subject = case.subject
    bands = sketch.band_hashes()
    signature = _store_signature(subject, sketch, bands)
    similar: dict[int, float] = {}
    candidates = _candidates(bands, subject.pk)
    if candidates:
        # One vectorised comparison for all candidates (estimated Jaccard = share of equal MinHash values).
        matrix = np.frombuffer(b"".join(bytes(raw) for _, raw in candidates), dtype="<u4").reshape(
            len(candidates), near_duplicates.NUM_PERM
        )
        scores = (matrix == sketch.signature).mean(axis=1)
        similar = {
            subject_id: float(score)
            for (subject_id, _), score in zip(candidates, scores, strict=True)
            if score >= settings.CAMPAIGN_MIN_JACCARD
        }
    if not similar and not signature.existed:
        return None
    peers = [
        Peer(case_id, subject_id, author_id, restricted, jaccard=similar[subject_id])
        for case_id, subject_id, author_id, restricted in _open_cases_of(similar)
    ]
    # Members among the matched subjects (resolved ones too: a campaign goes on) and this case: which
    # campaigns they are in, and which peers are taken, in one query.
    memberships = dict(
        CampaignMember.objects.filter(
            Q(subject_id__in=similar) | Q(case_id=case.pk), kind=Kind.NEAR_DUPLICATE_TEXT
        ).values_list("case_id", "campaign_id")
    )
    best = max(similar.values(), default=None)
    return _join_or_form(
        case, Kind.NEAR_DUPLICATE_TEXT, "", peers, set(memberships.values()), memberships, jaccard=best
    )


@dataclass(frozen=True)
class _Stored:
    existed: bool


def _store_signature(subject, sketch, bands: list[int]) -> _Stored:
    """The subject's signature and bands for its current content version (once; older versions dropped).

    Written as SQL, two statements: `INSERT ... ON CONFLICT DO NOTHING RETURNING` (SQLite 3.35+, PostgreSQL)
    says in one round trip whether the version was already indexed, and the bands go in one multi-row INSERT
    (the ORM spent longer building 32 rows than the database took to store them)."""
    version = subject.content_version
    if version > 1:
        TextSignature.objects.filter(subject=subject, content_version__lt=version).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_SIGNATURES} (subject_id, content_version, signature, shingles, created_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (subject_id, content_version) DO NOTHING RETURNING id",
            [subject.pk, version, sketch.to_bytes(), sketch.shingles, timezone.now()],
        )
        row = cursor.fetchone()
        if row is None:
            return _Stored(existed=True)
        rows = ", ".join(["(%s, %s, %s, %s)"] * len(bands))
        cursor.execute(
            f"INSERT INTO {_FINGERPRINTS} (signature_id, subject_id, band, band_hash) VALUES {rows}",  # noqa: S608
            [
                value
                for band, band_hash in enumerate(bands)
                for value in (row[0], subject.pk, band, band_hash)
            ],
        )
    return _Stored(existed=False)


def _candidates(bands: list[int], subject_id: int) -> list[tuple[int, bytes]]:
    """Signatures sharing at least one band with these (bounded), other subjects only: one indexed query.
    A band hash mixes in its band's index, so equal hashes are the same band (`near_duplicates`).

    Written as SQL: the ORM spent ~10 ms per case compiling 32 OR-ed conditions. The band look-up is a
    derived table with its own LIMIT so PostgreSQL always starts from the band index (as `s.id IN (...)
    LIMIT n` it may walk the whole fingerprint table in id order, 11 ms at 64,000 rows, when its statistics
    are stale)."""
    marks = ", ".join(["%s"] * len(bands))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.subject_id, s.signature FROM (SELECT DISTINCT f.signature_id FROM {_FINGERPRINTS} f "  # noqa: S608
            f"WHERE f.band_hash IN ({marks}) LIMIT {MAX_CANDIDATES * 2}) c "
            f"JOIN {_SIGNATURES} s ON s.id = c.signature_id WHERE s.subject_id <> %s LIMIT {MAX_CANDIDATES}",
            [*bands, subject_id],
        )
        return cursor.fetchall()


# --- shared link hosts and shared media --------------------------------------------------------------------


def _is_common_host(host: str) -> bool:
    for common in (*settings.CAMPAIGN_COMMON_HOSTS, *settings.CAMPAIGN_PLATFORM_HOSTS):
        common = common.lower().strip(".")
        if host == common or host.endswith("." + common):
            return True
    return False


def subject_hosts(subject) -> list[str]:
    """The link hosts a subject's text really goes to (`www.` dropped), common hosts left out.

    Not the subject's own `url`: that is where the subject lives (its permalink, on the platform's host), so
    every subject would share it and the whole platform would become one campaign."""
    hosts = link_hosts(subject.text or "", limit=50)
    kept: list[str] = []
    for host in hosts:
        host = host.removeprefix("www.")
        if host and "." in host and host not in kept and not _is_common_host(host):
            kept.append(host[:255])
    return kept[:MAX_HOSTS]


def group_hosts(case: Case, hosts: list[str]) -> Campaign | None:
    return _group_by_keys(case, Kind.SHARED_DOMAIN, ContentIndicator.Kind.HOST, hosts)


def _group_media(case: Case) -> Campaign | None:
    urls = [str(url) for url in (case.subject.media_urls or [])][:MAX_MEDIA]
    digests = sorted(
        set(
            MediaFile.objects.filter(
                url_hash__in=[media_url_hash(url) for url in urls], state=MediaFile.State.STORED
            )
            .exclude(sha256="")
            .values_list("sha256", flat=True)
        )
    )
    return _group_by_keys(case, Kind.SHARED_MEDIA, ContentIndicator.Kind.MEDIA_SHA256, digests)


def _group_by_keys(case: Case, kind: str, indicator: str, keys: list[str]) -> Campaign | None:
    if not keys:
        return None
    ContentIndicator.objects.bulk_create(
        [ContentIndicator(subject=case.subject, kind=indicator, value=key) for key in keys],
        ignore_conflicts=True,
    )
    current = (
        CampaignMember.objects.filter(case=case, kind=kind).values_list("campaign_id", flat=True).first()
    )
    if current is not None:
        return _join_or_form(case, kind, "", [], {current}, {case.pk: current})
    for key in keys:
        existing = Campaign.objects.filter(kind=kind, shared_key=key, status=Campaign.Status.OPEN).first()
        sharing = ContentIndicator.objects.filter(kind=indicator, value=key).exclude(
            subject_id=case.subject_id
        )
        peers = [
            Peer(case_id, subject_id, author_id, restricted, key=key)
            for case_id, subject_id, author_id, restricted in _open_cases_of(
                sharing.values("subject_id")[:MAX_PEERS]
            )
        ]
        memberships = dict(
            CampaignMember.objects.filter(
                case_id__in=[peer.case_id for peer in peers], kind=kind
            ).values_list("case_id", "campaign_id")
        )
        campaign = _join_or_form(case, kind, key, peers, {existing.pk} if existing else set(), memberships)
        if campaign is not None:
            return campaign
    return None


# --- joining, forming and merging --------------------------------------------------------------------------


def _open_cases_of(subject_ids) -> list[tuple[int, int, str, bool]]:
    return list(
        Case.objects.filter(subject_id__in=subject_ids, kind=Case.Kind.REPORT)
        .exclude(status=Case.Status.RESOLVED)
        .values_list("pk", "subject_id", "subject__author_id", "is_restricted")[:MAX_PEERS]
    )


def _join_or_form(
    case: Case,
    kind: str,
    key: str,
    peers: list[Peer],
    campaign_ids: set[int],
    memberships: dict[int, int],
    *,
    jaccard: float | None = None,
) -> Campaign | None:
    """Join the oldest of `campaign_ids` (merging the others into it), or found a campaign with the free
    peers if there are enough of them. `memberships`: case id -> campaign of this kind, for the peers and
    this case (their campaigns are among `campaign_ids`)."""
    now = timezone.now()
    me = Peer(case.pk, case.subject_id, case.subject.author_id, case.is_restricted, jaccard=jaccard, key=key)
    free = [peer for peer in peers if peer.case_id not in memberships]
    # Locked in id order (fixed lock order), oldest first: the one every other merges into.
    campaigns = (
        sorted(
            Campaign.objects.select_for_update().filter(pk__in=campaign_ids, status=Campaign.Status.OPEN),
            key=lambda campaign: (campaign.first_seen_at, campaign.pk),
        )
        if campaign_ids
        else []
    )
    if campaigns:
        target = campaigns[0]
        for younger in campaigns[1:]:
            _merge(younger, into=target, bridge=case, now=now)
    else:
        founders = [me, *free]
        authors = {peer.author_id for peer in founders}
        if len(founders) < settings.CAMPAIGN_MIN_MEMBERS or len(authors) < settings.CAMPAIGN_MIN_AUTHORS:
            return None
        target = Campaign.objects.create(kind=kind, shared_key=key, first_seen_at=now, last_grown_at=now)
        record_event(
            actor=DETECTOR,
            verb=Verb.CAMPAIGN_FORMED,
            target=target,
            case_id=case.pk,
            data={"kind": kind, "members": len(founders), "authors": len(authors)},
        )
    # This case's own campaign, if any, was among those joined or merged: it is in `target` now.
    joining = free if case.pk in memberships else [me, *free]
    CampaignMember.objects.bulk_create(
        CampaignMember(
            campaign=target,
            kind=kind,
            case_id=peer.case_id,
            subject_id=peer.subject_id,
            joined_at=now,
            jaccard=peer.jaccard,
            matched_key=peer.key,
        )
        for peer in joining
    )
    target.member_count += len(joining)
    if joining:
        target.last_grown_at = now
    target.is_restricted = target.is_restricted or any(peer.is_restricted for peer in joining)
    target.save(update_fields=["member_count", "is_restricted", "last_grown_at", "first_seen_at"])
    _size_signals(target, [peer.case_id for peer in joining] + [case.pk], everyone=bool(campaigns[1:]))
    return target


def _merge(younger: Campaign, *, into: Campaign, bridge: Case, now) -> None:
    moved = CampaignMember.objects.filter(campaign=younger).update(campaign=into)
    into.member_count += moved
    Campaign.objects.filter(pk=younger.pk).update(
        status=Campaign.Status.CLOSED, merged_into=into, member_count=0, last_grown_at=now
    )
    into.is_restricted = into.is_restricted or younger.is_restricted
    into.first_seen_at = min(into.first_seen_at, younger.first_seen_at)
    record_event(
        actor=DETECTOR,
        verb=Verb.CAMPAIGN_MERGED,
        target=into,
        case_id=bridge.pk,
        data={"merged": younger.pk, "into": into.pk, "moved": moved},
    )


def _size_signals(campaign: Campaign, case_ids: list[int], *, everyone: bool) -> None:
    """The campaign's size as a `campaign.size` signal on these cases (the ones that joined, and the one
    being enriched). The other members' signals are brought up to date when the size doubles (and after a
    merge): amortised constant work per join, where rewriting every member's signal on each join would make
    a campaign of n cases cost n^2 writes. A member's own re-enrichment (a new report) refreshes its signal
    before it is routed again, so routing never reads a stale size for the case it routes."""
    size = campaign.member_count
    dedupe_key = f"campaign:{campaign.kind}"
    doubled = size >= settings.CAMPAIGN_MIN_MEMBERS and size & (size - 1) == 0
    if everyone or doubled:
        Signal.objects.filter(
            dedupe_key=dedupe_key,
            case_id__in=CampaignMember.objects.filter(campaign=campaign).values("case_id"),
        ).update(value=size)
    ids = list(dict.fromkeys(case_ids))
    Signal.objects.filter(dedupe_key=dedupe_key, case_id__in=ids).update(value=size)
    Signal.objects.bulk_create(
        [
            Signal(
                case_id=case_id,
                source=Signal.Source.CONTEXT,
                source_name=SIGNAL_SOURCE_NAME,
                model=campaign.kind,
                model_version=near_duplicates.VERSION if campaign.kind == Kind.NEAR_DUPLICATE_TEXT else "1",
                label=SIGNAL_LABEL,
                value=size,
                dedupe_key=dedupe_key,
            )
            for case_id in ids
        ],
        ignore_conflicts=True,
    )
