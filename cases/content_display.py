"""Showing hostile text to agents: escaped, with its tricks made visible.

Reported text is attacker-controlled. It is never rendered as HTML, and what could mislead a reviewer is
shown rather than obeyed:
- bidirectional controls (RLO, LRI, ...) and invisible characters (zero-width, word joiner, BOM, soft
  hyphen, Unicode tag characters used to smuggle hidden text) become visible badges, so "txt.exe" written
  backwards or a hidden instruction cannot pass unseen; other control characters are shown as code points;
- links are plain text (never clickable) followed by the host a browser would really contact, after
  userinfo tricks (`https://bank.example@evil.example/`) and in ASCII (punycode) form with a warning when
  the host uses non-ASCII letters (look-alike domains).
Every piece of output is escaped before it is marked safe; nothing from the input reaches the page raw.
"""

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_NAMED = {
    "\u200b": "ZWSP",
    "\u200c": "ZWNJ",
    "\u200d": "ZWJ",
    "\u2060": "WJ",
    "\ufeff": "BOM",
    "\u00ad": "SHY",
    "\u034f": "CGJ",
    "\u180e": "MVS",
    "\u2061": "FA",
    "\u2062": "IT",
    "\u2063": "IS",
    "\u2064": "IP",
    "\u115f": "HF",
    "\u1160": "HJF",
    "\u3164": "HF",
    "\uffa0": "HWHF",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u061c": "ALM",
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
}
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINK_RE = re.compile(r"(?i)\b(?:(?:https?|ftp|hxxps?)://|www\.)[^\s<>\"'`]+")
_TRAILING = ".,;:!?)]}>'\""


def _is_tricky(char: str) -> bool:
    if char in ("\n", "\t"):
        return False
    if char in _NAMED:
        return True
    code = ord(char)
    if 0xE0000 <= code <= 0xE007F:  # Unicode tags: invisible ASCII look-alikes (prompt/text smuggling)
        return True
    category = unicodedata.category(char)
    return category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def _badge(char: str) -> str:
    code = ord(char)
    if 0xE0020 <= code <= 0xE007E:
        short, title = f"TAG {chr(code - 0xE0000)}", f"U+{code:04X} hidden tag character"
    else:
        name = unicodedata.name(char, "") or "control character"
        short, title = _NAMED.get(char, f"U+{code:04X}"), f"U+{code:04X} {name}"
    css = "ctl bidi" if char in BIDI_CONTROLS else "ctl"
    return f'<span class="{css}" title="{escape(title)}">{escape(short)}</span>'


def _plain(text: str) -> str:
    if text.isascii() and text.isprintable():
        return escape(text)  # nothing to show: printable ASCII has no control, invisible or bidi character
    out: list[str] = []
    run: list[str] = []
    for char in text:
        if _is_tricky(char):
            if run:
                out.append(escape("".join(run)))
                run = []
            out.append(_badge(char))
        else:
            run.append(char)
    if run:
        out.append(escape("".join(run)))
    return "".join(out)


def _as_browser_reads(url: str) -> str:
    """`url` as a browser parses it: `hxxp` defanging undone, scheme-less `www.` made http, and `\\` read
    as `/` (the WHATWG URL standard does so for http(s)/ftp; Python's urlsplit does not, so
    `https://evil.example\\@bank.example/` would otherwise look like it goes to bank.example)."""
    candidate = re.sub(r"(?i)^hxxp", "http", url.strip())
    if candidate.lower().startswith("www."):
        candidate = "http://" + candidate
    return candidate.replace("\\", "/")


_NOT_IN_HOST = frozenset("/\\@:?#[]%<>^|\ufffd")


def url_host(url: str) -> str:
    """The host a browser would contact for `url` (lower case, IDNA/punycode form), or "" if none."""
    candidate = _as_browser_reads(url)
    try:
        host = urlsplit(candidate).hostname or ""
    except ValueError:
        return ""
    if "%" in host:
        # Browsers percent-decode a host before they look it up (WHATWG URL), so `http://%65vil.example/`
        # goes to evil.example; a decoded host holding a delimiter is no host at all.
        host = unquote(host, errors="replace")
        if any(char in _NOT_IN_HOST for char in host):
            return ""
    if any(char.isspace() for char in host):
        return ""
    host = _ascii_host(host)
    ipv4 = _ipv4_as_browsers_read(host)
    return host if ipv4 is None else ipv4


