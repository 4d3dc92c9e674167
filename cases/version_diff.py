"""What changed between two content versions of a subject: word by word, for people to read (pure, no
database). The pieces are plain strings; templates escape them (`hostile_text`), so hostile content stays data.
"""

import difflib
import re
from dataclasses import dataclass

from cases.models import SubjectVersion

# Words and the whitespace between them, so a diff keeps line breaks and spacing where they were.
_TOKENS = re.compile(r"\s+|[^\s]+")
# SequenceMatcher is quadratic in the worst case: very long texts are compared on their first part only.
MAX_DIFF_CHARACTERS = 20_000


@dataclass(frozen=True)
class Piece:
    op: str  # "same" | "added" | "removed"
    text: str


@dataclass(frozen=True)
class VersionDiff:
    older: int
    newer: int
    text: list[Piece]
    changed: list[str]  # which fields differ: "author", "text", "media", "address", "language"
    truncated: bool = False

    @property
    def text_changed(self) -> bool:
        return any(piece.op != "same" for piece in self.text)


def diff_versions(older: SubjectVersion, newer: SubjectVersion) -> VersionDiff:
    """`newer` against `older`: the text word by word, and which other fields changed."""
    changed = [
        name
        for name, before, after in (
            ("author", older.author_id, newer.author_id),
            ("text", older.text, newer.text),
            ("media", list(older.media_urls or []), list(newer.media_urls or [])),
            ("address", older.url, newer.url),
            ("language", older.language, newer.language),
        )
        if (before or "") != (after or "")
    ]
    before, after = older.text or "", newer.text or ""
    truncated = len(before) > MAX_DIFF_CHARACTERS or len(after) > MAX_DIFF_CHARACTERS
    return VersionDiff(
        older=older.version,
        newer=newer.version,
        text=diff_text(before[:MAX_DIFF_CHARACTERS], after[:MAX_DIFF_CHARACTERS]),
        changed=changed,
        truncated=truncated,
    )


def diff_text(before: str, after: str) -> list[Piece]:
    old, new = _TOKENS.findall(before), _TOKENS.findall(after)
    pieces: list[Piece] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            _append(pieces, "same", "".join(old[i1:i2]))
            continue
        if tag in ("delete", "replace"):
            _append(pieces, "removed", "".join(old[i1:i2]))
        if tag in ("insert", "replace"):
            _append(pieces, "added", "".join(new[j1:j2]))
    return pieces


def _append(pieces: list[Piece], op: str, text: str) -> None:
    if not text:
        return
    if pieces and pieces[-1].op == op:
        pieces[-1] = Piece(op, pieces[-1].text + text)
    else:
        pieces.append(Piece(op, text))
