"""One compiled matcher per bank kind: built once per bank revision, then used for every text (pure).

- keyword: an Aho-Corasick automaton over the entries' match keys, run once over the text in the bank's
  normalised form; only whole words and phrases count (`ass` never hits `class`).
- regex: one RE2 `Set` over every pattern, so a hundred patterns cost one linear pass; only the patterns
  the set reports are searched again for their span.
- domain: the entries' hosts in a set; a text's host hits when it or one of its parent domains is listed.
- sha256 / md5: the digests in a dict. pdq: the perceptual-hash index of `cases.detection.perceptual`.
"""

from dataclasses import dataclass, field
from typing import Any

import ahocorasick
import re2

from cases.detection.bank_keys import host_suffixes, hosts_in_text, regex_options, text_form

MAX_HITS_PER_BANK = 25  # a text stuffed with a whole bank makes 25 signals, not 10,000
MAX_SPAN = 200  # evidence keeps at most this much of the matched text


@dataclass(frozen=True)
class Entry:
    id: int
    value: str
    key: str
    label: str


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    evidence: dict[str, Any]


@dataclass
class Material:
    """What one subject offers the matchers, with each text form computed once for all banks sharing it."""

    text: str
    urls: tuple[str, ...] = ()
    # (sha256, md5, pdq or "") of the subject's stored media copies
    media: tuple[tuple[str, str, str], ...] = ()
    _forms: dict[frozenset[str], str] = field(default_factory=dict)
    _hosts: list[tuple[str, str]] | None = None

    def form(self, tricks: frozenset[str]) -> str:
        if tricks not in self._forms:
            self._forms[tricks] = text_form(self.text, tricks)
        return self._forms[tricks]

    def hosts(self) -> list[tuple[str, str]]:
        if self._hosts is None:
            found = dict((host, token) for token, host in hosts_in_text(self.text))
            for url in self.urls:
                for token, host in hosts_in_text(url):
                    found.setdefault(host, token)
            self._hosts = [(token, host) for host, token in found.items()]
        return self._hosts


def _span(text: str, start: int, end: int) -> str:
    return text[start:end][:MAX_SPAN].replace("\x00", "")


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


class KeywordMatcher:
    def __init__(self, entries: list[Entry], tricks: frozenset[str]):
        self.tricks = tricks
        self.size = len(entries)
        self._automaton = ahocorasick.Automaton()
        for entry in entries:
            self._automaton.add_word(entry.key, entry)
        if entries:
            self._automaton.make_automaton()

    def hits(self, material: Material) -> list[Hit]:
        if not self.size:
            return []
        text = material.form(self.tricks)
        found: dict[int, Hit] = {}
        for end, entry in self._automaton.iter(text):
            start = end - len(entry.key) + 1
            # Whole words only: a term inside a longer word (`ass` in `class`) is not a hit. Checked only
            # where the entry itself begins or ends with a word character (an entry `!!` has no word edge).
            if _is_word_char(entry.key[0]) and start > 0 and _is_word_char(text[start - 1]):
                continue
            if _is_word_char(entry.key[-1]) and end + 1 < len(text) and _is_word_char(text[end + 1]):
                continue
            if entry.id not in found:
                found[entry.id] = Hit(entry, 1.0, {"matched": _span(text, start, end + 1), "at": start})
                if len(found) >= MAX_HITS_PER_BANK:
                    break
        return list(found.values())


class RegexMatcher:
    def __init__(self, entries: list[Entry], tricks: frozenset[str]):
        self.tricks = tricks
        self.size = len(entries)
        options = regex_options(tricks)
        self._entries = entries
        self._patterns = [re2.compile(entry.key, options) for entry in entries]
        # The set's automaton is shared by every pattern: give it room for a bank of hundreds (RE2 builds
        # its DFA lazily within this budget).
        set_options = regex_options(tricks)
        set_options.max_mem = 256 << 20
        self._set = re2.Set.SearchSet(set_options)
        for entry in entries:
            self._set.Add(entry.key)
        if entries:
            self._set.Compile()

    def hits(self, material: Material) -> list[Hit]:
        if not self.size:
            return []
        text = material.form(self.tricks)
        hits = []
        # `Match` answers None, not [], when no pattern matches.
        for index in sorted(self._set.Match(text) or ())[:MAX_HITS_PER_BANK]:
            match = self._patterns[index].search(text)
            if match is None:  # the set and the pattern agree; kept safe all the same
                continue
            start, end = match.span()
            hits.append(Hit(self._entries[index], 1.0, {"matched": _span(text, start, end), "at": start}))
        return hits


class DomainMatcher:
    tricks = frozenset()

    def __init__(self, entries: list[Entry]):
        self.size = len(entries)
        self._by_host = {entry.key: entry for entry in entries}

    def hits(self, material: Material) -> list[Hit]:
        if not self.size:
            return []
        found: dict[int, Hit] = {}
        for token, host in material.hosts():
            for suffix in host_suffixes(host):
                entry = self._by_host.get(suffix)
                if entry is not None and entry.id not in found:
                    found[entry.id] = Hit(entry, 1.0, {"host": host, "matched": token[:MAX_SPAN]})
            if len(found) >= MAX_HITS_PER_BANK:
                break
        return list(found.values())[:MAX_HITS_PER_BANK]


class DigestMatcher:
    tricks = frozenset()

    def __init__(self, entries: list[Entry], column: int):
        self.size = len(entries)
        self._column = column  # 0: sha256, 1: md5 in Material.media
        self._by_digest = {entry.key: entry for entry in entries}

    def hits(self, material: Material) -> list[Hit]:
        found: dict[int, Hit] = {}
        for media in material.media:
            digest = media[self._column]
            entry = self._by_digest.get(digest) if digest else None
            if entry is not None and entry.id not in found:
                found[entry.id] = Hit(entry, 1.0, {"hash": digest})
        return list(found.values())[:MAX_HITS_PER_BANK]


class PdqMatcher:
    """Thin: the index and the distance live in `cases.detection.perceptual` (imported when a PDQ bank is
    compiled, so the text kinds work without it)."""

    tricks = frozenset()

    def __init__(self, entries: list[Entry], max_distance: int):
        from cases.detection import perceptual

        self._perceptual = perceptual
        self.size = len(entries)
        self.max_distance = max_distance
        self._by_id = {entry.id: entry for entry in entries}
        self._index = perceptual.HashIndex((entry.id, entry.key) for entry in entries)

    def hits(self, material: Material) -> list[Hit]:
        found: dict[int, Hit] = {}
        for _sha256, _md5, pdq in material.media:
            if not pdq or not self.size:
                continue
            for entry_id, distance in self._index.search(pdq, self.max_distance):
                if distance > self.max_distance or entry_id in found:
                    continue
                found[entry_id] = Hit(
                    self._by_id[entry_id],
                    self._perceptual.similarity(distance),
                    {"hash": pdq, "distance": distance, "max_distance": self.max_distance},
                )
        return sorted(found.values(), key=lambda hit: -hit.score)[:MAX_HITS_PER_BANK]


def compile_matcher(kind: str, entries: list[Entry], *, tricks: frozenset[str], pdq_max_distance: int):
    if kind == "keyword":
        return KeywordMatcher(entries, tricks)
    if kind == "regex":
        return RegexMatcher(entries, tricks)
    if kind == "domain":
        return DomainMatcher(entries)
    if kind in ("sha256", "md5"):
        return DigestMatcher(entries, 0 if kind == "sha256" else 1)
    if kind == "pdq":
        return PdqMatcher(entries, pdq_max_distance)
    raise ValueError(f"unknown bank kind {kind!r}")
