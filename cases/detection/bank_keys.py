"""The canonical form of a bank entry and of what it is matched against (pure functions, no database).

Import (services) and matching (detection) share these, so an entry and a text, host or hash meet in one form:
a keyword goes through the bank's normalisation tricks, a domain becomes the host a browser would contact
(IDNA, lower case, no trailing dot, `user@` and `http://good.com@evil.com` resolved), a hash lower-case hex.
"""

import re
import unicodedata

import re2

from cases.content_display import url_host
from cases.detection.normalise import INVISIBLE_CLASS, normalise, normalise_term

HEX_LENGTHS = {"sha256": 64, "md5": 32, "pdq": 64}
# PDQ sets a bit where a DCT coefficient is above the median, so a real picture's hash has 128 bits set (ties
# aside); a flat picture's ties leave far fewer (a black frame: none). Partner hash lists do carry such hashes.
PDQ_BITS_SET = (96, 160)
_HEX = re.compile(r"[0-9a-f]+")
# Braille pattern blank renders as a space but is no Unicode whitespace: `k⠀i⠀l⠀l` is spaced-out letters.
_WHITESPACE = re.compile(r"[\s\u2800]+")
# A host's labels once IDNA-encoded: letters, digits, hyphens, at most 63 each (RFC 1035), 253 in all.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


class BadValue(ValueError):
    """An entry value this bank kind cannot hold; the message says why (shown with the line number)."""


def regex_options(tricks: frozenset[str]) -> "re2.Options":
    options = re2.Options()
    options.log_errors = False  # a bad pattern is reported to the admin, not to the worker's stderr
    # Texts of a bank with the `case` trick are case-folded; the pattern then ignores case too, so an admin
    # writing `KILL` is not silently never matched.
    options.case_sensitive = "case" not in tricks
    options.max_mem = 8 << 20  # per pattern: a pattern whose automaton needs more is refused at import
    return options


def text_form(text: str, tricks: frozenset[str]) -> str:
    """The form texts are matched in: the bank's tricks, then whitespace runs as one space, so a phrase
    entry matches across line breaks and double spaces. Whitespace is made plain spaces before the tricks
    too: the separators trick joins letters spaced out with spaces, and `k\ni\nl\nl` (a letter a line) or
    tabs are the same evasion."""
    if not tricks:
        return _WHITESPACE.sub(" ", text).strip()
    return _WHITESPACE.sub(" ", normalise(_WHITESPACE.sub(" ", text), tricks)).strip()


def match_key(kind: str, value: str, tricks: frozenset[str]) -> str:
    """The entry's match key for its bank kind, or BadValue."""
    value = (value or "").strip()
    if not value:
        raise BadValue("empty value")
    if kind == "keyword":
        spaced = _WHITESPACE.sub(" ", value)
        key = _WHITESPACE.sub(" ", normalise_term(spaced, tricks) if tricks else spaced).strip()
        if not key:
            raise BadValue("nothing is left of the term once normalised")
        if problem := _too_broad_term(key):
            raise BadValue(
                f"once normalised the term is {key[:20]!r}, {problem}: it would hit almost every text"
            )
        return key
    if kind == "regex":
        try:
            re2.compile(value, regex_options(tricks))
        except Exception as exc:  # re2.error, or a pattern too large for max_mem
            raise BadValue(f"not a valid RE2 pattern: {_reason(exc)}") from None
        pattern = re2.compile(value, regex_options(tricks))
        if pattern.search("") is not None:
            raise BadValue("the pattern matches the empty text, so it would hit everything")
        if all(pattern.search(text_form(probe, tricks)) is not None for probe in _ORDINARY_TEXTS):
            raise BadValue("the pattern matches every text (it hits any letter or character)")
        return value
    if kind == "domain":
        return canonical_host(value)
    if kind in HEX_LENGTHS:
        digest = value.lower()
        if len(digest) != HEX_LENGTHS[kind] or not _HEX.fullmatch(digest):
            raise BadValue(f"a {kind} is {HEX_LENGTHS[kind]} hexadecimal digits")
        if kind == "pdq" and not PDQ_BITS_SET[0] <= (bits := int(digest, 16).bit_count()) <= PDQ_BITS_SET[1]:
            raise BadValue(
                f"{bits} of 256 bits set: not the PDQ hash of a real picture (about half its bits are set), "
                "but of a flat one (a blank frame, a solid colour), which would hit every blank image"
            )
        return digest
    raise BadValue(f"unknown bank kind {kind!r}")


