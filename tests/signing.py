"""How a vendor signs an API request (docs/api.md, "Signed requests"), written from the docs as a vendor would,
not from the server's code, so the two are checked against each other."""

import hashlib
import hmac
import time


def signed_headers(
    secret: str, method: str, url: str, body: bytes = b"", *, timestamp: int | None = None
) -> dict:
    """`url` is the path with its query string, as in the request line (e.g. "/api/v1/reports?dry=1")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    path, _, query = url.partition("?")
    message = f"{timestamp}\n{method.upper()}\n{path}\n{query}\n".encode() + body
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"X-Timestamp": str(timestamp), "X-Signature": f"v2={signature}"}


def as_meta(headers: dict) -> dict:
    """The same headers as Django test-client keyword arguments."""
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
