"""A small reader of gettext .po catalogues, enough for the completeness test (no polib dependency): entries
with their context, plural forms, translations and flags."""

import re
from dataclasses import dataclass, field
from pathlib import Path

ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")\s*$")


def _unquote(text: str) -> str:
    body = text.strip()[1:-1]
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), body)


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # 0 for a singular entry; 0..n-1 for plurals
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> str:
        """How the compiled catalogue (GNU .mo) names the entry: context EOT msgid."""
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid


def read_po(path: Path) -> list[Entry]:
    entries: list[Entry] = []
    current, last = Entry(), None

    def finish():
        nonlocal current, last
        if last is not None:
            entries.append(current)
        current, last = Entry(), None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:  # blank lines may stand anywhere, even between an entry's msgid and msgstr
            continue
        starts_entry = line.startswith("#") or line.startswith("msgctxt") or line.startswith("msgid ")
        if starts_entry and last is not None and last.startswith("msgstr"):
            finish()
        if line.startswith("#~"):
            current.obsolete = True
            continue
        if line.startswith("#,"):
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        match = KEYWORD.match(line)
        if match:
            keyword, value = match.groups()
            last = keyword
            text = _unquote(value)
            if keyword == "msgctxt":
                current.msgctxt = text
            elif keyword == "msgid":
                current.msgid = text
            elif keyword == "msgid_plural":
                current.msgid_plural = text
            else:
                current.msgstr[_index(keyword)] = text
            continue
        if line.startswith('"') and last:  # a continuation of the last keyword's string
            text = _unquote(line)
            if last == "msgctxt":
                current.msgctxt += text
            elif last == "msgid":
                current.msgid += text
            elif last == "msgid_plural":
                current.msgid_plural += text
            else:
                current.msgstr[_index(last)] += text
    finish()
    return entries


def _index(keyword: str) -> int:
    return int(keyword[7:-1]) if "[" in keyword else 0
