"""Copies of reported media, fetched by a worker so agents' browsers never contact the original host.

Everything about a reported URL is hostile: the host may be internal (SSRF), the file may be huge, lie about
its type, be an SVG or HTML page with script in it, or a tiny PNG that decodes to gigapixels and freezes the
agent's browser. So the fetch goes through `moderation.outbound` (public addresses only, pinned connection,
no redirects, size and time caps), the type is decided by the bytes (never by the server's Content-Type),
only PNG, JPEG, GIF and WebP are kept, and pictures beyond `MEDIA_MAX_PIXELS` are refused. Anything refused
is recorded as `blocked` with the reason, and the case page shows a placeholder instead.
"""

import hashlib
import logging
import struct
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import Case, MediaFile
from cases.selectors import media_url_hash
from moderation import outbound

logger = logging.getLogger(__name__)

MAX_MEDIA_PER_SUBJECT = 20  # the case page shows at most this many


class Raster(NamedTuple):
    content_type: str
    width: int
    height: int


def sniff_raster(data: bytes) -> Raster | None:
    """The image type and size from the file's own header, or None if it is not a raster type we keep."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return Raster("image/png", width, height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 13:
        size = _gif_size(data)
        return Raster("image/gif", *size) if size else None
    if data.startswith(b"\xff\xd8\xff"):
        size = _jpeg_size(data)
        return Raster("image/jpeg", *size) if size else None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        size = _webp_size(data)
        return Raster("image/webp", *size) if size else None
    return None


MAX_GIF_FRAMES = 1000


def _gif_size(data: bytes) -> tuple[int, int] | None:
    """The area a browser decodes: the logical screen grown to cover every frame (decoders enlarge the canvas
    to fit a frame bigger than the screen, so a 1x1 GIF can hold a 65535x65535 frame). None when the file is
    not a well-formed GIF or has more than MAX_GIF_FRAMES frames (each is decoded: a frame bomb)."""
    width, height, packed = struct.unpack("<HHB", data[6:11])
    index = 13 + (3 << ((packed & 0x07) + 1) if packed & 0x80 else 0)
    frames = 0
    while index < len(data):
        block = data[index]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then data sub-blocks
            index = _skip_sub_blocks(data, index + 2)
        elif block == 0x2C:  # image descriptor
            if index + 10 > len(data):
                return None
            left, top, frame_width, frame_height, frame_packed = struct.unpack(
                "<HHHHB", data[index + 1 : index + 10]
            )
            frames += 1
            if frames > MAX_GIF_FRAMES:
                return None
            width, height = max(width, left + frame_width), max(height, top + frame_height)
            index += 10
            if frame_packed & 0x80:
                index += 3 << ((frame_packed & 0x07) + 1)
            index = _skip_sub_blocks(data, index + 1)  # after the LZW minimum code size
        else:
            return None
        if index < 0:
            return None
    return (width, height) if frames else None


def _skip_sub_blocks(data: bytes, index: int) -> int:
    """Index after a chain of length-prefixed sub-blocks ending in a zero length; -1 if it runs off the end."""
    while index < len(data):
        length = data[index]
        index += 1 + length
        if length == 0:
            return index
    return -1


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame marker, which holds the picture's size."""
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            index += 2
            continue
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        if length < 2:
            return None
        index += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


REFETCHED_STATES = (MediaFile.State.FAILED, MediaFile.State.PURGED)


def fetch_media_copy(url: str) -> MediaFile:
    """The stored copy of `url`, fetching it once. Idempotent: a stored or blocked copy is returned as it is;
    a failed one (timeout, 5xx) is tried again, and so is one retention purged (reported again since)."""
    url_hash = media_url_hash(url)
    existing = MediaFile.objects.defer("content").filter(url_hash=url_hash).first()
    if existing is not None and existing.state not in REFETCHED_STATES:
        return existing
    state, content, raster, error = _download(url)
    fields = {
        "url": url[:2048],
        "state": state,
        "content": content if state == MediaFile.State.STORED else b"",
        "content_type": raster.content_type if raster else "",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest() if content else "",
        "md5": hashlib.md5(content, usedforsecurity=False).hexdigest() if content else "",
        "error": error[:300],
        "fetched_at": timezone.now(),
    }
    try:
        with transaction.atomic():
            copy, _ = MediaFile.objects.update_or_create(url_hash=url_hash, defaults=fields)
    except IntegrityError:  # another worker stored it first: theirs is as good
        copy = MediaFile.objects.defer("content").get(url_hash=url_hash)
    return copy


def _download(url: str) -> tuple[str, bytes, Raster | None, str]:
    try:
        response = outbound.request(
            "GET",
            url,
            headers={"Accept": "image/png, image/jpeg, image/gif, image/webp"},
            timeout=settings.MEDIA_FETCH_TIMEOUT,
            max_bytes=settings.MEDIA_MAX_BYTES,
        )
    except outbound.BlockedDestination as exc:
        return MediaFile.State.BLOCKED, b"", None, f"address refused: {exc}"
    except outbound.ResponseTooLarge:
        return MediaFile.State.BLOCKED, b"", None, f"larger than {settings.MEDIA_MAX_BYTES} bytes"
    except outbound.BadStatus as exc:
        # 4xx: the platform took it down or never had it; no point asking again. 5xx: try again later.
        state = MediaFile.State.FAILED if exc.retryable else MediaFile.State.BLOCKED
        return state, b"", None, f"HTTP {exc.status}"
    except outbound.OutboundError as exc:
        return MediaFile.State.FAILED, b"", None, str(exc) or type(exc).__name__
    body = response.body  # a 2xx: `outbound.request` raises BadStatus for anything else
    raster = sniff_raster(body)
    if raster is None:
        return MediaFile.State.BLOCKED, b"", None, "not a PNG, JPEG, GIF or WebP picture"
    if raster.width * raster.height > settings.MEDIA_MAX_PIXELS or not raster.width or not raster.height:
        return (
            MediaFile.State.BLOCKED,
            b"",
            raster,
            f"{raster.width}x{raster.height} pixels is over the {settings.MEDIA_MAX_PIXELS:,} limit",
        )
    return MediaFile.State.STORED, body, raster, ""


def fetch_case_media(case_ids: list[int]) -> int:
    """Fetch the missing copies of these cases' media (at most MAX_MEDIA_PER_SUBJECT each); returns how many
    URLs were fetched (stored, blocked or failed)."""
    urls: list[str] = []
    restricted: set[str] = set()
    for media_urls, is_restricted in Case.objects.filter(pk__in=case_ids).values_list(
        "subject__media_urls", "is_restricted"
    ):
        some = [str(url) for url in (media_urls or [])[:MAX_MEDIA_PER_SUBJECT]]
        urls.extend(some)
        if is_restricted:
            restricted.update(media_url_hash(url) for url in some)
    hashes = {media_url_hash(url): url for url in urls}
    settled = set(
        MediaFile.objects.filter(url_hash__in=hashes)
        .exclude(state__in=REFETCHED_STATES)
        .values_list("url_hash", flat=True)
    )
    fetched = 0
    for url_hash, url in hashes.items():
        if url_hash in settled:
            continue
        copy = fetch_media_copy(url)
        fetched += 1
        if copy.state != MediaFile.State.STORED:
            logger.info("media %s not stored: %s (%s)", url_hash[:12], copy.state, copy.error)
    if restricted:
        MediaFile.objects.filter(url_hash__in=restricted, is_restricted=False).update(is_restricted=True)
    return fetched
