"""Reported media are copied by a worker through the SSRF-guarded client and served from the app.

The "platform" is pytest-httpserver on loopback (a real HTTP server). Only PNG, JPEG, GIF and WebP are kept,
decided by the bytes; anything else, anything too big, and anything the guard refuses becomes a blocked
placeholder that the agent's browser never loads from the original host.
"""

import struct
import threading
import time
import zlib

import pytest
from werkzeug import Response as WerkzeugResponse

from cases.demo import png_bytes
from cases.detection.media import fetch_case_media, fetch_media_copy, sniff_raster
from cases.models import MediaFile
from cases.selectors import media_url_hash
from moderation.audit import Actor
from moderation.services import issue_vendor_token
from tests import factories

pytestmark = pytest.mark.django_db

PNG = png_bytes(16, 8, (200, 30, 30))
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


@pytest.fixture
def platform(httpserver, settings):
    """The platform's media host, on loopback (so the private-network guard is relaxed, as in `make run`)."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.MEDIA_FETCH_TIMEOUT = 2.0
    return httpserver


def media_url(server, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def huge_png_header(width: int, height: int) -> bytes:
    """A valid PNG start whose header claims `width` by `height`: tiny on the wire, gigapixels when decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\0" * 64


# --- what is kept ---------------------------------------------------------------------------------------


def test_a_png_is_stored_by_its_bytes_whatever_the_server_calls_it(platform):
    platform.expect_request("/pic").respond_with_data(PNG, content_type="text/html")

    copy = fetch_media_copy(media_url(platform, "/pic"))

    assert copy.state == MediaFile.State.STORED
    assert copy.content_type == "image/png"
    assert bytes(MediaFile.objects.get(pk=copy.pk).content) == PNG
    assert copy.size == len(PNG) and len(copy.sha256) == 64


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (SVG, "not a PNG"),
        (b"<html><script>alert(1)</script></html>", "not a PNG"),
        (b"GIF89a", "not a PNG"),  # a header too short to hold a size
        (b"%PDF-1.7 ...", "not a PNG"),
    ],
    ids=["svg-with-script", "html", "truncated-gif", "pdf"],
)
def test_anything_but_a_raster_picture_is_blocked_and_not_kept(platform, body, reason):
    platform.expect_request("/file").respond_with_data(body, content_type="image/png")

    copy = fetch_media_copy(media_url(platform, "/file"))

    assert copy.state == MediaFile.State.BLOCKED
    assert reason in copy.error
    assert bytes(MediaFile.objects.get(pk=copy.pk).content) == b""


def test_a_picture_that_decodes_to_gigapixels_is_blocked(platform, settings):
    settings.MEDIA_MAX_PIXELS = 40_000_000
    platform.expect_request("/bomb.png").respond_with_data(huge_png_header(100_000, 100_000))

    copy = fetch_media_copy(media_url(platform, "/bomb.png"))

    assert copy.state == MediaFile.State.BLOCKED
    assert "100000x100000 pixels" in copy.error


def test_a_file_over_the_size_limit_is_blocked_without_keeping_any_of_it(platform, settings):
    settings.MEDIA_MAX_BYTES = 4096
    platform.expect_request("/big.png").respond_with_data(PNG + b"\0" * 10_000, content_type="image/png")

    copy = fetch_media_copy(media_url(platform, "/big.png"))

    assert copy.state == MediaFile.State.BLOCKED
    assert "larger than 4096 bytes" in copy.error
    assert copy.size == 0


# --- what the guard refuses -----------------------------------------------------------------------------


