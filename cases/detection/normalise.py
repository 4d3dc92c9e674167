"""The detection room's text normaliser: one form for texts and bank entries, so evasions meet their term.

    normalise("Ｋ і l l")  -> "kill"      normalise("k\\u200bi\\u0336ll")  -> "kill"      normalise_term("K.I.L.L")  -> "kill"

`normalise(text, tricks)` undoes the usual evasions, each a named trick (`TRICKS`) that a bank can turn off;
`tricks=None` means all. The output is meant for substring / Aho-Corasick matching, not for display: bank
entries go through `normalise_term` (the same pipeline) so an entry and a text meet in the same form.

The tricks run in this order, each on the output of the one before (the order matters):

1. invisible    Removes every format character (Unicode category Cf: ZWSP, ZWNJ, ZWJ, WJ, BOM, soft hyphen,
                bidi controls, tag characters U+E0000-E007F...), variation selectors, Hangul fillers, the
                combining grapheme joiner and C0/C1 controls other than tab and newlines. Then it decomposes
                (NFKD when `nfkc` is on, else NFD) and drops the marks of the *generic* combining blocks
                (U+0300-036F, 1AB0-1AFF, 1DC0-1DFF, 20D0-20FF, FE20-FE2F, Cyrillic 0483-0489): they only
                decorate Latin, Greek and Cyrillic letters (accents, strike-through, Zalgo), so "k̶i̶l̶l̶",
                "KİLL" and "café" lose them. Marks of other scripts (Devanagari vowel signs, Arabic harakat,
                Hebrew points, Japanese dakuten) spell letters and stay; the text is recomposed (NFC).
                First, so nothing hidden splits a look-alike or a leet word.
2. nfkc         Unicode NFKC: fullwidth, ligatures (ﬁ), circled, mathematical (𝐤𝐢𝐥𝐥, ⓚⓘⓛⓛ), superscripts.
3. confusables  Per-character homoglyph skeleton from `CONFUSABLES` (shipped below, curated from Unicode's
                confusables.txt for the Latin letters): Cyrillic, Greek, Armenian and Latin look-alikes
                (small capitals, ı, ɡ, ꞵ) become the Latin letter, keeping case; a capital's small twin maps
                with it (в with В) unless it has a look-alike of its own (ν is v), so capitals and small
                letters of one word meet. It is per character, not per word, so genuine Russian changes
                too ("привет мир" -> "пpиbet mиp", в т м mapping with В Т М): a Russian bank entry is
                normalised the same way and still meets its text, and whole-Cyrillic spoofs ("ѕех") are
                caught, which a mixed-script-words-only rule would miss.
                After nfkc, because NFKC turns 𝐤 into k but knows no homoglyphs.
4. case         str.casefold, and fullwidth/halfwidth forms folded through NFKC even when `nfkc` is off;
                what folding turns into a look-alike (Ꞵ -> ꞵ, µ -> μ) is skeletoned too (`confusables` on).
                After confusables, so Cyrillic capitals fold the same way as Latin ones.
5. leet         0→o 1→i 3→e 4→a 5→s 7→t 8→b 9→g @→a $→s !→i |→l, and a run of two or more 1s → l ("he11o").
                Rule: a leet run is replaced only *inside* a word, with a letter immediately on both sides
                ("k1ll", "h4x0r", "n00b", "b!tch"). At a word's edge it is a number or punctuation and
                stays: "2024", "100%", "555-1234", "covid19", "mp3", "4th", "hello!", "@user", "$5". Known
                misses by that rule: "5hit", "a$$" (a bank entry written that way still matches, since it is
                normalised the same way). URLs and e-mail addresses are left alone.
6. separators   A run of 3 or more single letters joined by the same separator (spaces, ., -, _, *, ·, •,
                /, ~, +, or the same mix repeated like ". ") is joined: "k.i.l.l", "k i l l", "k_i_l_l".
                Ordinary sentences keep their spaces ("I like it a lot": no 3 single letters in a row). A
                "single letter" may be one letter repeated ("k iii l l"), so the squeeze below exposes no new
                run (idempotence). URLs and e-mail addresses are left alone.
7. repeats      A letter repeated 3 or more times becomes one: "kiiiill" -> "kill", "sooo" -> "so". Doubles
                stay because they are spelling ("kill", "good", "feed"); a run of 3+ never is, it is stretch,
                and stretch is nearly always on a letter the word has once. "killlll" -> "kil" is the known
                miss. Digits and punctuation are not squeezed ("1000", "!!!"), nor URLs ("www.").

Idempotent: normalise(normalise(x)) == normalise(x), for any set of tricks (tested on every code point inside
a word, and with hypothesis on random texts and trick sets).
"""

