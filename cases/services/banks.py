"""Matching banks: create, import, export and remove entries. Each change is one transaction with its audit
row, bumps the bank's revision (workers recompile it, `cases.detection.bank_hits`) and records a `BankChange`.

Bank files are hostile input like reports: a CSV is parsed whole before anything is written, every bad line
is reported by line number and column, and a file with any bad line changes nothing.
"""

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.detection.bank_keys import BadValue, match_key
from cases.models import Bank, BankChange, BankEntry
from cases.models.bank import normalisation_errors
from cases.services.bank_files import COLUMNS, EntryRow, parse_bank_csv, spreadsheet_safe
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Conflict, Invalid

BATCH = 2000


@dataclass(frozen=True)
class ImportOutcome:
    bank: Bank
    added: int
    updated: int
    removed: int
    unchanged: int
    duplicates: int
    revision: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def _actor(user, via: str) -> Actor:
    return Actor.for_user(user) if user is not None else Actor.system(via)


def _tricks(bank: Bank) -> frozenset[str]:
    return frozenset(bank.normalisations or ()) if bank.is_text_kind else frozenset()


def create_bank(
    *,
    name: str,
    kind: str,
    description: str = "",
    normalisations: list[str] | None = None,
    pdq_max_distance: int = 31,
    user=None,
    via: str = "admin",
) -> Bank:
    """A new, empty, active bank (revision 1). `normalisations` None: the kind's default."""
    if kind not in Bank.Kind.values:
        raise Invalid(f"Unknown kind {kind!r}; one of {', '.join(Bank.Kind.values)}.", field="kind")
    bank = Bank(
        name=name,
        kind=kind,
        description=description,
        normalisations=Bank.default_normalisations(kind) if normalisations is None else _tidy(normalisations),
        pdq_max_distance=pdq_max_distance,
        created_by=user,
        updated_by=user,
    )
    _validate(bank)
    try:
        with transaction.atomic():
            bank.save()
            BankChange.objects.create(
                bank=bank,
                revision=1,
                actor=user,
                actor_label=_label(user, via),
                source=via,
                summary="created",
            )
            record_event(
                actor=_actor(user, via),
                verb=Verb.BANK_CREATED,
                target=bank,
                data={"name": bank.name, "kind": bank.kind, "normalisations": bank.normalisations},
            )
    except IntegrityError:
        raise Conflict(f"A bank called {name!r} already exists.", field="name") from None
    return bank


def _tidy(normalisations):
    """Sorted and without repeats when it is a list of names; anything else is left for validation to refuse."""
    if isinstance(normalisations, list) and all(isinstance(name, str) for name in normalisations):
        return sorted(set(normalisations))
    return normalisations


def _label(user, via: str) -> str:
    return user.get_username() if user is not None else via


