"""PDQ hashing of real pictures (generated here, deterministically, plus the two photos scikit-learn ships) and
the Hamming index against brute force. No database: everything runs on bytes."""

import importlib.util
import io
import random
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from cases.detection.perceptual import (
    MATCH_THRESHOLD,
    MIN_USEFUL_QUALITY,
    HashIndex,
    UnreadableImage,
    hamming,
    is_pdq_hex,
    pdq_of_image,
    pdq_variants,
    pdq_variants_and_quality,
    similarity,
)

WORDS = ["sale", "free", "click", "hello", "meet", "party", "2024", "news", "join", "win"]


def picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A photo-like picture: a coloured gradient, overlapping shapes, a word, blur and sensor noise."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width] / max(width, height)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xs + np.sin(angle) * ys
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) or 1)
    start, end = (np.array([rng.randrange(256) for _ in range(3)]) for _ in range(2))
    pixels = start * (1 - ramp[..., None]) + end * ramp[..., None]
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(8, 14)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = x0 + rng.randint(width // 20, width // 2)
        y1 = y0 + rng.randint(height // 20, height // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice(["ellipse", "rectangle", "polygon"])
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(rng.randrange(width), rng.randrange(height)) for _ in range(5)], fill=colour)
    font = ImageFont.load_default(size=rng.randint(18, 40))
    draw.text(
        (rng.randrange(width // 2), rng.randrange(height // 2)), rng.choice(WORDS), fill="white", font=font
    )
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    grainy = np.asarray(image, dtype=np.float64) + noise.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(grainy, 0, 255).astype(np.uint8))


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        options.setdefault("compress_level", 1)  # noisy pictures compress slowly; size is not the point here
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def sklearn_photos() -> list[Image.Image]:
    """Two real photographs (a temple, a flower) that scikit-learn ships; it comes with alt-profanity-check."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "images"
    return [Image.open(path).convert("RGB") for path in sorted(folder.glob("*.jpg"))]


def originals() -> list[Image.Image]:
    photos = sklearn_photos()
    return [picture(1), picture(2, (400, 300)), picture(3, (240, 320)), *photos]


def slight_crop(image: Image.Image) -> Image.Image:
    # 1% off each side (4% of the area). PDQ is crop-fragile: 2% a side already moves photos ~40 bits.
    width, height = image.size
    return image.crop((width // 100, height // 100, width - width // 100, height - height // 100))


EDITS = {
    "jpeg-60": lambda image: Image.open(io.BytesIO(encoded(image, "JPEG", quality=60))),
    "half-size": lambda image: image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS),
    "cropped": slight_crop,
    "brighter": lambda image: ImageEnhance.Brightness(image).enhance(1.2),
    "darker": lambda image: ImageEnhance.Brightness(image).enhance(0.8),
    "webp": lambda image: Image.open(io.BytesIO(encoded(image, "WEBP", quality=70))),
    # A re-share: downscaled by the app, brightened by a filter, recompressed.
    "reshared": lambda image: EDITS["jpeg-60"](
        ImageEnhance.Brightness(EDITS["half-size"](image)).enhance(1.1)
    ),
}
TURNS = {
    "rotated-90": Image.Transpose.ROTATE_90,
    "rotated-180": Image.Transpose.ROTATE_180,
    "rotated-270": Image.Transpose.ROTATE_270,
    "mirrored": Image.Transpose.FLIP_LEFT_RIGHT,
    "upside-down": Image.Transpose.FLIP_TOP_BOTTOM,
    "transposed": Image.Transpose.TRANSPOSE,
}


@pytest.fixture(scope="module")
def banked():
    return [(image, pdq_of_image(encoded(image))[0]) for image in originals()]


def test_the_hash_is_64_lowercase_hex_digits_in_threatexchange_bit_order():
    data = encoded(picture(7))
    digest, quality = pdq_of_image(data)

    vector, reference_quality = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    bits = "".join(str(bit) for bit in vector)
    assert digest == f"{int(bits, 2):064x}"  # how ThreatExchange's pdq_hasher writes a vector
    assert is_pdq_hex(digest) and digest == digest.lower()
    assert quality == reference_quality and quality >= 50


@pytest.mark.parametrize("edit", EDITS)
def test_an_edited_copy_stays_within_the_match_threshold(banked, edit):
    for image, digest in banked:
        copy = EDITS[edit](image)
        assert hamming(digest, pdq_of_image(encoded(copy.convert("RGB")))[0]) <= MATCH_THRESHOLD, edit


def test_flat_pictures_have_too_little_quality_to_match_on():
    red, blue = Image.new("RGB", (300, 200), (200, 0, 0)), Image.new("RGB", (300, 200), (0, 0, 200))
    (red_hash, red_quality), (blue_hash, blue_quality) = map(pdq_of_image, [encoded(red), encoded(blue)])

    assert red_quality < MIN_USEFUL_QUALITY and blue_quality < MIN_USEFUL_QUALITY
    assert is_pdq_hex(red_hash) and is_pdq_hex(blue_hash)  # a hash still comes back: the caller decides
    assert pdq_of_image(encoded(picture(8)))[1] >= MIN_USEFUL_QUALITY


def test_variants_and_quality_come_from_one_decode():
    data = encoded(picture(9))
    variants, quality = pdq_variants_and_quality(data)
    assert variants == pdq_variants(data) and len(set(variants)) == 8
    assert (variants[0], quality) == pdq_of_image(data)


@pytest.mark.parametrize("turn", TURNS)
def test_a_rotated_or_mirrored_copy_is_found_through_its_variants_only(banked, turn):
    for image, digest in banked:
        copy = encoded(image.transpose(TURNS[turn]))
        variants = pdq_variants(copy)
        assert variants[0] == pdq_of_image(copy)[0]
        # The plain hash is far away (PDQ is not rotation invariant); one of the eight variants is close.
        assert hamming(digest, variants[0]) > 2 * MATCH_THRESHOLD
        assert min(hamming(digest, variant) for variant in variants) <= MATCH_THRESHOLD


def test_each_edited_copy_finds_its_own_original_in_a_bank_of_strangers(banked):
    strangers = [(1000 + seed, pdq_of_image(encoded(picture(seed)))[0]) for seed in range(100, 120)]
    index = HashIndex([(number, digest) for number, (_, digest) in enumerate(banked)] + strangers)
    for number, (image, _) in enumerate(banked):
        for copy in [EDITS["jpeg-60"](image), EDITS["cropped"](image), image.transpose(TURNS["rotated-90"])]:
            hits = index.search_any(pdq_variants(encoded(copy.convert("RGB"))), MATCH_THRESHOLD)
            assert [entry for entry, _ in hits] == [number]


def test_unrelated_pictures_never_match():
    digests = np.array(
        [
            np.frombuffer(bytes.fromhex(pdq_of_image(encoded(picture(seed, (200, 150))))[0]), np.uint8)
            for seed in range(200)
        ]
    )
    bits = np.unpackbits(digests, axis=1).astype(np.int16)
    distances = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    pairs = distances[np.triu_indices(len(digests), k=1)]

    assert len(pairs) == 19_900
    assert pairs.min() > 2 * MATCH_THRESHOLD  # no false positive at 31, nor at twice that
    assert 100 < np.median(pairs) < 156  # unrelated hashes sit near half the bits apart


def test_the_exif_orientation_is_applied_before_hashing():
    upright = picture(11)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the sensor stored the picture on its side
    stored = encoded(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif)

    assert hamming(pdq_of_image(stored)[0], pdq_of_image(encoded(upright))[0]) <= 12


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda image: encoded(image.convert("P", palette=Image.Palette.ADAPTIVE)), id="palette"),
        pytest.param(lambda image: encoded(image.convert("LA")), id="grey-alpha"),
        pytest.param(lambda image: encoded(image.convert("CMYK"), "JPEG", quality=95), id="cmyk-jpeg"),
        pytest.param(lambda image: encoded(image.convert("L"), "JPEG", quality=95), id="grey-jpeg"),
        pytest.param(lambda image: encoded(image, "GIF"), id="gif"),
        pytest.param(lambda image: encoded(image, "WEBP", lossless=True), id="webp-lossless"),
        pytest.param(
            lambda image: encoded(Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)),
            id="16-bit-grey",
        ),
    ],
)
def test_every_mode_our_formats_open_in_hashes_like_the_rgb_picture(make):
    image = picture(12)
    assert hamming(pdq_of_image(make(image))[0], pdq_of_image(encoded(image))[0]) <= 24


def test_transparent_pixels_hash_as_the_white_a_viewer_sees():
    image = picture(13)
    alpha = Image.new("L", image.size, 255)
    ImageDraw.Draw(alpha).rectangle((0, 0, image.width // 2, image.height), fill=0)
    hidden = image.convert("RGBA")
    hidden.putalpha(alpha)  # left half invisible, but its colours are still in the file
    shown = image.copy()
    shown.paste((255, 255, 255), (0, 0, image.width // 2 + 1, image.height))

    assert hamming(pdq_of_image(encoded(hidden))[0], pdq_of_image(encoded(shown))[0]) <= 8


def test_an_animated_gif_is_hashed_by_its_first_frame():
    first, second = picture(14), picture(15)
    data = encoded(first, "GIF", save_all=True, append_images=[second], duration=100)

    assert hamming(pdq_of_image(data)[0], pdq_of_image(encoded(first))[0]) <= 24
    assert hamming(pdq_of_image(data)[0], pdq_of_image(encoded(second))[0]) > 2 * MATCH_THRESHOLD


def test_a_big_picture_is_hashed_like_its_small_copy_and_quickly():
    big = picture(16, (1600, 1200))
    data = encoded(big, "JPEG", quality=90)
    started = time.perf_counter()
    digest, _ = pdq_of_image(data)
    elapsed = time.perf_counter() - started

    assert hamming(digest, pdq_of_image(encoded(big.resize((400, 300))))[0]) <= 16
    assert elapsed < 1.0
    # Hashing at full size (as python-threatexchange does) gives nearly the same bits: banks exchanged with
    # platforms that skip the downscale still match. (Meta's C++ tool also downscales, to 512 x 512.)
    full_size, _ = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    assert hamming(digest, np.packbits(full_size.astype(np.uint8)).tobytes().hex()) <= 16


@pytest.mark.parametrize("size", [(1, 1), (4, 4), (4000, 2)])
def test_a_picture_too_small_to_hash_gets_quality_zero(size):
    digest, quality = pdq_of_image(encoded(Image.new("RGB", size, (90, 20, 200))))
    assert quality == 0 and is_pdq_hex(digest)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_bomb() -> bytes:
    """A 200-byte PNG whose header claims 100,000 x 100,000 pixels."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def _gif_frame_bomb() -> bytes:
    """A 1x1 GIF holding one 60,000 x 60,000 frame: decoders grow the canvas to fit the frame."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 60_000, 60_000, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b"\x3b"


HOSTILE = {
    "garbage": (random.Random(5).randbytes(5000), "not a PNG, JPEG, GIF or WebP"),
    "empty": (b"", "not a PNG, JPEG, GIF or WebP"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not a PNG"),
    "html": (b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>", "not a PNG"),
    "bmp": (encoded(picture(17), "BMP"), "not a PNG, JPEG, GIF or WebP"),
    "truncated-png": (encoded(picture(18))[:3000], "cannot be decoded"),
    "truncated-jpeg": (encoded(picture(19), "JPEG")[:2500], "cannot be decoded"),
    "png-with-bad-crc": (
        encoded(picture(20))[:40] + b"\x00" * 8 + encoded(picture(20))[48:],
        "cannot be decoded",
    ),
    "decompression-bomb": (_png_bomb(), "100000x100000 pixels is over the 40,000,000 limit"),
    "gif-frame-bomb": (_gif_frame_bomb(), "60000x60000 pixels is over the"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bytes_are_refused_quickly_with_a_reason(name, settings):
    settings.MEDIA_MAX_PIXELS = 40_000_000
    data, reason = HOSTILE[name]
    started = time.perf_counter()
    for hasher in (pdq_of_image, pdq_variants):
        with pytest.raises(UnreadableImage, match=reason):
            hasher(data)
    assert time.perf_counter() - started < 0.5


def test_the_pixel_limit_follows_the_media_setting(settings):
    settings.MEDIA_MAX_PIXELS = 10_000
    with pytest.raises(UnreadableImage, match="320x240 pixels is over the 10,000 limit"):
        pdq_of_image(encoded(picture(21)))


def test_text_instead_of_bytes_is_refused():
    with pytest.raises(UnreadableImage, match="bytes"):
        pdq_of_image("iVBORw0KGgo=")


def test_hamming_similarity_and_hex_checks():
    zero, one_bit, all_bits = "0" * 64, "0" * 63 + "1", "f" * 64
    assert hamming(zero, one_bit) == 1
    assert hamming(zero, all_bits) == 256
    assert hamming(all_bits.upper(), all_bits) == 0
    assert similarity(0) == 1.0 and similarity(256) == 0.0 and similarity(32) == 0.875
    assert similarity(-5) == 1.0 and similarity(999) == 0.0
    assert is_pdq_hex(zero) and is_pdq_hex("A" * 64)
    for bad in [
        "0" * 63,
        "0" * 65,
        "g" * 64,
        "0" * 63 + "\n",
        " " + "0" * 63,
        "\u0660" * 64,
        None,
        12,
        b"0" * 64,
    ]:
        assert not is_pdq_hex(bad)
    with pytest.raises(ValueError, match="not a PDQ hash"):
        hamming(zero, "xyz")


def _random_hex(rng: np.random.Generator) -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def _flip(hex_hash: str, bits: int, rng: np.random.Generator) -> str:
    value = int(hex_hash, 16)
    for bit in rng.choice(256, bits, replace=False):
        value ^= 1 << int(bit)
    return f"{value:064x}"


@pytest.fixture(scope="module")
def bank():
    """3,000 random hashes plus, around each of 20 query hashes, planted neighbours 0..50 bits away."""
    rng = np.random.default_rng(42)
    queries = [_random_hex(rng) for _ in range(20)]
    entries = [(entry, _random_hex(rng)) for entry in range(3000)]
    for number, query in enumerate(queries):
        for distance in (0, 1, 5, 15, 30, 31, 32, 33, 40, 50):
            entries.append((10_000 + number * 100 + distance, _flip(query, distance, rng)))
    rng.shuffle(entries)
    return entries, queries


def _brute_force(entries, queries, radius):
    best: dict[int, int] = {}
    for entry, digest in entries:
        distance = min(hamming(digest, query) for query in queries)
        if distance <= radius:
            best[entry] = min(distance, best.get(entry, 257))
    return sorted(best.items(), key=lambda hit: (hit[1], hit[0]))


@pytest.mark.parametrize("radius", [0, 5, 31, 50])
def test_the_index_finds_exactly_what_brute_force_finds(bank, radius):
    entries, queries = bank
    index = HashIndex(entries)
    assert len(index) == len(entries)
    for query in queries:
        assert index.search(query, radius) == _brute_force(entries, [query], radius)
    assert index.search_any(queries[:8], radius) == _brute_force(entries, queries[:8], radius)


def test_the_threshold_is_inclusive_and_hits_come_nearest_first(bank):
    entries, queries = bank
    hits = HashIndex(entries).search(queries[3], 31)
    planted = [(entry, distance) for entry, distance in hits if 10_300 <= entry < 10_400]
    assert planted == [(10_300 + d, d) for d in (0, 1, 5, 15, 30, 31)]
    assert [distance for _, distance in hits] == sorted(distance for _, distance in hits)


def test_search_any_keeps_each_entry_once_with_its_best_distance():
    base = "0" * 64
    index = HashIndex([(7, base), (7, "0" * 62 + "ff"), (8, "f" * 64)])
    assert index.search_any([_flip_known(base, 3), base], 31) == [(7, 0)]
    assert index.search(base, 256, limit=1) == [(7, 0)]


def _flip_known(hex_hash: str, bits: int) -> str:
    return f"{int(hex_hash, 16) ^ ((1 << bits) - 1):064x}"


def test_entries_added_later_are_found_and_a_bad_entry_adds_nothing():
    index = HashIndex()
    assert len(index) == 0 and index.search("0" * 64, 31) == []
    index.add([(1, "0" * 64)])
    with pytest.raises(ValueError, match="entry 3: not a PDQ hash"):
        index.add([(2, "1" * 64), (3, "nope")])
    assert len(index) == 1
    index.add([(2, "0" * 63 + "1")])
    assert index.search("0" * 64, 1) == [(1, 0), (2, 1)]


@pytest.mark.parametrize("distance", [-1, 257, 31.5, "31", True, None])
def test_a_bad_distance_is_refused(distance):
    with pytest.raises(ValueError, match="max_distance"):
        HashIndex([(1, "0" * 64)]).search("0" * 64, distance)


@pytest.mark.parametrize("limit", [-1, 1.5, "2", True])
def test_a_bad_limit_is_refused(limit):
    with pytest.raises(ValueError, match="limit"):
        HashIndex([(1, "0" * 64)]).search("0" * 64, 31, limit=limit)


def test_a_bad_query_hash_is_refused():
    with pytest.raises(ValueError, match="not a PDQ hash"):
        HashIndex([(1, "0" * 64)]).search("0" * 60, 31)


def test_the_benchmark_runs_at_tiny_sizes(capsys):
    spec = importlib.util.spec_from_file_location("bench_pdq", Path(__file__).parents[2] / "bench" / "pdq.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(
        [
            "--hashes",
            "5000",
            "--lookups",
            "50",
            "--images",
            "2",
            "--baseline-lookups",
            "5",
            "--no-multihash",
            "--sides",
            "128",
        ]
    )
    out = capsys.readouterr().out
    assert "p95" in out and "planted neighbours found: 50/50" in out and "brute force" in out