import re
import unicodedata

TRICKS: frozenset[str] = frozenset(
    {"invisible", "nfkc", "confusables", "case", "leet", "separators", "repeats"}
)
ORDER: tuple[str, ...] = ("invisible", "nfkc", "confusables", "case", "leet", "separators", "repeats")

# --- invisible -------------------------------------------------------------------------------------------
# Every Cf character of Unicode 15.1 (a test checks the class still covers the running Python's Cf), plus
# invisible non-Cf characters: controls, combining grapheme joiner, Hangul fillers, Khmer inherent vowels,
# Mongolian variation selectors, variation selectors (and their supplement), the rest of the tag plane.
INVISIBLE_CLASS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"
)
_INVISIBLE = re.compile(f"[{INVISIBLE_CLASS}]+")
DECORATIVE_MARKS_CLASS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_DECORATIVE_MARKS = re.compile(f"[{DECORATIVE_MARKS_CLASS}]+")

# --- confusables -----------------------------------------------------------------------------------------
# look-alike -> Latin letter, pairs written "look-alike, letter". Curated from Unicode's confusables.txt
# (prototype a Latin letter), plus к/κ → k; capitals are completed below from the small letters' case pairs.
_PAIRS = (
    # Cyrillic
    "аa вb еe ѐe ёe һh іi їi јj кk ԁd ԛq ԝw оo рp сc ѕs уy ўy хx үy ӏl ьb ѵv ꙇi "
    " ᲀb ᲂo ᲃc ᲄt ᲅt"  # Cyrillic extended-C letters, which case-fold to в о с т
    " АA ВB СC ЕE НH ІI ЈJ КK МM ОO РP ЅS ТT ХX УY ҮY Ӏl ԚQ ԜW ѴV"
    # Greek
    " αa βb γy ιi κk νv οo ρp τt υu χx ωw ϲc ϳj ϱp ϰk"
    " ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX ϹC ϿC"
    # Armenian
    " օo սu ցg հh ոn զq ռn ւl ՕO ՍU ՏS"
    # Latin look-alikes: dotless i, script g, beta, alpha, iota, small capitals, long-leg letters
    " ıi ȷj ɡg ꞵb ɑa ɩi ɪi ʟl ᴀa ʙb ᴄc ᴅd ᴇe ɢg ʜh ᴊj ᴋk ᴍm ɴn ᴏo ᴘp ʀr ꜱs ᴛt ᴜu ᴠv ᴡw ʏy ᴢz"
    " ɒa ɔc ɛe ɜe ɸo ɵo ʋu ʍw ʌv ɣy ƅb ƍg ǝe ꝺd ꞃr ꞅs ꞇt ſs ꭓx ꭕx"
)
CONFUSABLES: dict[str, str] = {pair[0]: pair[1] for pair in _PAIRS.split()}
for _alike, _letter in list(CONFUSABLES.items()):
    # A capital look-alike's small twin maps with it (в with В, т with Т, η with Η) unless it has a look-alike
    # of its own (ν is v, Ν is N), so one word in capitals and in small letters meets the same skeleton.
    if _alike.isupper() and len(_twin := _alike.lower()) == 1 and _twin not in CONFUSABLES:
        CONFUSABLES[_twin] = _letter.lower()
_CONFUSABLE = re.compile("[" + re.escape("".join(sorted(CONFUSABLES))) + "]")


def _skeleton(text: str) -> str:
    return _CONFUSABLE.sub(lambda match: CONFUSABLES[match.group()], text)


# --- case ------------------------------------------------------------------------------------------------
_WIDE = re.compile("[\uff01-\uffef]+")

# --- leet ------------------------------------------------------------------------------------------------
LEET: dict[str, str] = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "l",
}
_LEET_TABLE = str.maketrans(LEET)
_LETTER = r"[^\W\d_]"
_LEET_RUN = re.compile(f"[{re.escape(''.join(LEET))}]+")