def _validate(bank: Bank) -> None:
    try:
        bank.full_clean(exclude=["created_by", "updated_by", "revision"], validate_unique=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise Invalid(f"{field}: {' '.join(messages)}", field=field) from None


def update_bank(
    *,
    bank: Bank,
    description: str | None = None,
    normalisations: list[str] | None = None,
    pdq_max_distance: int | None = None,
    is_active: bool | None = None,
    user=None,
    via: str = "admin",
) -> Bank:
    """Change a bank's settings. New normalisations recompute every entry's match key; two entries that
    become the same key are refused (nothing changes) rather than silently merged."""
    with transaction.atomic():
        bank = Bank.objects.select_for_update().get(pk=bank.pk)
        before = {
            "description": bank.description,
            "normalisations": bank.normalisations,
            "pdq_max_distance": bank.pdq_max_distance,
            "is_active": bank.is_active,
        }
        if description is not None:
            bank.description = description
        if normalisations is not None:
            problems = normalisation_errors(bank.kind, normalisations)
            if problems:
                raise Invalid(" ".join(problems), field="normalisations")
            bank.normalisations = _tidy(normalisations)
        if pdq_max_distance is not None:
            bank.pdq_max_distance = pdq_max_distance
        if is_active is not None:
            bank.is_active = is_active
        _validate(bank)
        after = {key: getattr(bank, key) for key in before}
        changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
        if not changed:
            return bank
        updated = _rekey(bank) if "normalisations" in changed else 0
        _bump(bank, user=user, via=via, summary="settings: " + ", ".join(sorted(changed)), updated=updated)
        record_event(
            actor=_actor(user, via),
            verb=Verb.BANK_CHANGED,
            target=bank,
            data={"changed": changed, "revision": bank.revision, "rekeyed": updated},
        )
    return bank


def normalisation_conflict(bank: Bank, normalisations: list[str]) -> str:
    """Why the bank's entries cannot take these normalisations (two would become one term), or "". The
    admin form asks before saving, so the refusal shows on the field."""
    try:
        _new_keys(bank, frozenset(normalisations) if bank.is_text_kind else frozenset())
    except Conflict as exc:
        return exc.message
    return ""


def _new_keys(bank: Bank, tricks: frozenset[str]) -> list[BankEntry]:
    entries = list(BankEntry.objects.filter(bank=bank, is_active=True).only("pk", "value", "match_key"))
    seen: dict[str, int] = {}
    changed = []
    for entry in entries:
        try:
            key = match_key(bank.kind, entry.value, tricks)
        except BadValue as exc:
            raise Conflict(f"Entry {entry.pk} would not be valid: {exc}.", field="normalisations") from None
        if key in seen:
            raise Conflict(
                f"With these normalisations entries {seen[key]} and {entry.pk} become the same term "
                f"{key[:80]!r}; remove one first.",
                field="normalisations",
            )
        seen[key] = entry.pk
        if key != entry.match_key:
            entry.match_key = key
            changed.append(entry)
    return changed


def _rekey(bank: Bank) -> int:
    changed = _new_keys(bank, _tricks(bank))
    # Two steps, because the partial unique key is checked row by row: an entry may take the key another
    # changed entry is leaving. Out of the active set first, then back with the new keys.
    BankEntry.objects.filter(pk__in=[entry.pk for entry in changed]).update(is_active=False)
    for entry in changed:
        entry.is_active = True
    BankEntry.objects.bulk_update(changed, ["match_key", "is_active"], batch_size=BATCH)
    return len(changed)


def _bump(bank: Bank, *, user, via: str, summary: str, added=0, removed=0, updated=0) -> BankChange:
    bank.revision += 1
    bank.updated_by = user
    bank.save()
    return BankChange.objects.create(
        bank=bank,
        revision=bank.revision,
        actor=user,
        actor_label=_label(user, via),
        added=added,
        removed=removed,
        updated=updated,
        source=via[:200],
        summary=summary[:300],
    )


def import_bank_entries(
    *, bank: Bank, data: bytes | str, replace: bool = False, source: str = "", user=None, via: str = "admin"
) -> ImportOutcome:
    """Add the file's entries to the bank (merge), or make the bank hold exactly them (`replace`: entries
    not in the file are removed, softly). An entry already there keeps its id; a new label or note updates
    it. All or nothing: any bad line refuses the whole file (InvalidRows)."""
    tricks = _tricks(bank)
    rows, duplicates = parse_bank_csv(data, kind=bank.kind, tricks=tricks)
    return _import_rows(
        bank, rows, duplicates, tricks=tricks, replace=replace, source=source, user=user, via=via
    )


def import_into_bank(
    *,
    name: str,
    kind: str,
    data: bytes | str,
    replace: bool = False,
    description: str = "",
    source: str = "",
    user=None,
    via: str = "import_bank",
) -> tuple[ImportOutcome, bool]:
    """Import a file into the bank called `name`, creating it (of `kind`) if there is none, in one
    transaction: a refused file leaves no empty bank behind. A bank of another kind is a Conflict. Returns
    the outcome and whether the bank was created."""
    existing = Bank.objects.filter(name=name).first()
    if existing is not None and existing.kind != kind:
        raise Conflict(f"Bank {name!r} holds {existing.kind} entries, not {kind}.", field="kind")
    if kind not in Bank.Kind.values:
        raise Invalid(f"Unknown kind {kind!r}; one of {', '.join(Bank.Kind.values)}.", field="kind")
    tricks = _tricks(existing) if existing else frozenset(Bank.default_normalisations(kind))
    rows, duplicates = parse_bank_csv(data, kind=kind, tricks=tricks)
    with transaction.atomic():
        bank = existing
        if bank is None:
            bank = create_bank(name=name, kind=kind, description=description, user=user, via=via)
        outcome = _import_rows(
            bank, rows, duplicates, tricks=tricks, replace=replace, source=source, user=user, via=via
        )
    return outcome, existing is None


def _import_rows(bank: Bank, rows: list[EntryRow], duplicates: int, *, tricks, replace, source, user, via):
    now = timezone.now()
    with transaction.atomic():
        # The row lock serialises imports into one bank, so the partial unique key never races.
        bank = Bank.objects.select_for_update().get(pk=bank.pk)
        if _tricks(bank) != tricks:
            # The file was keyed with normalisations someone changed meanwhile: its keys would not meet.
            raise Conflict("The bank's normalisations changed during the import; import again.", field="file")
        existing = {
            key: (pk, label, note)
            for pk, key, label, note in BankEntry.objects.filter(bank=bank, is_active=True).values_list(
                "pk", "match_key", "label", "note"
            )
        }
        new, changed, unchanged = [], [], 0
        for row in rows:
            known = existing.get(row.key)
            if known is None:
                new.append(
                    BankEntry(
                        bank=bank,
                        value=row.value,
                        match_key=row.key,
                        label=row.label,
                        note=row.note,
                        added_by=user,
                    )
                )
            elif (known[1], known[2]) != (row.label, row.note):
                changed.append(BankEntry(pk=known[0], label=row.label, note=row.note))
            else:
                unchanged += 1
        kept = {row.key for row in rows}
        gone = [pk for key, (pk, _, _) in existing.items() if key not in kept] if replace else []
        BankEntry.objects.bulk_create(new, batch_size=BATCH)
        BankEntry.objects.bulk_update(changed, ["label", "note"], batch_size=BATCH)
        for start in range(0, len(gone), BATCH):
            BankEntry.objects.filter(pk__in=gone[start : start + BATCH]).update(
                is_active=False, removed_at=now, removed_by=user
            )
        outcome_counts = {"added": len(new), "updated": len(changed), "removed": len(gone)}
        if any(outcome_counts.values()):
            mode = "replace" if replace else "merge"
            _bump(bank, user=user, via=(source or via), summary=f"import ({mode})", **outcome_counts)
        record_event(
            actor=_actor(user, via),
            verb=Verb.BANK_ENTRIES_IMPORTED,
            target=bank,
            data={
                **outcome_counts,
                "unchanged": unchanged,
                "duplicates": duplicates,
                "mode": "replace" if replace else "merge",
                "source": source[:200],
                "revision": bank.revision,
            },
        )
    return ImportOutcome(
        bank, unchanged=unchanged, duplicates=duplicates, revision=bank.revision, **outcome_counts
    )


def remove_bank_entries(*, bank: Bank, entry_ids: list[int], user=None, via: str = "admin") -> int:
    """Soft-remove these active entries of the bank (history stays: signals keep pointing at them)."""
    with transaction.atomic():
        bank = Bank.objects.select_for_update().get(pk=bank.pk)
        ids = list(
            BankEntry.objects.filter(
                bank=bank, is_active=True, pk__in=list(entry_ids)[: BATCH * 50]
            ).values_list("pk", flat=True)
        )
        if not ids:
            return 0
        BankEntry.objects.filter(pk__in=ids).update(
            is_active=False, removed_at=timezone.now(), removed_by=user
        )
        _bump(bank, user=user, via=via, summary="entries removed", removed=len(ids))
        record_event(
            actor=_actor(user, via),
            verb=Verb.BANK_ENTRY_REMOVED,
            target=bank,
            data={"entry_ids": ids[:1000], "removed": len(ids), "revision": bank.revision},
        )
    return len(ids)


def export_bank_csv(*, bank: Bank, user=None, via: str = "admin") -> str:
    """The bank's active entries as CSV (value, label, note), safe to open in a spreadsheet. Audited: bank
    contents are exchanged with other platforms, so who took a copy is on record."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for value, label, note in (
        BankEntry.objects.filter(bank=bank, is_active=True)
        .order_by("pk")
        .values_list("value", "label", "note")
        .iterator(chunk_size=5000)
    ):
        writer.writerow([spreadsheet_safe(value), spreadsheet_safe(label), spreadsheet_safe(note)])
        count += 1
    with transaction.atomic():
        record_event(
            actor=_actor(user, via),
            verb=Verb.BANK_EXPORTED,
            target=bank,
            data={"entries": count, "revision": bank.revision},
        )
    return out.getvalue()
