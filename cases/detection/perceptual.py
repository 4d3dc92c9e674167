"""Perceptual image hashes (PDQ) and an exact Hamming index over a bank of them.

PDQ is Meta's 256-bit perceptual hash (https://github.com/facebook/ThreatExchange/tree/main/hashing/pdq),
the hash child-safety and terrorism hash-sharing programmes exchange. Two pictures that look alike have hashes
a few bits apart: a re-encoded, resized, lightly cropped or brightened copy stays within the usual match
threshold of 31 bits, while unrelated pictures sit near 128 bits apart. We hash with `pdqhash`, the bindings to
Meta's C++ reference code, and write hashes as 64 lowercase hex digits in the reference bit order (the
ThreatExchange format), so hashes from other platforms compare with ours.

PDQ is not rotation or mirror invariant. A banked picture re-posted rotated by 90° hashes ~128 bits away, so a
reported copy is looked up with its eight dihedral hashes (`pdq_variants`: the plain one, three rotations and
four mirror images, computed in one pass) and matches if any of them is near a bank entry.

Everything here reads hostile bytes. `pdq_of_image` refuses what the media fetch refuses (anything but PNG,
JPEG, GIF and WebP, judged by the bytes; more than `MEDIA_MAX_PIXELS` pixels, judged from the header before
anything is decoded), refuses truncated files instead of hashing half a picture, and turns every decoder error
into `UnreadableImage` with a reason an admin can read.

`HashIndex` is an exhaustive scan with faiss' `IndexBinaryFlat` (XOR + popcount over 32 bytes per hash): exact
by construction, 40 bytes per hash, built from 1,000,000 hex strings in under a second, p95 under 2 ms per
lookup over 1,000,000 hashes on one core (bench/pdq.py; a picture's eight variants cost eight lookups, ~9 ms).
Multi-index hashing was measured too: faiss' `IndexBinaryMultiHash` (16 tables of 16 bits, exact at 31 with one
bit flipped per table) is slower per lookup (~2 ms p50), takes 5 s to build and 7x the memory; a numpy prototype
is faster at 31 but much slower at 50. Both depend on how the bank's hashes cluster, which a hostile or merely
lopsided bank decides; a scan does not. A scan grows linearly (~11 ms a lookup at 10M hashes): that is where
multi-index hashing would earn its cost.
"""

import io
import re
from array import array
from collections.abc import Iterable

import faiss
import numpy as np
import pdqhash
from django.conf import settings
from PIL import Image, ImageOps

from cases.detection.media import sniff_raster

# Workers share two cores: one search must not spread over all of them (faiss defaults to every core).
faiss.omp_set_num_threads(1)

HASH_BITS = 256
MATCH_THRESHOLD = 31  # Meta's recommended PDQ match distance (about 12% of the bits)
# Below this PDQ quality the picture is too flat (a solid colour, a blank frame) for its hash to mean anything:
# its bits are rounding noise of near-zero coefficients, so it matches or misses at random. ThreatExchange
# drops such hashes rather than matching on them, and so should a bank (neither bank them nor look them up).
MIN_USEFUL_QUALITY = 50
# PDQ reduces every picture to 64x64 luma; decoding and filtering beyond 512 pixels a side only costs time.
HASHING_SIDE = 512
KEPT_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
_PDQ_HEX = re.compile(r"[0-9a-fA-F]{64}")


class UnreadableImage(ValueError):
    """The bytes are not a picture we hash: the message says why (type, size, damage)."""


def is_pdq_hex(value: object) -> bool:
    """True for 64 hex digits (either case; we write lowercase), nothing around them."""
    return isinstance(value, str) and _PDQ_HEX.fullmatch(value) is not None


def hamming(a_hex: str, b_hex: str) -> int:
    """Bits that differ between two PDQ hashes (0..256)."""
    return (_as_int(a_hex) ^ _as_int(b_hex)).bit_count()