# URLs and e-mail addresses: the word steps (leet, separators, repeats) leave them alone. One is the
# whitespace-delimited token around "://", "www." or a "name@domain.tld" at-sign (not "@user").
_URL_ANCHOR = re.compile(r"://|www\.|(?<=\w)@(?=[\w\-]+\.\w)", re.IGNORECASE)


# --- separators ------------------------------------------------------------------------------------------
_SEPARATOR = r"(?: +|\.+ ?|-+|_+|\*+|·+|•+|/+|~+|\++)"
_SEPARATED = re.compile(
    rf"(?<![^\W_])({_LETTER})\1*(?P<sep>{_SEPARATOR})"
    rf"(?:({_LETTER})\3*(?P=sep))+"
    rf"({_LETTER})\4*(?![^\W_])"
)

# --- repeats ---------------------------------------------------------------------------------------------
_REPEATED = re.compile(rf"({_LETTER})\1{{2,}}")


def _leet(text: str) -> str:
    """Leet runs with a letter on both sides (the regex finds the runs; the neighbours are checked here)."""
    parts: list[str] = []
    last = 0
    for match in _LEET_RUN.finditer(text):
        start, end = match.span()
        if start == 0 or end == len(text) or not _is_letter(text[start - 1]) or not _is_letter(text[end]):
            continue
        run = match.group()
        parts.append(text[last:start])
        parts.append("l" * len(run) if len(run) > 1 and run == "1" * len(run) else run.translate(_LEET_TABLE))
        last = end
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _is_letter(ch: str) -> bool:
    return ch.isalpha()


def _join_letters(match: re.Match[str]) -> str:
    return "".join(ch for ch in match.group() if ch.isalpha())


def _outside_urls(text: str, steps) -> str:
    """`steps` applied in turn to the text between URLs and e-mail addresses only."""

    def step(segment: str) -> str:
        for one in steps:
            segment = one(segment)
        return segment

    parts: list[str] = []
    last = 0
    for match in _URL_ANCHOR.finditer(text):
        start, end = match.start(), match.end()
        if start < last:
            continue  # inside the token already kept
        while start > last and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        parts.append(step(text[last:start]))
        parts.append(text[start:end])
        last = end
    if not parts:
        return step(text)
    parts.append(step(text[last:]))
    return "".join(parts)


def _invisible(text: str, compatibility: bool) -> str:
    text = _INVISIBLE.sub("", text)
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD" if compatibility else "NFD", text)
    return unicodedata.normalize("NFC", _DECORATIVE_MARKS.sub("", text))


def _case(text: str, confusables: bool) -> str:
    text = text.casefold()
    if text.isascii():
        return text
    text = _WIDE.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    # Folding can land on a look-alike (Ꞵ -> ꞵ, µ -> μ, ϐ -> β): skeleton it too, or a second pass would.
    return _skeleton(text) if confusables else text


def _separators(text: str) -> str:
    return _SEPARATED.sub(_join_letters, text)


def _repeats(text: str) -> str:
    return _REPEATED.sub(r"\1", text)


_WORD_STEPS = (("leet", _leet), ("separators", _separators), ("repeats", _repeats))


def normalise(text: str, tricks: frozenset[str] | None = None) -> str:
    """`text` with the evasions of `tricks` (None: all of `TRICKS`) undone, in the order of `ORDER`."""
    if tricks is None:
        tricks = TRICKS
    elif not tricks <= TRICKS:
        raise ValueError(f"unknown normalisation tricks: {sorted(tricks - TRICKS)}")
    if "invisible" in tricks:
        text = _invisible(text, compatibility="nfkc" in tricks)
    ascii_only = text.isascii()
    if not ascii_only:
        if "nfkc" in tricks:
            text = unicodedata.normalize("NFKC", text)
        if "confusables" in tricks:
            text = _skeleton(text)
    if "case" in tricks:
        text = text.lower() if ascii_only else _case(text, "confusables" in tricks)
    steps = [step for trick, step in _WORD_STEPS if trick in tricks]
    if steps:
        text = _outside_urls(text, steps)
    return text


def normalise_term(term: str, tricks: frozenset[str] | None = None) -> str:
    """A bank entry in the form `normalise` gives texts with the same tricks, so the two meet; trimmed."""
    return normalise(term, tricks).strip()
