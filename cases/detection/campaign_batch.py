"""Grouping a chunk of cases at once: what `campaigns.group_case` does for each case, in a fixed number of
statements for the whole chunk, with the same result as grouping the cases one by one in the given order.

Per case, grouping one by one is database-bound (a fingerprint insert, a candidate query, the membership
reads and writes, a commit: 4-15 statements). Here a chunk costs: one signature insert, one fingerprint
insert, one candidate query for every band of the chunk, one read each of the peers' open cases, their
memberships and the campaigns (locked, in id order), then bulk writes: new campaigns, moved members (after a
merge), new members, campaign counters, audit events and `campaign.size` signals. Then the chunk commits
once. Joining, forming and merging are replayed in memory case by case in the chunk's order, so a case sees
the cases before it in the chunk as it would have seen them committed: near-duplicates inside one chunk
form a campaign together, and a bridge merges as it would one by one.

Concurrency is that of `group_case`: campaigns are locked before they change, two workers founding the
same campaign meet at the one-membership-per-case unique index, and the loser replays its chunk once on
what the winner committed. A chunk that loses twice, or trips over a bug, is grouped one case at a time.
"""

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import count

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case as SqlCase
from django.db.models import Q, Value, When
from django.utils import timezone

from cases.detection import campaign_sql, near_duplicates
from cases.detection.campaigns import (
    DETECTOR,
    MAX_CANDIDATES,
    MAX_PEERS,
    SIGNAL_LABEL,
    SIGNAL_SOURCE_NAME,
    Peer,
    group_hosts,
    group_text,
    in_savepoint,
    subject_hosts,
)
from cases.models import Campaign, CampaignMember, Case, TextSignature
from moderation.audit import Verb, audit_event, record_events

logger = logging.getLogger(__name__)

Kind = Campaign.Kind
TEXT = Kind.NEAR_DUPLICATE_TEXT
DEDUPE_KEY = f"campaign:{TEXT}"
_CASE_FIELDS = (
    "kind",
    "status",
    "is_restricted",
    "subject__text",
    "subject__url",
    "subject__author_id",
    "subject__content_version",
)


def group_cases(case_ids: list[int]) -> dict[int, list[Campaign]]:
    """Group the open report cases among `case_ids` (in that order) by near-duplicate text and link hosts,
    in one transaction. Returns, per grouped case, the campaigns it is in now. Never raises for a grouping
    problem: enrichment and routing go on without it."""
    order = {case_id: n for n, case_id in enumerate(dict.fromkeys(case_ids))}
    cases = sorted(
        Case.objects.filter(pk__in=order, kind=Case.Kind.REPORT)
        .exclude(status=Case.Status.RESOLVED)
        .select_related("subject")
        # What grouping reads: a subject's other columns (metadata, media...) are not worth converting.
        .only(*_CASE_FIELDS),
        key=lambda case: order[case.pk],
    )
    sketches = dict(
        zip(
            [case.pk for case in cases],
            near_duplicates.sketches([case.subject.text or "" for case in cases]),
            strict=True,
        )
    )
    # Too short to tell a campaign from chance (as `group_case`): not even indexed.
    texts = [case for case in cases if sketches[case.pk].shingles >= settings.CAMPAIGN_MIN_SHINGLES]
    found: dict[int, list[Campaign]] = {case.pk: [] for case in cases}
    with transaction.atomic():
        for case_id, campaign in _group_texts_safely(texts, sketches).items():
            found[case_id].append(campaign)
        for case in cases:
            hosts = subject_hosts(case.subject)
            if hosts:
                campaign = in_savepoint(
                    Kind.SHARED_DOMAIN, case, lambda case, hosts=hosts: group_hosts(case, hosts)
                )
                if campaign is not None:
                    found[case.pk].append(campaign)
    return found


def _group_texts_safely(cases: list[Case], sketches) -> dict[int, Campaign]:
    if not cases:
        return {}
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _Chunk(cases, sketches).group()
        except IntegrityError:
            # Another worker grouped some of these cases (or founded their campaign) meanwhile: replay the
            # chunk on what it committed; twice unlucky, one case at a time.
            if attempt == 2:
                logger.warning("chunk of %d cases lost two races; grouped one by one", len(cases))
        except Exception:
            logger.exception("batched grouping of %d cases failed; grouped one by one", len(cases))
            break
    grouped = {}
    for case in cases:
        sketch = sketches[case.pk]
        campaign = in_savepoint(TEXT, case, lambda case, sketch=sketch: group_text(case, sketch))
        if campaign is not None:
            grouped[case.pk] = campaign
    return grouped


