"""The one way this application makes outbound HTTP calls (scorers, context providers, webhooks).

Guards, because URLs here are admin-configured and responses come from systems we do not control:
- SSRF: only http(s); the host is resolved once and every address must be public (no loopback, private,
  link-local — which includes cloud metadata at 169.254.169.254 —, multicast, reserved or unspecified), unless
  `OUTBOUND_ALLOW_PRIVATE_NETWORKS` is on (tests, the demo). The connection goes to the vetted address, so a
  DNS answer that changes between check and connect (rebinding) cannot redirect it. Redirects are not followed.
- Size: the body is read in chunks and refused past `max_bytes`.
- Time: connect and read timeouts, and a deadline on the whole exchange.
"""

import contextlib
import http.client
import ipaddress
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection

DNS_TIMEOUT_SECONDS = 3.0
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dns")


class OutboundError(Exception):
    """The call failed; `retryable` says whether trying again later may help."""

    retryable = True


class BlockedDestination(OutboundError):
    retryable = False


class ResponseTooLarge(OutboundError):
    retryable = False


class MalformedResponse(OutboundError):
    retryable = False


class OutboundTimeout(OutboundError):
    pass


class BadStatus(OutboundError):
    def __init__(self, status: int, body: bytes = b""):
        super().__init__(f"HTTP {status}")
        self.status = status
        # What the peer said (capped like any response): some APIs explain a refusal, e.g. a 422's errors.
        self.body = body
        # 4xx (except 408/429) means our request or configuration is wrong: retrying will not help.
        self.retryable = status >= 500 or status in (408, 429)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise MalformedResponse(f"response is not JSON: {str(exc)[:200]}") from None


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (
        isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    ):  # deprecated fec0::/10, still routable inside
        return False
    return ip.is_global and not (
        ip.is_private or ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback
    )


def resolve_destination(url: str, *, allow_private: bool | None = None) -> tuple[str, str, int, str]:
    """(scheme, host, port, vetted ip) for `url`, or BlockedDestination saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedDestination(f"scheme {parts.scheme!r} is not allowed (http, https)")
    if parts.username or parts.password:
        raise BlockedDestination("credentials in the URL are not allowed")
    host = parts.hostname
    if not host:
        raise BlockedDestination("URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BlockedDestination("URL has an invalid port") from None
    try:
        # The system resolver has no timeout of its own: wait for it at most DNS_TIMEOUT_SECONDS.
        infos = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM).result(
            DNS_TIMEOUT_SECONDS
        )
    except FuturesTimeout:
        raise OutboundTimeout(f"resolving {host!r} took over {DNS_TIMEOUT_SECONDS:g}s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError(f"cannot resolve {host!r}: {exc}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise OutboundError(f"{host!r} resolves to no address")
    if allow_private is None:
        allow_private = settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS
    if not allow_private:
        # Every address must be public: otherwise a host with one public and one internal record could be
        # steered at the internal one.
        for address in addresses:
            if not is_public_address(address):
                raise BlockedDestination(f"{host!r} resolves to non-public address {address}")
    return parts.scheme, host, port, addresses[0]


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    data: bytes | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
    allow_private: bool | None = None,
) -> Response:
    """One HTTP exchange under the guards above. Raises OutboundError (or a subclass) on any failure.

    `json_body` is serialised here; `data` sends exact bytes (a signed webhook body must be sent as signed).
    """
    timeout = min(float(timeout or settings.OUTBOUND_DEFAULT_TIMEOUT), 60.0)
    max_bytes = max_bytes or settings.OUTBOUND_MAX_RESPONSE_BYTES
    scheme, host, port, address = resolve_destination(url, allow_private=allow_private)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    send_headers = {"User-Agent": "moderation-review/1.0", "Accept": "application/json"}
    send_headers.update(headers or {})
    host_header = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    send_headers["Host"] = host_header if port in (80, 443) else f"{host_header}:{port}"
    body = data
    if json_body is not None:
        body = json.dumps(json_body).encode()
        send_headers["Content-Type"] = "application/json"

    deadline = time.monotonic() + timeout
    if scheme == "https":
        connection = HTTPSConnection(
            address, port, timeout=timeout, server_hostname=host, assert_hostname=host
        )
    else:
        connection = HTTPConnection(address, port, timeout=timeout)
    # The socket timeout bounds each wait; the watchdog bounds the whole exchange, however the peer paces it
    # (headers or body dripped a byte at a time): at the deadline it shuts the socket, which ends any read.
    watchdog = threading.Timer(timeout, _shut, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(method, path, body=body, headers=send_headers, preload_content=False)
        response = connection.getresponse()
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(f"response declares {declared} bytes (limit {max_bytes})")
        chunks, size = [], 0
        while True:
            # read1: whatever one socket read returns, so the size check runs after every read.
            chunk = response.read1(16 * 1024, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(f"response is over {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise OutboundTimeout(f"response took over {timeout:g}s")
            chunks.append(chunk)
    except OutboundError:
        raise
    except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
        # urllib3 2.x's NewConnectionError subclasses its timeout error: a refused or unreachable host is
        # not a timeout, and leads reading the error should be told so.
        if isinstance(exc, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError)):
            reason = exc.__cause__ or exc.__context__ or exc
            raise OutboundError(f"connection refused or unreachable: {str(reason)[:200]}") from None
        if time.monotonic() >= deadline or isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError)):
            raise OutboundTimeout(f"no complete answer within {timeout:g}s") from None
        raise OutboundError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    finally:
        watchdog.cancel()
        connection.close()
    if response.status >= 300:
        # 3xx included: redirects are not followed (the target could be internal).
        raise BadStatus(response.status, body=b"".join(chunks))
    return Response(status=response.status, body=b"".join(chunks))
