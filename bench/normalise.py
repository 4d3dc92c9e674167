"""Text normaliser benchmark: texts/s for 10,000 mixed texts of about 200 characters, on one core.

    python bench/normalise.py [--texts 10000] [--repeat 3]

The texts mix plain English, evasions (homoglyphs, zero-width characters, mathematical letters, leet,
separated and stretched letters, strike-through), numbers, URLs and non-Latin scripts, in a fixed random
order (seeded). Prints texts/s and µs per text for all tricks, for plain ASCII alone, and per trick left off.
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cases.detection.normalise import ORDER, TRICKS, normalise

PIECES = [
    "I like it a lot, see you at 5 p.m. in room 42.",
    "Happy 2024! Call 555-1234 or write to bob.smith@example.com",
    "read https://example.com/a-b-c?q=1 before posting",
    "you should k\u0456ll yourself",
    "k\u200bi\u200cl\u2060l them all",
    "\U0001d424\U0001d422\U0001d425\U0001d425 \u24da\u24d8\u24db\u24db",
    "\uff4b\uff49\uff4c\uff4c \uff39\uff2f\uff35",
    "k.i.l.l k i l l k-i-l-l",
    "kiiiiill sooooo baaaad",
    "h4x0r n00b sh1t b!tch",
    "k\u0336i\u0336l\u0336l\u0336 \u0455\u0435\u0445",
    "привет мир, как дела?",
    "नमस्ते दुनिया",
    "日本語のテキストです",
    "the quick brown fox jumps over the lazy dog",
]


def corpus(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        text = ""
        while len(text) < 200:
            text += rng.choice(PIECES) + " "
        texts.append(text[:200])
    return texts


def rate(texts: list[str], tricks, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            normalise(text, tricks)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts = corpus(args.texts)
    ascii_texts = [t for t in corpus(args.texts * 3) if t.isascii()][: args.texts]
    print(
        f"{len(texts)} mixed texts, {sum(map(len, texts)) / len(texts):.0f} chars each, best of {args.repeat}"
    )
    for label, sample, tricks in [
        ("all tricks", texts, None),
        ("all tricks, ASCII texts only", ascii_texts, None),
        *[(f"without {trick}", texts, TRICKS - {trick}) for trick in ORDER],
    ]:
        per_second = rate(sample, tricks, args.repeat)
        print(f"  {label:32} {per_second:>10,.0f} texts/s  {1e6 / per_second:7.1f} µs/text")


if __name__ == "__main__":
    main()
