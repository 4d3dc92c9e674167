"""Bank files in and out: every bad line reported by number and column with nothing written, merge and
replace, revisions and their history, audit rows, the export's round trip and its spreadsheet safety, and the
import_bank / export_bank commands."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from cases.models import Bank, BankChange, BankEntry
from cases.services.banks import (
    create_bank,
    export_bank_csv,
    import_bank_entries,
    import_into_bank,
    remove_bank_entries,
    update_bank,
)
from moderation.errors import Conflict, Invalid, InvalidRows
from moderation.models import AuditEvent
from tests.banks import bank_of, hit_values

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reload_every_time(settings):
    settings.BANK_RELOAD_SECONDS = 0


def active_values(bank) -> set[str]:
    return set(BankEntry.objects.filter(bank=bank, is_active=True).values_list("value", flat=True))


# --- refusing bad files -----------------------------------------------------------------------------------


def test_every_bad_line_is_reported_by_number_and_column_and_nothing_is_written():
    bank = bank_of("hashes", "sha256", ["a" * 64])
    revision = bank.revision
    data = "\n".join(
        [
            "value,label",
            "b" * 64 + ",fine",
            "not-a-hash,x",  # line 3
            "c" * 63 + ",short",  # line 4
            "d" * 64 + "," + "l" * 201,  # line 5: label too long
            "",
            "e" * 64 + ",ok",
        ]
    )

    with pytest.raises(InvalidRows) as refused:
        import_bank_entries(bank=bank, data=data, via="test")

    assert [(line, field) for line, field, _ in refused.value.problems] == [
        (3, "value"),
        (4, "value"),
        (5, "label"),
    ]
    assert "64 hexadecimal" in refused.value.problems[0][2]
    assert active_values(bank) == {"a" * 64}
    bank.refresh_from_db()
    assert bank.revision == revision


def test_a_regex_that_re2_cannot_compile_is_refused_with_its_line():
    bank = bank_of("patterns", "regex", [])

    with pytest.raises(InvalidRows) as refused:
        import_bank_entries(bank=bank, data="value\nfree\\s+money\n(?<=x)y\n(a|b\n", via="test")

    assert [(line, field) for line, field, _ in refused.value.problems] == [(3, "value"), (4, "value")]
    assert "RE2" in refused.value.problems[0][2]
    assert not BankEntry.objects.filter(bank=bank).exists()


def test_a_pattern_matching_the_empty_text_is_refused():
    bank = bank_of("patterns", "regex", [])

    with pytest.raises(InvalidRows, match="empty text"):
        import_bank_entries(bank=bank, data="value\nx*\n", via="test")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"label,note\nx,y\n", "header"),
        (b"value,colour\nx,red\n", "only the columns"),
        (b"value,value\nx,y\n", "only the columns"),
        (b"", "header"),
        ("value\nkill\n".encode("utf-16"), "not UTF-8"),
    ],
)
def test_a_file_without_a_proper_header_or_not_utf8_is_refused(data, message):
    bank = bank_of("words", "keyword", [])

    with pytest.raises(Invalid, match=message):
        import_bank_entries(bank=bank, data=data, via="test")


def test_nul_characters_and_size_limits_are_refused(settings):
    bank = bank_of("words", "keyword", [])

    with pytest.raises(InvalidRows) as refused:
        import_bank_entries(bank=bank, data="value,note\nki\x00ll,x\nok,\x00\n", via="test")
    assert [(line, field) for line, field, _ in refused.value.problems] == [(2, "value"), (3, "note")]

    settings.BANK_IMPORT_MAX_ROWS = 2
    with pytest.raises(Invalid, match="More than 2 rows"):
        import_bank_entries(bank=bank, data="value\na\nb\nc\n", via="test")
    settings.BANK_IMPORT_MAX_BYTES = 10
    with pytest.raises(Invalid, match="over 10 bytes"):
        import_bank_entries(bank=bank, data="value\nabcdefghijk\n", via="test")


def test_domains_are_canonicalised_on_import():
    bank = bank_of("links", "domain", [])

    import_bank_entries(
        bank=bank,
        data="value\nEvil.COM.\nhttp://good.example@phish.example/login\nhttps://Bücher.example/\n",
        via="test",
    )

    assert set(BankEntry.objects.filter(bank=bank).values_list("match_key", flat=True)) == {
        "evil.com",
        "phish.example",
        "xn--bcher-kva.example",
    }


# --- merge and replace ---------------------------------------------------------------------------------------


def test_merge_adds_updates_labels_and_skips_duplicates():
    bank = bank_of("words", "keyword", ["kill", "maim"])

    outcome = import_bank_entries(
        bank=bank, data="value,label\nKILL,violence\nstab,\nstab,\nmaim,test\n", via="test"
    )

    assert (outcome.added, outcome.updated, outcome.unchanged, outcome.duplicates) == (1, 1, 1, 1)
    assert active_values(bank) == {"kill", "maim", "stab"}
    assert BankEntry.objects.get(bank=bank, match_key="kill").label == "violence"


def test_replace_removes_what_the_file_no_longer_holds_softly():
    bank = bank_of("words", "keyword", ["kill", "maim"])

    outcome = import_bank_entries(
        bank=bank, data="value,label\nkill,test\nstab,test\n", replace=True, via="test"
    )

    assert (outcome.added, outcome.removed) == (1, 1)
    assert active_values(bank) == {"kill", "stab"}
    removed = BankEntry.objects.get(bank=bank, value="maim")
    assert not removed.is_active and removed.removed_at is not None
    assert hit_values("maim") == set() and hit_values("stab") == {"stab"}


def test_an_entry_removed_and_imported_again_is_a_new_active_entry():
    bank = bank_of("words", "keyword", ["kill"])
    remove_bank_entries(bank=bank, entry_ids=list(BankEntry.objects.values_list("pk", flat=True)), via="test")

    import_bank_entries(bank=bank, data="value\nkill\n", via="test")

    assert BankEntry.objects.filter(bank=bank, value="kill").count() == 2
    assert active_values(bank) == {"kill"}


# --- revisions, history and audit ------------------------------------------------------------------------------


def test_each_change_bumps_the_revision_with_its_history_and_audit_row():
    bank = create_bank(name="words", kind="keyword", via="test")
    import_bank_entries(bank=bank, data="value\nkill\nmaim\n", source="list.csv", via="test")
    remove_bank_entries(
        bank=bank, entry_ids=list(BankEntry.objects.values_list("pk", flat=True))[:1], via="test"
    )
    update_bank(bank=bank, normalisations=["case"], via="test")

    bank.refresh_from_db()
    assert bank.revision == 4
    history = list(BankChange.objects.filter(bank=bank).order_by("revision"))
    assert [(c.revision, c.added, c.removed) for c in history] == [(1, 0, 0), (2, 2, 0), (3, 0, 1), (4, 0, 0)]
    assert history[1].source == "list.csv"
    verbs = list(
        AuditEvent.objects.filter(target_id=str(bank.pk)).order_by("pk").values_list("verb", flat=True)
    )
    assert verbs == ["bank.created", "bank.entries_imported", "bank.entry_removed", "bank.changed"]
    changed = AuditEvent.objects.get(verb="bank.changed")
    assert changed.data["changed"]["normalisations"][1] == ["case"]


def test_an_import_that_changes_nothing_keeps_the_revision():
    bank = bank_of("words", "keyword", ["kill"])

    import_bank_entries(bank=bank, data="value,label\nkill,test\n", via="test")

    bank.refresh_from_db()
    assert bank.revision == 2


def test_new_normalisations_rekey_entries_and_refuse_collisions():
    bank = bank_of("words", "keyword", ["K1ll", "kill"], normalisations=["case"])

    with pytest.raises(Conflict, match="become the same term"):
        update_bank(bank=bank, normalisations=["case", "leet"], via="test")

    bank.refresh_from_db()
    assert bank.normalisations == ["case"] and hit_values("k1ll") == {"K1ll"}


def test_bad_bank_settings_are_refused_by_field():
    with pytest.raises(Invalid) as refused:
        create_bank(name="words", kind="keyword", normalisations=["typo"], via="test")
    assert refused.value.field == "normalisations"
    with pytest.raises(Invalid) as refused:
        create_bank(name="hashes", kind="sha256", normalisations=["case"], via="test")
    assert refused.value.field == "normalisations"
    with pytest.raises(Invalid) as refused:
        create_bank(name="Not a slug!", kind="keyword", via="test")
    assert refused.value.field == "name"
    with pytest.raises(Invalid) as refused:
        create_bank(name="pics", kind="pdq", pdq_max_distance=300, via="test")
    assert refused.value.field == "pdq_max_distance"
    create_bank(name="words", kind="keyword", via="test")
    with pytest.raises(Conflict):
        create_bank(name="words", kind="keyword", via="test")


# --- export ---------------------------------------------------------------------------------------------------


def test_export_round_trips_into_another_bank():
    bank = bank_of("words", "keyword", [])
    import_bank_entries(
        bank=bank, data='value,label,note\nkill,violence,"from ""partner"", 2026"\nstab,,\n', via="test"
    )

    exported = export_bank_csv(bank=bank, via="test")
    copy = bank_of("copy", "keyword", [])
    import_bank_entries(bank=copy, data=exported, via="test")

    def rows(of):
        return set(BankEntry.objects.filter(bank=of, is_active=True).values_list("value", "label", "note"))

    assert rows(copy) == rows(bank) == {("kill", "violence", 'from "partner", 2026'), ("stab", "", "")}
    assert AuditEvent.objects.filter(verb="bank.exported", target_id=str(bank.pk)).count() == 1


def test_export_defuses_spreadsheet_formulas_and_the_import_restores_them():
    bank = bank_of("patterns", "regex", [])
    import_bank_entries(
        bank=bank,
        data='value,label,note\n"=HYPERLINK(""http://x"")",+cmd,@SUM(A1)\n-?\\d+ usd,-1,ok\n',
        via="test",
    )

    exported = export_bank_csv(bank=bank, via="test")
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]

    assert not any(cell[:1] in "=+-@" for cell in cells if cell)
    assert '\'=HYPERLINK("http://x")' in cells and "'+cmd" in cells and "'-?\\d+ usd" in cells
    copy = bank_of("copy", "regex", [])
    import_bank_entries(bank=copy, data=exported, via="test")
    assert set(BankEntry.objects.filter(bank=copy).values_list("value", "label", "note")) == {
        ('=HYPERLINK("http://x")', "+cmd", "@SUM(A1)"),
        ("-?\\d+ usd", "-1", "ok"),
    }


# --- commands -------------------------------------------------------------------------------------------------


def test_import_bank_creates_the_bank_and_reports_counts(tmp_path):
    path = tmp_path / "terror.csv"
    path.write_text("value,label\nkill,violence\nbomb,\n", encoding="utf-8")
    out = io.StringIO()

    call_command("import_bank", "terror-terms", str(path), "--kind", "keyword", stdout=out)

    bank = Bank.objects.get(name="terror-terms")
    assert bank.kind == "keyword" and bank.normalisations == Bank.default_normalisations("keyword")
    assert "Created bank terror-terms" in out.getvalue() and "2 added" in out.getvalue()
    assert AuditEvent.objects.filter(verb="bank.entries_imported", actor_label="import_bank").exists()

    path.write_text("value\nkill\n", encoding="utf-8")
    out = io.StringIO()
    call_command("import_bank", "terror-terms", str(path), "--kind", "keyword", "--replace", stdout=out)
    assert "1 removed" in out.getvalue() and active_values(bank) == {"kill"}


def test_import_bank_refuses_bad_lines_without_creating_the_bank(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("value\n" + "a" * 32 + "\nnope\n", encoding="utf-8")

    with pytest.raises(CommandError, match="line 3, value"):
        call_command("import_bank", "md5s", str(path), "--kind", "md5")

    assert not Bank.objects.filter(name="md5s").exists()


def test_import_bank_refuses_a_kind_mismatch_and_a_missing_file(tmp_path):
    bank_of("words", "keyword", ["kill"])
    path = tmp_path / "x.csv"
    path.write_text("value\nevil.com\n", encoding="utf-8")

    with pytest.raises(CommandError, match="kind: Bank 'words' holds keyword"):
        call_command("import_bank", "words", str(path), "--kind", "domain")
    with pytest.raises(CommandError, match="file: cannot read"):
        call_command("import_bank", "words", str(tmp_path / "missing.csv"), "--kind", "keyword")


def test_export_bank_writes_the_file(tmp_path):
    bank_of("words", "keyword", ["kill", "=cmd"])
    path = tmp_path / "out.csv"

    call_command("export_bank", "words", str(path))

    assert path.read_text(encoding="utf-8") == "value,label,note\nkill,test,\n'=cmd,test,\n"
    with pytest.raises(CommandError, match="no bank"):
        call_command("export_bank", "nothing")


def test_import_into_bank_is_one_transaction():
    with pytest.raises(InvalidRows):
        import_into_bank(name="new", kind="keyword", data="value\nok\n\x00\n", via="test")
    assert not Bank.objects.exists()


def test_rekeying_lets_one_entry_take_the_key_another_is_leaving():
    # Under `leet`, "k1ll" is keyed "kill"; under `case` instead, "KILL" becomes "kill" and "k1ll" stays
    # "k1ll": one entry moves onto the key the other leaves, which a row-by-row unique check must allow.
    bank = bank_of("words", "keyword", ["KILL", "k1ll"], normalisations=["leet"])
    assert set(BankEntry.objects.values_list("value", "match_key")) == {("KILL", "KILL"), ("k1ll", "kill")}

    update_bank(bank=bank, normalisations=["case"], via="test")

    assert set(BankEntry.objects.filter(is_active=True).values_list("value", "match_key")) == {
        ("KILL", "kill"),
        ("k1ll", "k1ll"),
    }
    assert hit_values("Kill") == {"KILL"} and hit_values("K1LL") == {"k1ll"}