def similarity(distance: int) -> float:
    """1.0 for identical hashes, 0.0 at 256 bits apart: the score a PDQ bank hit carries as a signal."""
    return min(1.0, max(0.0, 1.0 - distance / HASH_BITS))


def pdq_of_image(data: bytes) -> tuple[str, int]:
    """The PDQ hash (64 lowercase hex digits) and quality (0..100) of a PNG, JPEG, GIF (first frame) or WebP
    picture, as a viewer sees it (EXIF orientation applied, transparency over white). Raises UnreadableImage."""
    vector, quality = pdqhash.compute(_pixels(data))
    return _to_hex(vector), int(quality)


def pdq_variants(data: bytes) -> list[str]:
    """The eight dihedral PDQ hashes of a picture, plain hash first, then rotated by 90°, 180° and 270°,
    flipped vertically, flipped horizontally, and the two diagonal mirror images (pdqhash's order). Looking
    these up finds a banked picture re-posted rotated or mirrored. Raises UnreadableImage."""
    return pdq_variants_and_quality(data)[0]


def pdq_variants_and_quality(data: bytes) -> tuple[list[str], int]:
    """`pdq_variants` and the quality of `pdq_of_image`, from one decode: what a media lookup needs (the first
    variant is the plain hash to record as evidence, the quality says whether to look it up at all)."""
    vectors, quality = pdqhash.compute_dihedral(_pixels(data))
    return [_to_hex(vector) for vector in vectors], int(quality)


def _to_hex(vector: np.ndarray) -> str:
    # pdqhash gives the bits most significant first (word 15 down to word 0), as ThreatExchange prints them.
    return np.packbits(vector.astype(np.uint8)).tobytes().hex()


def _as_int(value: str) -> int:
    if not is_pdq_hex(value):
        raise ValueError(f"not a PDQ hash (64 hex digits): {str(value)[:80]!r}")
    return int(value, 16)


def _as_code(value: str) -> bytes:
    if not is_pdq_hex(value):
        raise ValueError(f"not a PDQ hash (64 hex digits): {str(value)[:80]!r}")
    return bytes.fromhex(value)


def _pixels(data: bytes) -> np.ndarray:
    """Decode hostile bytes into an RGB uint8 array at most HASHING_SIDE pixels a side."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise UnreadableImage("expected the picture's bytes")
    data = bytes(data)
    raster = sniff_raster(data)
    if raster is None:
        raise UnreadableImage("not a PNG, JPEG, GIF or WebP picture")
    limit = settings.MEDIA_MAX_PIXELS
    # The header's size is checked before any pixel is decoded: a 100-byte PNG can claim gigapixels.
    _check_size(raster.width, raster.height, limit)
    # No warnings.catch_warnings() here (it is process-global, not thread-safe): our limit is checked before
    # Pillow's, and Pillow raises DecompressionBombError on its own past twice its limit.
    try:
        with Image.open(io.BytesIO(data), formats=KEPT_FORMATS) as image:
            # Pillow may read the header differently from our sniffer (a second JPEG frame, a GIF canvas):
            # its own idea of the size is what it would decode, so check that too.
            _check_size(image.width, image.height, limit)
            # A JPEG can be decoded at 1/2, 1/4 or 1/8 scale for nearly free: ask for >= HASHING_SIDE.
            image.draft(None, (HASHING_SIDE, HASHING_SIDE))
            image.load()
            image = ImageOps.exif_transpose(image)
            image.thumbnail((HASHING_SIDE, HASHING_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
            return _as_rgb(image)
    except UnreadableImage:
        raise
    # Decoders fed hostile bytes fail in many ways (OSError for truncation, SyntaxError for bad PNG chunks,
    # ValueError, struct.error, EOFError, DecompressionBombError, ...): each is a picture we cannot read.
    except Exception as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise UnreadableImage(f"the picture cannot be decoded: {reason[:200]}") from exc


def _check_size(width: int, height: int, limit: int) -> None:
    if width <= 0 or height <= 0:
        raise UnreadableImage(f"{width}x{height} pixels is not a picture")
    if width * height > limit:
        raise UnreadableImage(f"{width}x{height} pixels is over the {limit:,} limit")


def _as_rgb(image: Image.Image) -> np.ndarray:
    """RGB uint8 pixels from any mode Pillow opens our four formats in."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: Pillow's convert("L") clips at 255 instead of scaling, which would turn the
        # picture almost white. Scale the 0..65535 range down by hand.
        grey = (np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if image.mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float64), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        # Transparent pixels keep whatever colour the file stored under them; hash what a viewer sees on a
        # light page instead, so junk hidden under transparency cannot move the hash.
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        image = canvas
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


