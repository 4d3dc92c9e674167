"""Finds English left outside translation tags in a template: what a person would read that no catalogue
can translate. Template syntax is removed first ({# #}, {% comment %}, {% translate %} and
{% blocktranslate %} with what they hold, then every other tag and variable), then the HTML is parsed and its
text and visible attributes are what is left to read."""

import re
from html.parser import HTMLParser

TEMPLATE_SYNTAX = [
    re.compile(r"\{#.*?#\}", re.S),
    re.compile(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", re.S),
    re.compile(r"\{%\s*blocktrans(?:late)?\b.*?\{%\s*endblocktrans(?:late)?\s*%\}", re.S),
    re.compile(r"\{%.*?%\}", re.S),  # {% translate "…" %} included: its text is in the catalogue
    re.compile(r"\{\{.*?\}\}", re.S),
]
# Attributes a person reads or hears (tooltips, screen readers, placeholders, button captions).
VISIBLE_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}
WORD = re.compile(r"[^\W\d_]{2,}")  # two letters or more: kbd keys such as `n` or `K` are not words
# Read the same in every language: key names and code (<kbd>, <code>), and acronyms such as CSV or HTTP.
VERBATIM_TAGS = ("script", "style", "kbd", "code")
ACRONYM = re.compile(r"[A-Z]{2,5}")


def _readable(text: str) -> bool:
    return any(not ACRONYM.fullmatch(word) for word in WORD.findall(text))


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in VERBATIM_TAGS:
            self._skip += 1
        attrs = dict(attrs)
        for name, value in attrs.items():
            shown = name in VISIBLE_ATTRIBUTES or (
                name == "value" and tag == "input" and attrs.get("type") in ("submit", "button")
            )
            if shown and value and _readable(value):
                self.found.append(f"{tag}[{name}]: {value.strip()}")

    def handle_endtag(self, tag):
        if tag in VERBATIM_TAGS and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and _readable(data):
            self.found.append(data.strip())


def untranslated_text(source: str) -> list[str]:
    """Every piece of readable text in a template's source that is not inside a translation tag."""
    for pattern in TEMPLATE_SYNTAX:
        source = pattern.sub(" ", source)
    reader = _Reader()
    reader.feed(source)
    reader.close()
    return reader.found
