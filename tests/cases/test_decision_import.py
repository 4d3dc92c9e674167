"""`import_decisions`: labelled history from a previous tool becomes closed, imported cases that label, in
bulk, idempotently, all or nothing, and never enforces anything."""

import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from cases.labels import policy_labels
from cases.models import Case, Decision, Enforcement, Strike, Subject, VendorCallback
from moderation.models import AuditEvent

pytestmark = pytest.mark.django_db


def _line(**overrides):
    row = {
        "external_id": "m-1",
        "text": "cheap pills",
        "policy": "spam",
        "violating": True,
        "decided_at": "2024-03-01T10:00:00+00:00",
    }
    row.update(overrides)
    return json.dumps(row)


def _write(tmp_path, lines):
    path = tmp_path / "decisions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_imported_decisions_are_closed_labelled_cases_with_their_own_time(review_setup, tmp_path):
    path = _write(
        tmp_path,
        [
            _line(),
            _line(
                external_id="m-2",
                violating=False,
                language="de",
                kind="post",
                author_id="u-9",
                decided_at="2024-03-02T10:00:00",
            ),
        ],
    )

    call_command("import_decisions", path)

    cases = Case.objects.filter(kind=Case.Kind.IMPORTED).order_by("resolved_at")
    assert [case.status for case in cases] == [Case.Status.RESOLVED] * 2
    assert cases[0].opened_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    decision = Decision.objects.get(case=cases[1])
    assert decision.created_at == datetime(2024, 3, 2, 10, tzinfo=UTC)  # naive read as UTC
    assert decision.decided_by is None and not decision.automated
    subject = Subject.objects.get(external_id="m-2")
    assert (subject.kind, subject.language, subject.author_id) == ("post", "de", "u-9")
    labels = policy_labels(review_setup.policies["spam"].pk)
    assert [(lb.case_id, lb.violating) for lb in labels] == [(cases[0].pk, True), (cases[1].pk, False)]
    # History: nothing enforced, no strike, no callback; one audit row for the whole import.
    assert (
        not Enforcement.objects.exists()
        and not Strike.objects.exists()
        and not VendorCallback.objects.exists()
    )
    assert AuditEvent.objects.filter(verb="decisions.imported", actor_label="import_decisions").count() == 1


def test_importing_the_same_file_twice_adds_nothing(review_setup, tmp_path):
    path = _write(tmp_path, [_line(), _line(external_id="m-2")])
    call_command("import_decisions", path)

    call_command("import_decisions", path)

    assert Case.objects.filter(kind=Case.Kind.IMPORTED).count() == 2
    assert Decision.objects.count() == 2


def test_every_bad_line_is_reported_by_number_and_field_and_nothing_is_written(review_setup, tmp_path):
    path = _write(
        tmp_path,
        [
            _line(),
            "not json",
            _line(external_id="m-3", policy="no-such-policy"),
            _line(external_id="m-4", violating="yes"),
            _line(external_id="m-5", decided_at="yesterday"),
            _line(external_id="m-6", text="nul\u0000byte"),
            _line(external_id="m-1"),
            _line(external_id="m-8", kind="email"),
            _line(external_id="m-9", decided_at="2999-01-01T00:00:00+00:00"),
        ],
    )

    with pytest.raises(CommandError) as error:
        call_command("import_decisions", path)

    message = str(error.value)
    for expected in (
        "line 2, line: not JSON",
        "line 3, policy:",
        "line 4, violating:",
        "line 5, decided_at:",
        "line 6, text:",
        "line 7, external_id: repeats line 1",
        "line 8, kind:",
        "line 9, decided_at: in the future",
    ):
        assert expected in message
    assert not Case.objects.exists() and not Subject.objects.exists() and not AuditEvent.objects.exists()


def test_skip_bad_imports_the_good_lines(review_setup, tmp_path, capsys):
    path = _write(tmp_path, [_line(), _line(external_id="m-2", violating=None)])

    call_command("import_decisions", path, "--skip-bad")

    assert list(Subject.objects.values_list("external_id", flat=True)) == ["m-1"]
    assert "skipped line 2, violating" in capsys.readouterr().err


def test_a_missing_file_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match="file: cannot read"):
        call_command("import_decisions", str(tmp_path / "absent.jsonl"))