def test_an_internal_address_is_refused_before_any_request(httpserver, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    httpserver.expect_request("/admin-panel").respond_with_data(PNG)

    copy = fetch_media_copy(media_url(httpserver, "/admin-panel"))

    assert copy.state == MediaFile.State.BLOCKED
    assert "address refused" in copy.error
    assert httpserver.log == []


def test_a_redirect_is_not_followed(platform):
    platform.expect_request("/moved").respond_with_response(
        WerkzeugResponse(status=302, headers={"Location": media_url(platform, "/internal")})
    )
    platform.expect_request("/internal").respond_with_data(PNG)

    copy = fetch_media_copy(media_url(platform, "/moved"))

    assert copy.state == MediaFile.State.BLOCKED
    assert copy.error == "HTTP 302"
    assert [request.path for request, _ in platform.log] == ["/moved"]


def test_a_gone_file_is_blocked_for_good(platform):
    platform.expect_request("/gone").respond_with_data("no", status=404)

    copy = fetch_media_copy(media_url(platform, "/gone"))

    assert (copy.state, copy.error) == (MediaFile.State.BLOCKED, "HTTP 404")


def test_a_server_error_fails_and_the_next_fetch_tries_again(platform):
    platform.expect_oneshot_request("/flaky.png").respond_with_data("busy", status=503)
    platform.expect_oneshot_request("/flaky.png").respond_with_data(PNG)
    url = media_url(platform, "/flaky.png")

    first = fetch_media_copy(url)
    second = fetch_media_copy(url)

    assert first.state == MediaFile.State.FAILED and first.error == "HTTP 503"
    assert second.state == MediaFile.State.STORED
    assert MediaFile.objects.filter(url_hash=media_url_hash(url)).count() == 1


def test_a_slow_server_times_out(platform, settings):
    settings.MEDIA_FETCH_TIMEOUT = 0.5

    release, answered = threading.Event(), threading.Event()

    def slow(request):
        release.wait(10)
        answered.set()
        return WerkzeugResponse(PNG)

    platform.expect_request("/slow.png").respond_with_handler(slow)

    copy = fetch_media_copy(media_url(platform, "/slow.png"))

    assert copy.state == MediaFile.State.FAILED
    assert not answered.is_set()  # gave up while the server was still holding the picture
    release.set()  # let the server finish, so its late log entry does not land in the next test
    deadline = time.monotonic() + 5
    while not platform.log and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_stored_copy_is_never_fetched_again(platform):
    platform.expect_request("/pic.png").respond_with_data(PNG)
    url = media_url(platform, "/pic.png")
    fetch_media_copy(url)

    fetch_media_copy(url)
    fetch_case_media([factories.OpenCaseFactory(subject__media_urls=[url]).pk])

    assert len(platform.log) == 1


# --- from intake to the agent's screen ------------------------------------------------------------------


def test_a_reported_picture_is_copied_by_the_worker_and_served_by_the_app(
    platform, review_setup, client, vendor, django_capture_on_commit_callbacks
):
    platform.expect_request("/u/1.png").respond_with_data(PNG, content_type="image/png")
    platform.expect_request("/u/2.svg").respond_with_data(SVG, content_type="image/svg+xml")
    _, token = issue_vendor_token(vendor=vendor, label="t", actor=Actor.system("test"))
    payload = {
        "external_id": "r-media",
        "reason": "spam",
        "subject": {
            "kind": "media",
            "external_id": "m-1",
            "media_urls": [media_url(platform, "/u/1.png"), media_url(platform, "/u/2.svg")],
        },
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/reports", payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )

    assert response.status_code == 201, response.content
    case_id = response.json()["case_id"]
    stored, blocked = (
        MediaFile.objects.get(url_hash=media_url_hash(media_url(platform, path)))
        for path in ("/u/1.png", "/u/2.svg")
    )
    assert stored.state == MediaFile.State.STORED and blocked.state == MediaFile.State.BLOCKED

    from cases.models import Case

    Case.objects.filter(pk=case_id).update(queue=review_setup.queue)
    client.force_login(review_setup.agent)
    served = client.get(f"/cases/{case_id}/media/0")
    assert served.status_code == 200 and served.content == PNG
    assert served["Content-Type"] == "image/png"
    assert client.get(f"/cases/{case_id}/media/1").status_code == 404
    page = client.get(f"/cases/{case_id}/").content.decode()
    assert "Blocked" in page and "not a PNG" in page
    assert media_url(platform, "/u/1.png") not in page.split("<img", 1)[-1].split(">", 1)[0]


def test_media_fetching_can_be_switched_off(platform, settings, api, django_capture_on_commit_callbacks):
    settings.MEDIA_FETCH = False
    platform.expect_request("/u/1.png").respond_with_data(PNG)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(
            "/api/v1/reports",
            {
                "external_id": "r-off",
                "reason": "spam",
                "subject": {
                    "kind": "media",
                    "external_id": "m-2",
                    "media_urls": [media_url(platform, "/u/1.png")],
                },
            },
            format="json",
        )

    assert response.status_code == 201
    assert callbacks  # the enqueueing ran, and chose not to fetch
    assert platform.log == []
    assert not MediaFile.objects.exists()


# --- sniffing -------------------------------------------------------------------------------------------


def test_sniffing_reads_the_size_of_each_kept_type():
    gif = (
        b"GIF89a"
        + struct.pack("<HHBBB", 320, 200, 0, 0, 0)
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, 320, 200, 0)
        + b"\x02\x02\x4c\x01\x00"
        + b"\x3b"
    )
    jpeg = (
        b"\xff\xd8\xff\xe0"
        + struct.pack(">H", 16)
        + b"JFIF\0"
        + b"\0" * 9
        + b"\xff\xc0"
        + struct.pack(">HBHH", 17, 8, 480, 640)
        + b"\0" * 12
    )
    webp_lossy = b"RIFF" + b"\0" * 4 + b"WEBPVP8 " + b"\0" * 10 + struct.pack("<HH", 800, 600)
    webp_extended = (
        b"RIFF"
        + b"\0" * 4
        + b"WEBPVP8X"
        + b"\0" * 8
        + (1023).to_bytes(3, "little")
        + (767).to_bytes(3, "little")
    )

    assert sniff_raster(PNG) == ("image/png", 16, 8)
    assert sniff_raster(gif) == ("image/gif", 320, 200)
    assert sniff_raster(jpeg) == ("image/jpeg", 640, 480)
    assert sniff_raster(webp_lossy) == ("image/webp", 800, 600)
    assert sniff_raster(webp_extended) == ("image/webp", 1024, 768)
    assert sniff_raster(SVG) is None
    assert sniff_raster(b"\xff\xd8\xff" + b"\x00" * 20) is None  # a JPEG start with no frame header
