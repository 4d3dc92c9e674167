"""Who is on the other end of a request: the peer address, or what a trusted reverse proxy says it saw.

`X-Forwarded-For` is whatever the client wrote, plus one entry per proxy it went through, each appended on the
right. Only entries appended by our own proxies can be believed, so the header is read only when the peer
(`REMOTE_ADDR`) is one of `TRUSTED_PROXIES`, from the right, skipping our proxies, and the first address that is
not one of them is the client. Anything left of it was written by the client and is never read. Entries that
are not IP addresses end the walk: past a garbled entry nothing can be told apart from a forgery.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A long header costs nothing to split from the right: read at most this many hops (no deployment has more).
MAX_HOPS = 16


def client_ip(request: HttpRequest) -> str:
    """The client's address as text (canonical form), or "" when even the peer address is unusable."""
    address = client_address(request)
    return "" if address is None else str(address)


def client_address(request: HttpRequest) -> Address | None:
    peer = parse_address(request.META.get("REMOTE_ADDR", ""))
    if peer is None or not _is_trusted(peer):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    client = peer
    for hop in reversed(forwarded.rsplit(",", MAX_HOPS)[-MAX_HOPS:] if forwarded else []):
        address = parse_address(hop)
        if address is None:
            break
        client = address
        if not _is_trusted(address):
            break
    return client


def throttle_key(address: Address | None) -> str:
    """What one client is counted as for throttling: its IPv4 address, or its IPv6 /64 (one subscriber gets a
    whole /64 and could otherwise step through 2^64 addresses to escape a per-address limit)."""
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def parse_address(text: str) -> Address | None:
    """An IP address, IPv4-mapped IPv6 folded to IPv4 (one host, one spelling); None for anything else."""
    text = text.strip()
    if not text or len(text) > 45:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(values: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """CIDRs (or single addresses). Raises ValueError naming the bad entry (host bits set included)."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip()))
        except ValueError as error:
            raise ValueError(f"{value!r} is not an IP network: {error}") from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted_networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(values)


def _is_trusted(address: Address) -> bool:
    networks = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    return any(address.version == network.version and address in network for network in networks)
