"""Evasion experiment: do the models still catch what they caught once the text is disguised?

Used by `bench/learning.py` on the held-out SpamAssassin emails. Each rewrite is what a spammer does to get
past a filter: Cyrillic look-alikes for Latin letters (homoglyphs), zero-width spaces inside every word,
leetspeak digits. Both models see the text as serving gives it to them, after `normalise` (every trick); the
trained model flags at its own threshold, the built-in profanity model (not a spam model: at 0.5 it flags almost
no spam) at its own top tenth of scores on these emails (texts as the SpamAssassin
import makes them: kind "message", language "en"). Figure: of the spam emails a
model caught in clean form, the share it still catches in disguise; and, to show what the normaliser is
worth, the same with the disguised text given to the models as it is (`raw`).
"""

CYRILLIC = str.maketrans(
    {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445"}
)
LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})
BUILTIN_TOP_SHARE = 0.1


def zero_width(text: str) -> str:
    return " ".join("\u200b".join(word) for word in text.split(" "))


REWRITES = {
    "homoglyphs": lambda text: text.translate(CYRILLIC),
    "zero-width": zero_width,
    "leetspeak": lambda text: text.lower().translate(LEET),
}
REWRITES["all three"] = lambda text: zero_width(text.lower().translate(LEET).translate(CYRILLIC))


def evasion_figures(*, trained_model, threshold: float | None, builtin_model, texts: list[str]) -> dict:
    """{rewrite: {"trained": share, "builtin": share}, "caught": {model: n}} over spam `texts`."""
    from cases.detection.features import MAX_MODEL_TEXT, Features, features_of_text  # after Django setup
    from cases.detection.normalise import normalise

    texts = [text[:MAX_MODEL_TEXT] for text in texts]

    def trained(batch):
        return trained_model.scores([features_of_text(t, kind="message", language="en") for t in batch])

    def builtin(batch):
        return builtin_model.scores([normalise(t) for t in batch])

    def trained_raw(batch):
        plain = features_of_text("", kind="message", language="en")
        return trained_model.scores([Features(text=t, inputs=plain.inputs) for t in batch])

    def builtin_raw(batch):
        return builtin_model.scores(batch)

    builtin_scores = builtin(texts)
    builtin_at = sorted(builtin_scores)[int(len(texts) * (1 - BUILTIN_TOP_SHARE))] if texts else 1.0
    out = {}
    caught = {
        "trained": []
        if threshold is None
        else [t for t, s in zip(texts, trained(texts), strict=True) if s >= threshold],
        "builtin": [t for t, s in zip(texts, builtin_scores, strict=True) if s >= builtin_at],
    }
    for name, rewrite in REWRITES.items():
        row = {}
        for model, score, at in (
            ("trained", trained, threshold),
            ("builtin", builtin, builtin_at),
            ("trained_raw", trained_raw, threshold),
            ("builtin_raw", builtin_raw, builtin_at),
        ):
            base = caught[model.removesuffix("_raw")]
            if not base or at is None:
                row[model] = None
                continue
            row[model] = sum(s >= at for s in score([rewrite(t) for t in base])) / len(base)
        out[name] = row
    out["caught"] = {model: len(texts_) for model, texts_ in caught.items()}
    return out