# A pattern that finds something in every one of these (`.`, `\\S`, `\\b`, `\\w|\\W`) is a bank-wide false
# positive, not a detector: RE2 keeps it linear, but every text would carry the bank's signal.
_ORDINARY_TEXTS = ("a", "Z", "7", "é", "ok.", "hello world")


def _too_broad_term(key: str) -> str:
    """Why a keyword's match key would hit ordinary text, or "". Whole-word matching does not save a single
    Latin, Greek or Cyrillic letter or digit (`a`, `I`, and `aaaa` once repeats are folded) nor a term of
    punctuation only (`.`, `...`), which has no word edge to check. A single emoji or symbol (`🔪`, `$$`) is a
    real signal and stays, as does a single CJK character (it only hits standing alone)."""
    chars = [char for char in key if not char.isspace()]
    if all(unicodedata.category(char).startswith("P") for char in chars):
        return "only punctuation"
    if len(chars) == 1 and chars[0].isalnum() and ord(chars[0]) < 0x0530:
        return "a single letter or digit"
    return ""


def _reason(exc: Exception) -> str:
    message = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return str(message)[:200]


def canonical_host(value: str) -> str:
    """The host of a domain, URL or `user@host` value, as a browser would contact it; BadValue if none."""
    candidate = value.strip()
    if "://" not in candidate and not candidate.lower().startswith(("www.", "hxxp")):
        candidate = "http://" + candidate
    host = url_host(candidate)
    if not host or not is_host(host):
        raise BadValue("not a domain or URL with a host")
    return host


def is_host(host: str) -> bool:
    if len(host) > 253 or "." not in host:
        return False
    if _IPV4.fullmatch(host):
        return True
    labels = host.split(".")
    return all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def host_suffixes(host: str) -> list[str]:
    """`a.b.evil.com` -> [a.b.evil.com, b.evil.com, evil.com, com]: an entry matches itself and every
    subdomain, found by looking each suffix up (never by `endswith`, which would let notevil.com hit)."""
    labels = host.split(".")
    return [".".join(labels[index:]) for index in range(len(labels))]


# Link-like tokens: whitespace-delimited runs holding a dot (ASCII, ideographic, fullwidth or halfwidth), as
# URLs, bare domains and `user@host` all do. Split first, then look for the dot: a single regex with a dot in
# the middle of two unbounded runs backtracks quadratically over a long dotless token.
_TOKEN = re.compile(r"[^\s<>\"'`]+")
_DOTS = (".", "\u3002", "\uff0e", "\uff61")
_TRAILING = ".,;:!?)]}>'\""
_INVISIBLE = re.compile(f"[{INVISIBLE_CLASS}]+")
MAX_HOST_TOKENS = 1000  # a text of 50,000 "a.b" tokens is an attack on the worker, not a message
MAX_TOKEN = 2048


def hosts_in_text(text: str) -> list[tuple[str, str]]:
    """(token as written, host) for every link-like token of the text. Invisible characters are removed and
    width folded first (`evil\\u200b.com`, fullwidth letters and dots), as a browser or a reader would see them.
    Not the normaliser's `invisible` trick: it also drops accents, and `bücher.example` is not `bucher.example`."""
    seen: dict[str, str] = {}
    tried = 0
    for match in _TOKEN.finditer(unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))):
        token = match.group().rstrip(_TRAILING)
        # `%2e` too: a browser decodes a percent-encoded host (`http://evil%2Eexample/`) before looking it up.
        if len(token) > MAX_TOKEN or not (any(dot in token for dot in _DOTS) or "%2e" in token.lower()):
            continue
        tried += 1
        if tried > MAX_HOST_TOKENS:
            break
        try:
            host = canonical_host(token)
        except BadValue:
            continue
        seen.setdefault(host, token)
    return [(token, host) for host, token in seen.items()]