_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")


def _ipv4_as_browsers_read(host: str) -> str | None:
    """A host whose last label is a number is an IPv4 address to a browser (WHATWG URL), written in hex,
    octal or fewer parts: `0x7f.0.0.1`, `0177.0.0.1`, `127.1` and `2130706433` all go to 127.0.0.1. Its
    dotted-quad form; "" when it is no valid address (browsers refuse it); None when it is a name."""
    parts = host.split(".")
    if not re.fullmatch(r"[0-9]+|0[xX][0-9a-fA-F]*", parts[-1]):
        return None
    if len(parts) > 4 or not all(_IPV4_PART.fullmatch(part) for part in parts):
        return ""
    numbers = [_ipv4_number(part) for part in parts]
    if any(number > 255 for number in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return ""
    address = numbers[-1] + sum(number << (8 * (3 - index)) for index, number in enumerate(numbers[:-1]))
    return ".".join(str((address >> shift) & 255) for shift in (24, 16, 8, 0))


def _ipv4_number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)  # a bare `0x` is 0 to a browser
    return int(part, 8) if part[0] == "0" else int(part)


def _ascii_host(host: str) -> str:
    host = host.strip(".").lower()
    if host.isascii():
        return host
    labels = []
    for label in host.split("."):
        try:
            labels.append(label.encode("idna").decode("ascii") if not label.isascii() else label)
        except UnicodeError:
            # Not valid IDNA (e.g. it holds a control character): still show it as an encoded label.
            labels.append("xn--" + label.encode("punycode").decode("ascii"))
    return ".".join(labels)


def host_warning(url: str) -> str:
    """Why a link's host deserves a second look, or ""."""
    candidate = _as_browser_reads(url)
    if "://" not in candidate:
        candidate = "http://" + candidate
    try:
        parts = urlsplit(candidate)
        raw_host = parts.hostname or ""
    except ValueError:
        return "unparseable address"
    warnings = []
    if "\\" in url:
        warnings.append("backslash: browsers read it as /")
    if parts.username or "@" in (parts.netloc or ""):
        warnings.append("text before @ is not the host")
    if not raw_host.isascii() or "xn--" in raw_host:
        warnings.append("non-ASCII host: possible look-alike")
    if (
        re.fullmatch(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+))*\.?", raw_host or "")
        or ":" in raw_host
    ):
        warnings.append("numeric address")
    return "; ".join(warnings)


def render_hostile_text(text: str, *, limit: int | None = None) -> SafeString:
    """Escaped HTML for reported text: controls as badges, links as inert text plus their real host."""
    text = str(text or "")
    if limit is not None and len(text) > limit:
        text = text[:limit]
    out: list[str] = []
    position = 0
    for match in _LINK_RE.finditer(text):
        link = match.group(0).rstrip(_TRAILING)
        start, end = match.start(), match.start() + len(link)
        out.append(_plain(text[position:start]))
        out.append(_link(link))
        position = end
    out.append(_plain(text[position:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece above is escaped


def _link(link: str) -> str:
    host = url_host(link)
    warning = host_warning(link)
    badge = f'<span class="host" title="The address really goes to this host">→ {escape(host) or "?"}</span>'
    if warning:
        badge += f'<span class="host-warning">{escape(warning)}</span>'
    return f'<span class="link">{_plain(link)}</span>{badge}'


def render_url(url: str) -> SafeString:
    """One URL field (subject URL, media URL) as inert text with its host."""
    return mark_safe(_link(str(url or "")))  # noqa: S308 - escaped in _link


def link_hosts(text: str, *, limit: int = 20) -> list[str]:
    """The hosts the links in `text` really go to, as the agent page shows them (`url_host` of each link the
    page renders as a link), in order and without repeats; at most `limit`."""
    hosts: list[str] = []
    for match in _LINK_RE.finditer(str(text or "")):
        host = url_host(match.group(0).rstrip(_TRAILING))
        if host and host not in hosts:
            hosts.append(host)
            if len(hosts) >= limit:
                break
    return hosts
