"""Showing reported (attacker-controlled) text to agents: `cases.content_display`.

The contract: the output is escaped HTML whose only markup is the module's own `<span>` badges; every
character that can hide or reorder text becomes a visible badge; links are inert text followed by the host
a browser would really contact.
"""

from html.parser import HTMLParser

import pytest

from cases.content_display import BIDI_CONTROLS, host_warning, render_hostile_text, render_url, url_host

OWN_SPAN_CLASSES = {"ctl", "ctl bidi", "link", "host", "host-warning"}


class _Markup(HTMLParser):
    """Collects the tags and the visible text of a rendered fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Markup:
    parser = _Markup()
    parser.feed(html)
    parser.close()
    return parser


def badges(html: str) -> list[str]:
    """The short labels of the control-character badges, in order."""
    parser = _BadgeText()
    parser.feed(html)
    return parser.badges


class _BadgeText(HTMLParser):
    def __init__(self):
        super().__init__()
        self.badges: list[str] = []
        self._in_badge = False

    def handle_starttag(self, tag, attrs):
        self._in_badge = "ctl" in (dict(attrs).get("class") or "").split()

    def handle_endtag(self, tag):
        self._in_badge = False

    def handle_data(self, data):
        if self._in_badge:
            self.badges.append(data)


# --- Escaping ----------------------------------------------------------------------------------------------


def test_html_in_text_is_escaped_not_rendered():
    html = render_hostile_text("<script>alert(1)</script> & <img src=x onerror=alert(1)>")

    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&amp;" in html


def test_quotes_are_escaped_so_text_cannot_break_out_of_an_attribute():
    html = render_hostile_text("\"'><b>x</b>")

    assert "&quot;" in html and "&#x27;" in html
    assert "<b>" not in html


def test_plain_text_is_unchanged():
    assert render_hostile_text("hello world") == "hello world"


def test_empty_and_none_render_as_empty():
    assert render_hostile_text("") == ""
    assert render_hostile_text(None) == ""


def test_newlines_and_tabs_are_preserved_not_badged():
    html = render_hostile_text("line one\nline two\tcolumn")

    assert html == "line one\nline two\tcolumn"


def test_limit_truncates_the_input_before_rendering():
    assert render_hostile_text("abcdefghij", limit=4) == "abcd"


# --- Invisible and reordering characters ----------------------------------------------------------------------


def test_right_to_left_override_is_a_visible_bidi_badge():
    html = render_hostile_text("invoice\u202efdp.exe")

    assert "\u202e" not in html
    assert '<span class="ctl bidi" title="U+202E RIGHT-TO-LEFT OVERRIDE">RLO</span>' in html
    assert html.startswith("invoice") and html.endswith("fdp.exe")


@pytest.mark.parametrize("char", sorted(BIDI_CONTROLS))
def test_every_bidi_control_becomes_a_bidi_badge(char):
    html = render_hostile_text(f"a{char}b")

    assert char not in html
    tags = parse(html).tags
    assert tags == [("span", {"class": "ctl bidi", "title": tags[0][1]["title"]})]
    assert tags[0][1]["title"].startswith(f"U+{ord(char):04X} ")


@pytest.mark.parametrize(
    ("char", "label"),
    [
        ("\u200b", "ZWSP"),
        ("\u200c", "ZWNJ"),
        ("\u200d", "ZWJ"),
        ("\u2060", "WJ"),
        ("\ufeff", "BOM"),
        ("\u00ad", "SHY"),
    ],
)
def test_invisible_characters_become_named_badges(char, label):
    html = render_hostile_text(f"pay{char}pal")

    assert char not in html
    assert badges(html) == [label]
    assert 'class="ctl"' in html  # not styled as a bidi control


def test_unicode_tag_characters_show_the_hidden_ascii_letter():
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "Hi")
    html = render_hostile_text(f"ok{hidden}")

    assert badges(html) == ["TAG H", "TAG i"]
    assert "U+E0048 hidden tag character" in html
    assert not any(0xE0000 <= ord(c) <= 0xE007F for c in html)


def test_unicode_tag_a_is_shown_as_tag_a():
    assert badges(render_hostile_text("\U000e0041")) == ["TAG A"]


def test_other_control_characters_are_shown_as_code_points():
    html = render_hostile_text("a\x07b\x1bc\u2028d\x7f")

    assert badges(html) == ["U+0007", "U+001B", "U+2028", "U+007F"]
    assert "\x07" not in html and "\x1b" not in html and "\u2028" not in html and "\x7f" not in html


def test_a_nul_character_is_shown_not_passed_through():
    html = render_hostile_text("a\x00b")

    assert "\x00" not in html
    assert badges(html) == ["U+0000"]


# --- Links -----------------------------------------------------------------------------------------------


def test_a_link_is_inert_text_with_its_host():
    html = render_hostile_text("see https://example.org/page now")

    assert "<a" not in html and "href" not in html
    assert '<span class="link">https://example.org/page</span>' in html
    assert "→ example.org</span>" in html
    assert html.startswith("see ") and html.endswith(" now")


def test_userinfo_trick_shows_the_real_host_and_a_warning():
    html = render_hostile_text("Log in at https://bank.example@evil.example/login")

    assert "→ evil.example</span>" in html
    assert "→ bank.example" not in html
    assert '<span class="host-warning">text before @ is not the host</span>' in html


@pytest.mark.parametrize(
    ("text", "link", "after"),
    [
        ("go to https://x.example/a.", "https://x.example/a", "."),
        ("(https://x.example/a)", "https://x.example/a", ")"),
        ("https://x.example/a, then", "https://x.example/a", ", then"),
        ("'https://x.example/a'", "https://x.example/a", "'"),
        ("really? https://x.example/a?!", "https://x.example/a", "?!"),
    ],
)
def test_trailing_punctuation_is_not_part_of_the_link(text, link, after):
    html = render_hostile_text(text)

    assert f'<span class="link">{link}</span>' in html
    assert html.endswith(render_hostile_text(after))


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("hxxp://evil.example/payload", "evil.example"),
        ("HXXPS://Evil.Example/payload", "evil.example"),
        ("visit www.Evil.example today", "www.evil.example"),
        ("ftp://files.example/x", "files.example"),
    ],
)
def test_defanged_and_bare_www_links_are_recognised(text, host):
    html = render_hostile_text(text)

    assert html.count('<span class="link">') == 1
    assert f"→ {host}</span>" in html


def test_text_without_a_scheme_or_www_is_not_a_link():
    assert 'class="link"' not in render_hostile_text("example.com and evil.example")


def test_link_with_an_invisible_character_still_shows_the_badge():
    html = render_hostile_text("https://pay\u200bpal.example/")

    assert "\u200b" not in html
    assert "ZWSP" in badges(html)


def test_several_links_each_get_their_host():
    html = render_hostile_text("a https://one.example/ b http://two.example/x c")

    assert "→ one.example</span>" in html and "→ two.example</span>" in html
    assert html.count('<span class="link">') == 2


def test_render_url_renders_one_field_as_inert_text_with_host():
    html = render_url("https://bank.example@evil.example/x")

    assert html.startswith('<span class="link">https://bank.example@evil.example/x</span>')
    assert "→ evil.example" in html
    assert "<a" not in html


def test_render_url_of_something_without_host_shows_a_question_mark():
    assert "→ ?</span>" in render_url("not a url")


# --- url_host -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Example.ORG/path", "example.org"),
        ("https://bank.example@evil.example/login", "evil.example"),
        ("https://user:pass@evil.example:8443/", "evil.example"),
        ("http://192.168.0.1:8080/admin", "192.168.0.1"),
        ("http://[::1]/", "::1"),
        ("hxxps://evil.example/", "evil.example"),
        ("www.example.com/x", "www.example.com"),
        ("https://example.com./", "example.com"),
        ("  https://padded.example/  ", "padded.example"),
        ("not a url", ""),
        ("", ""),
    ],
)
def test_url_host(url, host):
    assert url_host(url) == host


def test_url_host_of_a_non_ascii_host_is_punycode():
    assert url_host("https://\u0430pple.com/") == "xn--pple-43d.com"  # Cyrillic a
    assert url_host("https://b\u00fccher.de/") == "xn--bcher-kva.de"
    assert url_host("https://\u0430pple.com/").isascii()


def test_url_host_of_an_unparseable_address_is_empty():
    assert url_host("http://[") == ""


def test_url_host_matches_the_browser_for_a_backslash_before_at():
    """Browsers (WHATWG URL) treat `\\` as `/` in http(s) URLs: this goes to evil.example, not bank.example."""
    assert url_host("https://evil.example\\@bank.example/") == "evil.example"


# --- host_warning ---------------------------------------------------------------------------------------------


def test_no_warning_for_an_ordinary_host():
    assert host_warning("https://example.org/x") == ""


def test_warning_for_userinfo_before_the_host():
    assert host_warning("https://bank.example@evil.example/") == "text before @ is not the host"


@pytest.mark.parametrize(
    "url",
    ["https://\u0430pple.com/", "https://xn--pple-43d.com/", "www.b\u00fccher.de"],
)
def test_warning_for_non_ascii_or_punycode_hosts(url):
    assert "possible look-alike" in host_warning(url)


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://2130706433/", "http://[::1]/"])
def test_warning_for_numeric_hosts(url):
    assert "numeric address" in host_warning(url)


def test_several_warnings_are_joined():
    warning = host_warning("http://admin@10.0.0.1/")

    assert warning == "text before @ is not the host; numeric address"


def test_warning_for_an_unparseable_address():
    assert host_warning("http://[") == "unparseable address"


# --- Property: nothing from the input reaches the page as markup ------------------------------------------------

NASTY = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    '"><script>x</script>',
    "'><iframe src=//evil.example>",
    "</span><script>x</script>",
    "<<script>script>",
    "<!-- comment --><b>",
    "<![CDATA[<x>]]>",
    "&lt;script&gt; already escaped",
    "https://evil.example/<script>",
    'https://evil.example/"onmouseover="alert(1)',
    "https://bank.example@evil.example/<b>x</b>",
    "www.evil.example<img src=x>",
    "hxxp://evil.example/'><svg>",
    "https://\u0430pple.com/<x>",
    "https://[<script>]/",
    "http://[::1]<b>/",
    "\u202e<script>\u202c",
    "<\u200bscript>",
    "<sc\x00ript>",
    "\U000e003c\U000e0073<script>",
    "a\nb<\tc>",
    "<" * 50,
    "https://" + "<" * 10,
    "javascript:alert(1)<a href=javascript:alert(1)>x</a>",
    "data:text/html,<script>alert(1)</script>",
]


def _check_only_own_markup(html: str) -> None:
    markup = parse(html)
    for tag, attrs in markup.tags:
        assert tag == "span", html
        assert set(attrs) <= {"class", "title"}, html
        assert attrs["class"] in OWN_SPAN_CLASSES, html


@pytest.mark.parametrize("text", NASTY)
def test_output_never_contains_markup_from_the_input(text):
    html = str(render_hostile_text(text))

    _check_only_own_markup(html)
    # Every `<` in the output opens or closes one of our own spans.
    assert html.count("<") == html.count("<span ") + html.count("</span>")
    assert html.count("<span ") == html.count("</span>")


@pytest.mark.parametrize("text", NASTY)
def test_render_url_never_contains_markup_from_the_input(text):
    html = str(render_url(text))

    _check_only_own_markup(html)
    assert html.count("<") == html.count("<span ") + html.count("</span>")


def test_visible_text_keeps_every_ordinary_character_of_the_input():
    text = "<b>bold</b> & \"quoted\" 'single'"

    assert "".join(parse(render_hostile_text(text)).text) == text
