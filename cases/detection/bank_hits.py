"""Matching banks in detection: compiled matchers cached per bank revision, hits as signal drafts.

Each worker compiles an active bank once per revision and keeps it in memory. At most every
`BANK_RELOAD_SECONDS` (default 30) it asks which banks are active at which revision (one small query) and
recompiles only those that moved, so an entry added in the admin matches within a minute without restarting
a worker.

A hit is a `bank` signal labelled `bank:<name>`: score 1.0 for an exact hit, the similarity for PDQ; its value
is the evidence (entry, matched span / host / hash, distance, normalisations). Its dedupe key is per bank,
entry and subject content version, so enrichment running again adds nothing.
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction

from cases.counters import record_bank_hits
from cases.detection.bank_matchers import Entry, Hit, Material, compile_matcher
from cases.detection.sources import SignalDraft, store_signal_drafts
from cases.models import Bank, BankEntry, Case, MediaFile, Signal, Subject
from cases.selectors import lock_case_for_routing, media_url_hash

logger = logging.getLogger(__name__)

# Texts are scanned up to this length: matching is linear, but a 10 MB "message" would hold a worker for
# a second per bank; platforms cap posts far below this, and the start of a text is what a reader sees.
MAX_SCAN_CHARS = 100_000
MAX_MEDIA_SCANNED = 20  # as many as the case page shows (`media.MAX_MEDIA_PER_SUBJECT`)


@dataclass(frozen=True)
class CompiledBank:
    id: int
    name: str
    kind: str
    revision: int
    normalisations: tuple[str, ...]
    matcher: object
    stamp: tuple

    @property
    def label(self) -> str:
        return f"bank:{self.name}"


class _Cache:
    def __init__(self):
        self.lock = threading.Lock()
        self.checked_at: float | None = None
        self.banks: dict[int, CompiledBank] = {}

    def current(self) -> list[CompiledBank]:
        interval = settings.BANK_RELOAD_SECONDS
        with self.lock:
            now = time.monotonic()
            if self.checked_at is None or now - self.checked_at >= interval:
                self._refresh()
                self.checked_at = now
            return list(self.banks.values())

    def _refresh(self) -> None:
        # (revision, updated_at): the revision moves on every change through the services; updated_at also
        # tells apart a bank recreated under a reused id.
        stamps = {
            pk: (revision, updated_at)
            for pk, revision, updated_at in Bank.objects.filter(is_active=True).values_list(
                "pk", "revision", "updated_at"
            )
        }
        self.banks = {pk: bank for pk, bank in self.banks.items() if pk in stamps}
        for pk, stamp in stamps.items():
            if pk not in self.banks or self.banks[pk].stamp != stamp:
                compiled = _compile(pk)
                if compiled is not None:
                    self.banks[pk] = compiled
                else:
                    self.banks.pop(pk, None)

    def forget(self) -> None:
        with self.lock:
            self.checked_at = None
            self.banks = {}


_cache = _Cache()


def forget_compiled_banks() -> None:
    """Drop every compiled bank (tests; a shell after a bulk change)."""
    _cache.forget()


def _compile(bank_id: int) -> CompiledBank | None:
    bank = Bank.objects.filter(pk=bank_id, is_active=True).first()
    if bank is None:
        return None
    entries = [
        Entry(pk, value, key, label)
        for pk, value, key, label in BankEntry.objects.filter(bank=bank, is_active=True)
        .order_by("pk")
        .values_list("pk", "value", "match_key", "label")
        .iterator(chunk_size=5000)
    ]
    tricks = frozenset(bank.normalisations or ()) if bank.is_text_kind else frozenset()
    try:
        matcher = compile_matcher(bank.kind, entries, tricks=tricks, pdq_max_distance=bank.pdq_max_distance)
    except Exception:
        # A bank that does not compile (a PDQ bank before its index module is deployed, a pattern RE2
        # accepted at import but not now) must not stop the others: it is skipped and logged.
        logger.exception("bank %s (%s) did not compile; skipped", bank.name, bank.kind)
        return None
    return CompiledBank(
        id=bank.pk,
        name=bank.name,
        kind=bank.kind,
        revision=bank.revision,
        normalisations=tuple(sorted(tricks)),
        matcher=matcher,
        stamp=(bank.revision, bank.updated_at),
    )


def compiled_banks() -> list[CompiledBank]:
    return _cache.current()


# --- matching -----------------------------------------------------------------------------------------------


def _draft(bank: CompiledBank, hit: Hit, dedupe_key: str) -> SignalDraft:
    evidence = {
        "bank": bank.name,
        "kind": bank.kind,
        "entry_id": hit.entry.id,
        "entry_value": hit.entry.value,
        "entry_label": hit.entry.label,
        "normalisations": list(bank.normalisations),
        **hit.evidence,
    }
    return SignalDraft(
        source=Signal.Source.BANK,
        source_name=bank.name,
        label=bank.label[:100],
        score=hit.score,
        value=evidence,
        model="bank",
        model_version=str(bank.revision),
        dedupe_key=dedupe_key[:255],
    )


def _match(material: Material, kinds: Iterable[str] | None, key_for) -> list[SignalDraft]:
    wanted = set(kinds) if kinds is not None else None
    drafts = []
    for bank in compiled_banks():
        if wanted is not None and bank.kind not in wanted:
            continue
        try:
            hits = bank.matcher.hits(material)
        except Exception:  # one broken bank never stops the others, or the routing after them
            logger.exception("bank %s crashed while matching", bank.name)
            continue
        drafts.extend(_draft(bank, hit, key_for(bank, hit)) for hit in hits)
    return drafts


def bank_hits_for(
    text: str, *, urls: Iterable[str] = (), media: Iterable[tuple[str, str, str]] = ()
) -> list[SignalDraft]:
    """Every bank hit for this text, these URLs and media hashes `(sha256, md5, pdq)`, writing nothing: the
    spot test's preview."""
    material = Material(
        text=str(text or "")[:MAX_SCAN_CHARS],
        urls=tuple(str(url)[:2048] for url in urls)[:MAX_MEDIA_SCANNED],
        media=tuple((str(a).lower(), str(b).lower(), str(c).lower()) for a, b, c in media),
    )
    return _match(material, None, lambda bank, hit: f"preview:{bank.id}:{hit.entry.id}")


