"""Vendor API tokens: random, shown once, stored as SHA-256."""

import hashlib
import secrets

TOKEN_PREFIX = "mrv_"  # noqa: S105 - a public prefix, not a secret


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # A fast hash is right here: the token has 256 bits of entropy, so it cannot be brute-forced offline,
    # and a slow KDF would add milliseconds to every API call.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
