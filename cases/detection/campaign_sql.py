"""The statements of batched campaign grouping (`cases.detection.campaign_batch`), written as SQL.

Measured on the benchmark's chunks of 10: the ORM spent 8-15 ms a chunk compiling these (a `bulk_update`
of two campaigns took 15 ms, a `CASE`/`WHEN` signal update 8 ms) against well under a millisecond for the
database to run them. Each is one statement for the whole chunk; every value goes in as a parameter.
PostgreSQL is told the type of a `CASE` branch's parameter (it cannot infer one from a bare literal).
"""

from django.db import connection

from cases.models import Campaign, CampaignMember, Case, Signal, Subject, TextFingerprint, TextSignature

_SIGNATURES = TextSignature._meta.db_table
_FINGERPRINTS = TextFingerprint._meta.db_table
_CAMPAIGNS = Campaign._meta.db_table
_MEMBERS = CampaignMember._meta.db_table
_CASES = Case._meta.db_table
_SUBJECTS = Subject._meta.db_table
_SIGNALS = Signal._meta.db_table
# Rows of one multi-row INSERT: SQLite takes at most 32,766 parameters a statement.
_PARAMETERS = 32000


def _marks(values) -> str:
    return ", ".join(["%s"] * len(values))


def _typed(sql_type: str) -> str:
    return f"CAST(%s AS {sql_type})" if connection.vendor == "postgresql" else "%s"


def insert_signatures(rows: list[tuple]) -> dict[int, int]:
    """(subject_id, content_version, signature, shingles, created_at) rows, a version indexed before left
    as it is. Returns the signature id -> subject id of the rows added."""
    if not rows:
        return {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array a column: psycopg quotes 5 parameters, not 5 per row.
            subjects, versions, signatures, shingles, created = zip(*rows, strict=True)
            cursor.execute(
                f"INSERT INTO {_SIGNATURES} (subject_id, content_version, signature, shingles, created_at) "  # noqa: S608
                "SELECT *, %s FROM unnest(%s::bigint[], %s::integer[], %s::bytea[], %s::integer[]) "
                "ON CONFLICT (subject_id, content_version) DO NOTHING RETURNING id, subject_id",
                [created[0], list(subjects), list(versions), list(signatures), list(shingles)],
            )
            return dict(cursor.fetchall())
        cursor.execute(
            f"INSERT INTO {_SIGNATURES} (subject_id, content_version, signature, shingles, created_at) "  # noqa: S608
            f"VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(rows))} "
            "ON CONFLICT (subject_id, content_version) DO NOTHING RETURNING id, subject_id",
            [
                connection.ops.adapt_datetimefield_value(value) if n == 4 else value
                for row in rows
                for n, value in enumerate(row)
            ],
        )
        return dict(cursor.fetchall())


def insert_fingerprints(values: list[int]) -> None:
    """Flat (signature_id, subject_id, band, band_hash) quadruples."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: a third of the time of a multi-row INSERT of 320 rows (no parameter quoting at all).
            columns = "signature_id, subject_id, band, band_hash"
            with cursor.cursor.copy(f"COPY {_FINGERPRINTS} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(values), 4):
                    copy.write_row(values[start : start + 4])
            return
        for start in range(0, len(values), _PARAMETERS):
            part = values[start : start + _PARAMETERS]
            cursor.execute(
                f"INSERT INTO {_FINGERPRINTS} (signature_id, subject_id, band, band_hash) VALUES "  # noqa: S608
                + ", ".join(["(%s, %s, %s, %s)"] * (len(part) // 4)),
                part,
            )


def candidates(bands: list[int], per_band: int) -> list[tuple[int, int, bytes]]:
    """(signature id, subject id, signature) of every signature sharing one of `bands`, at most `per_band`
    a band. On PostgreSQL a LATERAL look-up per band stops at its limit in the band index (a hot band of a
    10,000-strong spam wave costs `per_band` index entries, not 10,000); SQLite numbers the rows instead."""
    if not bands:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT s.id, s.subject_id, s.signature FROM {_SIGNATURES} s WHERE s.id IN ("  # noqa: S608
                "SELECT c.signature_id FROM unnest(%s::bigint[]) AS b(h) CROSS JOIN LATERAL ("
                f"SELECT f.signature_id FROM {_FINGERPRINTS} f WHERE f.band_hash = b.h LIMIT {int(per_band)}) c)",
                [bands],
            )
        else:
            cursor.execute(
                f"SELECT s.id, s.subject_id, s.signature FROM {_SIGNATURES} s WHERE s.id IN ("  # noqa: S608
                "SELECT signature_id FROM (SELECT f.signature_id, ROW_NUMBER() OVER "
                f"(PARTITION BY f.band_hash) AS n FROM {_FINGERPRINTS} f WHERE f.band_hash IN ({_marks(bands)})) "
                f"WHERE n <= {int(per_band)})",
                bands,
            )
        return cursor.fetchall()


def open_cases(subject_ids, limit: int) -> list[tuple[int, int, str, bool]]:
    """(case id, subject id, author id, is restricted) of the open report cases on these subjects."""
    subject_ids = list(subject_ids)
    if not subject_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.subject_id, s.author_id, c.is_restricted FROM {_CASES} c "  # noqa: S608
            f"JOIN {_SUBJECTS} s ON s.id = c.subject_id WHERE c.subject_id IN ({_marks(subject_ids)}) "
            f"AND c.kind = %s AND c.status <> %s LIMIT {int(limit)}",
            [*subject_ids, Case.Kind.REPORT, Case.Status.RESOLVED],
        )
        return [
            (case_id, subject_id, author, bool(restricted))
            for case_id, subject_id, author, restricted in cursor
        ]


def memberships(kind: str, subject_ids, case_ids) -> list[tuple[int, int, int]]:
    """(case id, subject id, campaign id) of this kind's members on these subjects or among these cases."""
    subject_ids, case_ids = list(subject_ids), list(case_ids)
    where = [f"subject_id IN ({_marks(subject_ids)})"] if subject_ids else []
    where += [f"case_id IN ({_marks(case_ids)})"] if case_ids else []
    if not where:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT case_id, subject_id, campaign_id FROM {_MEMBERS} WHERE kind = %s AND ({' OR '.join(where)})",  # noqa: S608
            [kind, *subject_ids, *case_ids],
        )
        return cursor.fetchall()