class HashIndex:
    """An exact Hamming-distance index over PDQ hashes, each tagged with the caller's entry id.

    Reads (`search`, `search_any`) may run from several threads; `add` must not run alongside them. Building
    from 1,000,000 hex strings takes about a second and holds 40 bytes per hash (32 for the hash, 8 for the id).
    """

    def __init__(self, entries: Iterable[tuple[int, str]] = ()):
        self._index = faiss.IndexBinaryFlat(HASH_BITS)
        self._ids = np.empty(0, dtype=np.int64)
        self.add(entries)

    def add(self, entries: Iterable[tuple[int, str]]) -> None:
        """Add (entry id, hex hash) pairs; a bad hash raises ValueError naming its entry and adds nothing."""
        # Packed buffers, not lists of objects: a million entries cost 40 MB while loading, not 100+.
        ids = array("q")
        codes = bytearray()
        for entry_id, value in entries:
            if not is_pdq_hex(value):
                raise ValueError(f"entry {entry_id!r}: not a PDQ hash (64 hex digits): {str(value)[:80]!r}")
            ids.append(int(entry_id))
            codes += bytes.fromhex(value)
        if not ids:
            return
        self._index.add(np.frombuffer(codes, dtype=np.uint8).reshape(len(ids), HASH_BITS // 8))
        self._ids = np.concatenate([self._ids, np.frombuffer(ids, dtype=np.int64)])

    @property
    def nbytes(self) -> int:
        """Memory the index holds: the hashes (in faiss) and their entry ids."""
        return len(self) * HASH_BITS // 8 + self._ids.nbytes

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, hex_hash: str, max_distance: int, *, limit: int | None = None) -> list[tuple[int, int]]:
        """Every entry within `max_distance` bits of the hash, as (entry id, distance), nearest first (ties by
        entry id); at most `limit` of them when given."""
        return self.search_any([hex_hash], max_distance, limit=limit)

    def search_any(
        self, hexes: list[str], max_distance: int, *, limit: int | None = None
    ) -> list[tuple[int, int]]:
        """Entries within `max_distance` of any of the hashes (e.g. the eight `pdq_variants` of a picture),
        each once with its best distance, nearest first."""
        if isinstance(max_distance, bool) or not isinstance(max_distance, int):
            raise ValueError(f"max_distance must be a whole number of bits, not {max_distance!r}")
        if not 0 <= max_distance <= HASH_BITS:
            raise ValueError(f"max_distance must be between 0 and {HASH_BITS}, not {max_distance}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a whole number of hits, not {limit!r}")
        queries = [_as_code(value) for value in hexes]
        if not queries or not len(self):
            return []
        matrix = np.frombuffer(b"".join(queries), dtype=np.uint8).reshape(len(queries), HASH_BITS // 8)
        # faiss' binary range search keeps distances strictly below the radius: + 1 makes max_distance inclusive.
        _limits, distances, positions = self._index.range_search(matrix, max_distance + 1)
        best: dict[int, int] = {}
        for entry_id, distance in zip(self._ids[positions].tolist(), distances.tolist(), strict=True):
            if distance < best.get(entry_id, HASH_BITS + 1):
                best[entry_id] = int(distance)
        hits = sorted(best.items(), key=lambda hit: (hit[1], hit[0]))
        return hits if limit is None else hits[:limit]