def media_hashes_of(data: bytes) -> list[tuple[str, str, str]]:
    """`(sha256, md5, pdq)` rows of a picture's bytes for `bank_hits_for` (one row per PDQ variant when the
    perceptual module is deployed): the spot test's "paste an image"."""
    sha256 = hashlib.sha256(data).hexdigest()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return [(sha256, md5, variant) for variant in _pdq_variants(data) or [""]]


def subject_bank_drafts(subject: Subject, *, with_media: bool = True) -> list[SignalDraft]:
    """Bank hits for the subject's current content: text, URL and media URLs (text and domain banks), and
    the stored copies of its media (hash banks)."""
    banks = compiled_banks()
    if not banks:
        return []
    media_urls = [str(url) for url in (subject.media_urls or [])[:MAX_MEDIA_SCANNED]]
    urls = ([subject.url] if subject.url else []) + media_urls
    kinds = {bank.kind for bank in banks}
    media = ()
    if with_media and kinds & set(Bank.MEDIA_KINDS):
        media = stored_media_hashes(media_urls, pdq="pdq" in kinds)
    material = Material(text=(subject.text or "")[:MAX_SCAN_CHARS], urls=tuple(urls), media=media)
    version = subject.content_version
    return _match(material, None, lambda bank, hit: f"bank:{bank.id}:{hit.entry.id}:v{version}")


def stored_media_hashes(media_urls: list[str], *, pdq: bool) -> tuple[tuple[str, str, str], ...]:
    """(sha256, md5, pdq) of the stored copies of these URLs; one row per PDQ variant when PDQ banks exist
    (the eight rotations and flips, so a rotated copy meets its entry). MD5s missing on copies stored before
    the column existed are computed and saved here (once)."""
    if not media_urls:
        return ()
    copies = list(
        MediaFile.objects.filter(
            url_hash__in=[media_url_hash(url) for url in media_urls], state=MediaFile.State.STORED
        ).only("pk", "sha256", "md5", *(["content"] if pdq else []))
    )
    rows: list[tuple[str, str, str]] = []
    for copy in copies:
        md5 = copy.md5
        if not md5:
            content = bytes(MediaFile.objects.values_list("content", flat=True).get(pk=copy.pk))
            md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
            MediaFile.objects.filter(pk=copy.pk, md5="").update(md5=md5)
        variants = _pdq_variants(bytes(copy.content)) if pdq else []
        rows.extend((copy.sha256, md5, variant) for variant in variants or [""])
    return tuple(rows)


def _pdq_variants(data: bytes) -> list[str]:
    try:
        from cases.detection import perceptual

        variants, quality = perceptual.pdq_variants_and_quality(data)
    except Exception:  # not an image PDQ can read, or the module is not deployed yet
        logger.info("no PDQ hash for a stored media copy", exc_info=True)
        return []
    # A flat picture's hash is rounding noise: looked up, it hits flat entries (and others) at random, so a
    # blank or solid-colour upload would carry a perceptual-bank signal. ThreatExchange drops such hashes.
    return variants if quality >= perceptual.MIN_USEFUL_QUALITY else []


# --- after media copies are stored -----------------------------------------------------------------------

RouteAfter = Callable[..., object]


def match_media_banks(case_ids: list[int], *, route: RouteAfter | None = None) -> int:
    """Run the banks over cases whose media copies were just stored, and hand a case with new hits to
    `route` (under its row lock, in one transaction per case). Returns how many signals were added."""
    if not any(bank.kind in Bank.MEDIA_KINDS for bank in compiled_banks()):
        return 0  # no hash bank: nothing new can match, and no case row needs locking
    added = 0
    for case_id in case_ids:
        with transaction.atomic():
            case = lock_case_for_routing(case_id)
            if case is None or case.status == Case.Status.RESOLVED:
                continue
            drafts = subject_bank_drafts(case.subject)
            known = set(
                Signal.objects.filter(
                    case=case, dedupe_key__in=[draft.dedupe_key for draft in drafts]
                ).values_list("dedupe_key", flat=True)
            )
            new = [draft for draft in drafts if draft.dedupe_key not in known]
            if not new:
                continue
            store_signal_drafts(case_id, new)
            added += len(new)
            # As enrichment does: the author's live bank-hit counter, once these signals are committed.
            # (Bound now: inside an outer transaction the callbacks run after the loop.)
            transaction.on_commit(partial(record_bank_hits, case.subject.author_id, len(new)), robust=True)
            if route is not None:
                route(case)
    return added
