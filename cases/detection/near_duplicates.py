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
# datasketch's permutations for the seed (the reference), applied below without a MinHash object per text.
_PERM_A = np.asarray(_TEMPLATE.permutations[0], dtype=np.uint32)
_PERM_B = np.asarray(_TEMPLATE.permutations[1], dtype=np.uint32)
_EMPTY = np.uint32(0xFFFFFFFF)
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
    return sketches([text])[0]


def sketches(texts: list[str]) -> list[TextSketch]:
    """The sketches of many texts at once, equal to datasketch's `MinHash(...).update_batch(shingles)`
    (affine32: CRC-32 of each shingle, the MurmurHash3 finalizer, then `a * h + b` mod 2^32 per
    permutation, the minimum kept), computed for the whole list in a few numpy operations instead of one
    MinHash object and its checks per text: a third of the CPU time, the same stored signatures."""
    grams = [shingles(text) for text in texts]
    counts = np.array([len(each) for each in grams])
    result = np.full((len(texts), NUM_PERM), _EMPTY, dtype=np.uint32)
    filled = np.flatnonzero(counts)
    if len(filled):
        hashes = np.fromiter(
            (zlib.crc32(gram) for each in grams for gram in each), dtype=np.uint32, count=int(counts.sum())
        )
        with np.errstate(over="ignore"):
            permuted = _fmix32(hashes)[:, None] * _PERM_A + _PERM_B
        starts = np.concatenate(([0], np.cumsum(counts[filled])[:-1]))
        result[filled] = np.minimum.reduceat(permuted, starts, axis=0)
    bands = band_matrix(result)
    made = []
    for n, signature in enumerate(result):
        one = TextSketch(signature=signature, shingles=int(counts[n]))
        one.__dict__["bands"] = bands[n].tolist()  # computed with the others (the cached property's slot)
        made.append(one)
    return made


def _fmix32(value: np.ndarray) -> np.ndarray:
    value = value ^ (value >> np.uint32(16))
    value = value * np.uint32(0x85EBCA6B)
    value = value ^ (value >> np.uint32(13))
    value = value * np.uint32(0xC2B2AE35)
    return value ^ (value >> np.uint32(16))


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
