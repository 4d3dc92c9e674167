"""Spot test: the signals local detection would produce for a text, computed and returned, never written.

Runs every enabled local source (in-process, no network: the built-in text model) and every matching bank on
an unsaved subject built from the pasted text. Remote
scorers and context providers are not called: a spot test must not send pasted content to a vendor.
"""

from cases.detection.bank_hits import bank_hits_for
from cases.detection.sources import SignalDraft, applies_to, is_local, run_source
from cases.models import Subject
from cases.selectors import enabled_signal_sources

MAX_SPOT_TEXT = 20_000


def spot_signals(*, text: str, kind: str, language: str, urls: tuple[str, ...] = ()) -> list[SignalDraft]:
    """Signals the local detectors give `text` (as a subject of `kind` in `language`). Writes nothing."""
    subject = Subject(
        kind=kind,
        external_id="spot-test",
        text=text[:MAX_SPOT_TEXT],
        language=language,
        media_urls=list(urls),
        content_version=1,
    )
    drafts: list[SignalDraft] = []
    for source in enabled_signal_sources():
        if is_local(source) and applies_to(source, subject):
            drafts.extend(run_source(source, subject))
    drafts.extend(bank_hits_for(subject.text, urls=subject.media_urls))
    return drafts