@dataclass
class _Campaign:
    """A campaign as the replay sees it: a locked row, or one founded in this chunk (saved at the end)."""

    row: Campaign
    # Ties on first_seen_at go to the lower id; a campaign founded in this chunk has the higher id.
    rank: tuple
    is_new: bool = False
    merged: bool = False
    merged_into: "_Campaign | None" = None

    @property
    def order(self) -> tuple:
        return (self.row.first_seen_at, *self.rank)


@dataclass
class _Replay:
    member_of: dict[int, _Campaign] = field(default_factory=dict)  # case id -> campaign (this kind)
    members_by_subject: dict[int, set[int]] = field(default_factory=dict)
    joined: list[tuple[Peer, datetime]] = field(default_factory=list)
    moved_from: list[_Campaign] = field(default_factory=list)  # merged campaigns already in the database
    touched: dict[int, _Campaign] = field(default_factory=dict)  # id() -> campaign
    events: list[tuple] = field(default_factory=list)  # (verb, campaign, case id, data builder)
    sizes: dict[int, int] = field(default_factory=dict)  # case id -> the last size written to it
    everyone: dict[int, tuple[_Campaign, int]] = field(default_factory=dict)  # id() -> its last rewrite


class _Chunk:
    def __init__(self, cases: list[Case], sketches) -> None:
        self.cases = cases
        self.sketches = sketches
        self.steps = count()

    def group(self) -> dict[int, Campaign]:
        existed, position = self._store_signatures()
        similar = self._similar(self._candidates(), position)
        if not any(similar.values()) and not existed:
            return {}  # unique texts, first seen: indexed, and nothing more to read or write
        subject_ids = {subject_id for scores in similar.values() for subject_id in scores}
        open_cases = self._open_cases(subject_ids)
        replay = self._load_memberships(subject_ids)
        for case in self.cases:
            scores = similar[case.pk]
            if not scores and case.pk not in existed:
                continue
            peers = [
                replace(peer, jaccard=scores[peer.subject_id])
                for subject in scores
                for peer in open_cases.get(subject, ())
            ][:MAX_PEERS]
            self._join_or_form(replay, case, peers, scores, jaccard=max(scores.values(), default=None))
        self._write(replay)
        return {case.pk: replay.member_of[case.pk].row for case in self.cases if case.pk in replay.member_of}

    # --- reads: the index and the neighbourhood of the whole chunk -------------------------------------

    def _store_signatures(self) -> tuple[set[int], dict[int, int]]:
        """Index every subject of the chunk (its current content version) in two INSERTs. Returns the
        cases whose subject was indexed before them (as `group_case` sees "existed"), and the position of each
        signature this chunk added (a case sees only those of the cases before it)."""
        firsts: dict[int, Case] = {}
        for case in self.cases:
            firsts.setdefault(case.subject_id, case)
        stale = Q()
        for case in firsts.values():
            if case.subject.content_version > 1:
                stale |= Q(subject_id=case.subject_id, content_version__lt=case.subject.content_version)
        if stale:
            TextSignature.objects.filter(stale).delete()
        now = timezone.now()
        added = campaign_sql.insert_signatures(
            [
                (
                    case.subject_id,
                    case.subject.content_version,
                    self.sketches[case.pk].to_bytes(),
                    self.sketches[case.pk].shingles,
                    now,
                )
                for case in firsts.values()
            ]
        )
        campaign_sql.insert_fingerprints(
            [
                value
                for signature_id, subject_id in added.items()
                for band, band_hash in enumerate(self.sketches[firsts[subject_id].pk].band_hashes())
                for value in (signature_id, subject_id, band, band_hash)
            ]
        )
        positions = {case.subject_id: n for n, case in reversed(list(enumerate(self.cases)))}
        before = set(firsts) - set(added.values())
        # A second case on a subject finds it indexed by the first, as it would one by one.
        existed = {
            case.pk for case in self.cases if case.subject_id in before or firsts[case.subject_id] is not case
        }
        return existed, {signature_id: positions[subject] for signature_id, subject in added.items()}

    def _candidates(self) -> list[tuple[int, int, bytes]]:
        """Every signature sharing a band with any case of the chunk (at most MAX_CANDIDATES a band)."""
        bands = sorted({band for case in self.cases for band in self.sketches[case.pk].band_hashes()})
        return campaign_sql.candidates(bands, per_band=MAX_CANDIDATES)

    def _similar(self, candidates, position: dict[int, int]) -> dict[int, dict[int, float]]:
        """Per case: the subjects it would have found one by one (sharing a band, indexed before it, not
        its own), verified on the whole signature, best first as `group_case` keeps them."""
        if not candidates:
            return {case.pk: {} for case in self.cases}
        ids = np.array([signature_id for signature_id, _, _ in candidates])
        subjects = np.array([subject_id for _, subject_id, _ in candidates])
        matrix = np.frombuffer(b"".join(bytes(raw) for _, _, raw in candidates), dtype="<u4").reshape(
            len(candidates), near_duplicates.NUM_PERM
        )
        # A candidate's bands are a function of its signature: recomputed here, vectorised, rather than
        # read back row by row with the query.
        candidate_bands = near_duplicates.band_matrix(matrix)
        seen_from = np.array([position.get(int(signature_id), -1) for signature_id in ids])
        similar = {}
        for n, case in enumerate(self.cases):
            sketch = self.sketches[case.pk]
            shares = np.isin(candidate_bands, sketch.band_hashes()).any(axis=1)
            visible = np.flatnonzero(shares & (seen_from < n) & (subjects != case.subject_id))[
                :MAX_CANDIDATES
            ]
            scores = (matrix[visible] == sketch.signature).mean(axis=1)
            similar[case.pk] = {
                int(subjects[index]): float(score)
                for index, score in zip(visible, scores, strict=True)
                if score >= settings.CAMPAIGN_MIN_JACCARD
            }
        return similar

    def _open_cases(self, subject_ids: set[int]) -> dict[int, list[Peer]]:
        found: dict[int, list[Peer]] = {}
        rows = campaign_sql.open_cases(subject_ids, limit=MAX_PEERS * len(self.cases))
        for case_id, subject_id, author_id, restricted in rows:
            found.setdefault(subject_id, []).append(Peer(case_id, subject_id, author_id, restricted))
        return found

    def _load_memberships(self, subject_ids: set[int]) -> _Replay:
        """The text memberships of the matched subjects (resolved cases too) and of the chunk's cases, and
        their open campaigns, locked in id order (the fixed lock order `group_case` uses)."""
        replay = _Replay()
        rows = campaign_sql.memberships(TEXT, subject_ids, [case.pk for case in self.cases])
        locked = {}
        if rows:
            locking = Campaign.objects.select_for_update().filter(
                pk__in={campaign_id for _, _, campaign_id in rows}, status=Campaign.Status.OPEN
            )
            locked = {
                campaign.pk: _Campaign(campaign, (0, campaign.pk)) for campaign in locking.order_by("pk")
            }
        closed = {}
        for case_id, subject_id, campaign_id in rows:
            # A member of a campaign closed meanwhile counts as taken, in no open campaign (as one by one).
            campaign = locked.get(campaign_id) or closed.setdefault(
                campaign_id, _Campaign(Campaign(pk=campaign_id), (), merged=True)
            )
            replay.member_of[case_id] = campaign
            replay.members_by_subject.setdefault(subject_id, set()).add(case_id)
        return replay

    # --- the replay: `campaigns._join_or_form`, in memory ----------------------------------------------

    def _join_or_form(
        self, replay: _Replay, case: Case, peers: list[Peer], similar_subjects, *, jaccard
    ) -> None:
        now = timezone.now()
        me = Peer(case.pk, case.subject_id, case.subject.author_id, case.is_restricted, jaccard=jaccard)
        # The members among the matched subjects (resolved cases too: a campaign goes on) and this case.
        taken = {me.case_id} if me.case_id in replay.member_of else set()
        for subject_id in similar_subjects:
            taken |= replay.members_by_subject.get(subject_id, set())
        free = [peer for peer in peers if peer.case_id not in replay.member_of]
        campaigns = sorted(
            {id(c): c for c in (replay.member_of[case_id] for case_id in taken) if not c.merged}.values(),
            key=lambda campaign: campaign.order,
        )
        if campaigns:
            target = campaigns[0]
            for younger in campaigns[1:]:
                self._merge(replay, younger, into=target, bridge=case, now=now)
        else:
            founders = [me, *free]
            authors = {peer.author_id for peer in founders}
            if len(founders) < settings.CAMPAIGN_MIN_MEMBERS or len(authors) < settings.CAMPAIGN_MIN_AUTHORS:
                return
            row = Campaign(kind=TEXT, shared_key="", first_seen_at=now, last_grown_at=now, member_count=0)
            target = _Campaign(row, (1, next(self.steps)), is_new=True)
            data = {"kind": TEXT, "members": len(founders), "authors": len(authors)}
            replay.events.append((Verb.CAMPAIGN_FORMED, target, case.pk, lambda data=data: data))
        joining = free if me.case_id in replay.member_of else [me, *free]
        for peer in joining:
            replay.member_of[peer.case_id] = target
            replay.members_by_subject.setdefault(peer.subject_id, set()).add(peer.case_id)
            replay.joined.append((peer, now))
        row = target.row
        row.member_count += len(joining)
        if joining:
            row.last_grown_at = now
        row.is_restricted = row.is_restricted or any(peer.is_restricted for peer in joining)
        replay.touched[id(target)] = target
        self._size_signals(
            replay, target, [peer.case_id for peer in joining] + [case.pk], bool(campaigns[1:])
        )

    def _merge(self, replay: _Replay, younger: _Campaign, *, into: _Campaign, bridge: Case, now) -> None:
        moved = younger.row.member_count
        into.row.member_count += moved
        younger.row.status = Campaign.Status.CLOSED
        younger.row.member_count = 0
        younger.row.last_grown_at = now
        younger.merged = True
        into.row.is_restricted = into.row.is_restricted or younger.row.is_restricted
        into.row.first_seen_at = min(into.row.first_seen_at, younger.row.first_seen_at)
        younger.merged_into = into
        for case_id, campaign in replay.member_of.items():
            if campaign is younger:
                replay.member_of[case_id] = into
        if not younger.is_new:
            replay.moved_from.append(younger)
        replay.touched[id(younger)] = younger
        replay.everyone.pop(id(younger), None)
        replay.events.append(
            (
                Verb.CAMPAIGN_MERGED,
                into,
                bridge.pk,
                lambda: {"merged": younger.row.pk, "into": into.row.pk, "moved": moved},
            )
        )

    def _size_signals(
        self, replay: _Replay, campaign: _Campaign, case_ids: list[int], everyone: bool
    ) -> None:
        size = campaign.row.member_count
        doubled = size >= settings.CAMPAIGN_MIN_MEMBERS and size & (size - 1) == 0
        if everyone or doubled:
            # Every member, in the database too, is written at the end (the campaign's last rewrite); the
            # cases this chunk writes to are followed here, so a later write to one of them still wins.
            replay.everyone[id(campaign)] = (campaign, size)
            for case_id, member_of in replay.member_of.items():
                if member_of is campaign and case_id in replay.sizes:
                    replay.sizes[case_id] = size
        for case_id in case_ids:
            replay.sizes[case_id] = size

    # --- writes ----------------------------------------------------------------------------------------

    def _write(self, replay: _Replay) -> None:
        new = [campaign for campaign in replay.touched.values() if campaign.is_new]
        Campaign.objects.bulk_create([campaign.row for campaign in new])
        for campaign in replay.touched.values():
            if campaign.merged_into is not None:
                campaign.row.merged_into_id = campaign.merged_into.row.pk
        if replay.moved_from:  # a merge: the younger campaigns' members already stored follow (rare)
            CampaignMember.objects.filter(campaign_id__in=[c.row.pk for c in replay.moved_from]).update(
                campaign_id=SqlCase(
                    *[When(campaign_id=c.row.pk, then=Value(_final(c).row.pk)) for c in replay.moved_from]
                )
            )
        CampaignMember.objects.bulk_create(
            CampaignMember(
                campaign_id=replay.member_of[peer.case_id].row.pk,
                kind=TEXT,
                case_id=peer.case_id,
                subject_id=peer.subject_id,
                joined_at=joined_at,
                jaccard=peer.jaccard,
                matched_key=peer.key,
            )
            for peer, joined_at in replay.joined
        )
        campaign_sql.save_campaigns([campaign.row for campaign in replay.touched.values()])
        record_events(
            [
                audit_event(actor=DETECTOR, verb=verb, target=target.row, case_id=case_id, data=data())
                for verb, target, case_id, data in replay.events
            ]
        )
        # Open campaigns whose members were all rewritten (a doubling, a merge): their last such size to
        # every member in the database; then the cases this chunk wrote to, with what the replay left them.
        campaign_sql.set_member_sizes(
            DEDUPE_KEY, TEXT, {c.row.pk: size for c, size in replay.everyone.values() if not c.merged}
        )
        campaign_sql.set_case_sizes(DEDUPE_KEY, replay.sizes)
        campaign_sql.add_size_signals(
            replay.sizes,
            dedupe_key=DEDUPE_KEY,
            source_name=SIGNAL_SOURCE_NAME,
            label=SIGNAL_LABEL,
            model=TEXT,
            model_version=near_duplicates.VERSION,
        )


def _final(campaign: _Campaign) -> _Campaign:
    while campaign.merged_into is not None:
        campaign = campaign.merged_into
    return campaign
