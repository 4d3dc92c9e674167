"""Matching banks for tests, built through the real services (audited, revisioned) and matched through the
real compiled matchers (the reload interval is 0 in these tests, so every match sees the latest revision)."""

from cases.detection.bank_hits import bank_hits_for
from cases.services.banks import create_bank, import_bank_entries


def bank_of(name: str, kind: str, values, *, normalisations=None, **fields):
    bank = create_bank(name=name, kind=kind, normalisations=normalisations, via="test", **fields)
    rows = ["value,label"] + [_csv_cell(value) + ",test" for value in values]
    if values:
        import_bank_entries(bank=bank, data="\n".join(rows) + "\n", source="test.csv", via="test")
    bank.refresh_from_db()
    return bank


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def hit_values(text: str, **kwargs) -> set[str]:
    """The entry values of every bank hit for `text` (the spot-test preview: writes nothing)."""
    return {draft.value["entry_value"] for draft in bank_hits_for(text, **kwargs)}