def save_campaigns(rows: list[Campaign]) -> None:
    """The counters, dates, status and merge pointer of these campaigns, in one UPDATE."""
    if not rows:
        return
    stamp = _typed("timestamp with time zone")
    columns = [
        ("member_count", "%s", lambda row: row.member_count),
        ("is_restricted", _typed("boolean"), lambda row: row.is_restricted),
        ("last_grown_at", stamp, lambda row: connection.ops.adapt_datetimefield_value(row.last_grown_at)),
        ("first_seen_at", stamp, lambda row: connection.ops.adapt_datetimefield_value(row.first_seen_at)),
        ("status", "%s", lambda row: row.status),
        ("merged_into_id", _typed("bigint"), lambda row: row.merged_into_id),
    ]
    sets, params = [], []
    for column, mark, value in columns:
        sets.append(f"{column} = CASE id {' '.join([f'WHEN %s THEN {mark}'] * len(rows))} END")
        params += [item for row in rows for item in (row.pk, value(row))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_CAMPAIGNS} SET {', '.join(sets)} WHERE id IN ({_marks(rows)})",  # noqa: S608
            [*params, *(row.pk for row in rows)],
        )


def set_member_sizes(dedupe_key: str, kind: str, sizes: dict[int, int]) -> None:
    """Every member of each campaign (campaign id -> size) gets that size on its existing signal."""
    if not sizes:
        return
    json = _typed("jsonb")
    branches = " ".join([f"WHEN %s THEN {json}"] * len(sizes))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_SIGNALS} SET value = CASE (SELECT m.campaign_id FROM {_MEMBERS} m "  # noqa: S608
            f"WHERE m.case_id = {_SIGNALS}.case_id AND m.kind = %s) {branches} ELSE value END "
            f"WHERE dedupe_key = %s AND case_id IN (SELECT case_id FROM {_MEMBERS} WHERE kind = %s "
            f"AND campaign_id IN ({_marks(sizes)}))",
            [
                kind,
                *(item for campaign_id, size in sizes.items() for item in (campaign_id, str(size))),
                dedupe_key,
                kind,
                *sizes,
            ],
        )


def set_case_sizes(dedupe_key: str, sizes: dict[int, int]) -> None:
    """These cases' existing signals (case id -> size)."""
    if not sizes:
        return
    json = _typed("jsonb")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_SIGNALS} SET value = CASE case_id {' '.join([f'WHEN %s THEN {json}'] * len(sizes))} "  # noqa: S608
            f"ELSE value END WHERE dedupe_key = %s AND case_id IN ({_marks(sizes)})",
            [*(item for case_id, size in sizes.items() for item in (case_id, str(size))), dedupe_key, *sizes],
        )


def add_size_signals(sizes: dict[int, int], **fields: str) -> None:
    """A `campaign.size` signal (context) for each of these cases that has none yet."""
    Signal.objects.bulk_create(
        [
            Signal(case_id=case_id, source=Signal.Source.CONTEXT, value=size, **fields)
            for case_id, size in sizes.items()
        ],
        ignore_conflicts=True,
    )
