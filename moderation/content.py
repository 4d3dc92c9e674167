"""Checks on hostile content that must hold before anything is stored: no framework imports here."""

import math
from typing import Any


def find_unstorable_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first value or key the database cannot store: NUL, an unpaired UTF-16 surrogate, or a number that
    is not finite (JSON `1e999` parses as infinity). Returns (dotted path, problem); the path is made safe to
    print, since the offending key itself may be what cannot be encoded."""
    # Paths are kept as tuples and only formatted for the (rare) item that has a problem.
    stack: list[tuple[tuple, Any]] = [((path,) if path else (), value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return _dotted(where), problem
        elif isinstance(item, float):
            if not math.isfinite(item):
                return _dotted(where), "is not a finite number"
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = _text_problem(key)
                if problem:
                    return _dotted((*where, key)), f"key {problem}"
                stack.append(((*where, key), child))
        elif isinstance(item, list):
            stack.extend(((*where, index), child) for index, child in enumerate(item))
    return None


def _dotted(parts: tuple) -> str:
    return ".".join(printable(str(part)) for part in parts) or "body"


def printable(text: str) -> str:
    """`text` with NUL, other control characters and unpaired surrogates escaped (for error messages)."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)[:200]


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (invalid Unicode)"
    return None
