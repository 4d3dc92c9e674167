"""Near-duplicate text: MinHash signatures and LSH band hashes of normalised text (pure, no database).

A text is normalised with every evasion trick undone (`cases.detection.normalise`: homoglyphs, zero-width
characters, leet, separators, stretched letters...), reduced to its words, and cut into character 5-grams:
for short texts (most reports) one changed word costs a handful of 5-grams, where it would cost a third of
the word 3-grams. 128 MinHash permutations (`datasketch`, fixed seed: every worker and every restart computes
the same signature) are cut into 32 bands of 4 rows. Two texts share at least one band with probability
1 - (1 - J^4)^32: 0.99 at Jaccard 0.6, 0.87 at 0.5, 0.23 at 0.3, so near-duplicates meet as candidates and
are then verified on the whole signature against `CAMPAIGN_MIN_JACCARD`.
"""

import re
import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from datasketch import MinHash

from cases.detection.normalise import normalise

NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
SEED = 1414  # never change: stored signatures would stop meeting new ones (bump VERSION with it)
SHINGLE = 5
VERSION = "minhash-c5-128x32x4-v1"
# Texts are cut here before shingling: the first 4,000 characters say whether it is the same text.
MAX_CHARS = 4000

_WORDS = re.compile(r"\w+")
# CRC-32 per shingle: stable across processes (unlike `hash()`); the affine32 scheme mixes it with the
# MurmurHash3 finalizer before permuting. SHA-1 (the default) costs twice as much for nothing here.
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", hashfunc=zlib.crc32)
# splitmix64: a band hash mixes the band's four rows and its index in a few vectorised operations.
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_BAND_SEEDS = (np.arange(BANDS, dtype=np.uint64) + np.uint64(1)) * _GOLDEN


@dataclass(frozen=True)
class TextSketch:
    signature: np.ndarray  # NUM_PERM uint32 values
    shingles: int

    def band_hashes(self) -> list[int]:
        return self.bands

    @cached_property
    def bands(self) -> list[int]:
        return band_hashes(self.signature)

    def to_bytes(self) -> bytes:
        return self.signature.astype("<u4").tobytes()


def shingles(text: str) -> set[bytes]:
    """Character 5-grams of the text's words after normalisation, joined by single spaces."""
    flat = " ".join(_WORDS.findall(normalise(text[:MAX_CHARS])))
    if flat.isascii():
        encoded = flat.encode("ascii")
        return {encoded[i : i + SHINGLE] for i in range(len(encoded) - SHINGLE + 1)}
    # Cut the string, not its bytes, so a 5-gram never splits a multi-byte letter.
    return {flat[i : i + SHINGLE].encode("utf-8", "surrogatepass") for i in range(len(flat) - SHINGLE + 1)}


def sketch(text: str) -> TextSketch:
    grams = shingles(text)
    minhash = MinHash(
        num_perm=NUM_PERM, permutations=_TEMPLATE.permutations, scheme="affine32", hashfunc=zlib.crc32
    )
    if grams:
        minhash.update_batch(grams)
    return TextSketch(signature=np.asarray(minhash.hashvalues, dtype=np.uint32), shingles=len(grams))


def band_hashes(signature: np.ndarray) -> list[int]:
    """One signed 64-bit hash per band, of the band's rows and its index (equal rows in different bands are
    different keys)."""
    return band_matrix(signature.reshape(1, NUM_PERM))[0].tolist()


def band_matrix(signatures: np.ndarray) -> np.ndarray:
    """`band_hashes` of many signatures at once (n x NUM_PERM uint32 -> n x BANDS int64)."""
    rows = signatures.astype(np.uint64).reshape(len(signatures), BANDS, ROWS)
    with np.errstate(over="ignore"):
        value = np.broadcast_to(_BAND_SEEDS, (len(signatures), BANDS)).copy()
        for column in range(ROWS):
            value = _mix(value ^ rows[:, :, column])
    return value.view(np.int64)


def _mix(value: np.ndarray) -> np.ndarray:
    value = value + _GOLDEN
    value = (value ^ (value >> np.uint64(30))) * _MIX1
    value = (value ^ (value >> np.uint64(27))) * _MIX2
    return value ^ (value >> np.uint64(31))


def signature_from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(bytes(raw), dtype="<u4")


def estimated_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    if first.shape != second.shape:
        return 0.0
    return float(np.count_nonzero(first == second)) / len(first)
