"""The client's address behind trusted reverse proxies (COOPWATT_DASHBOARD_TRUSTED_PROXIES).

A proxy appends the address it received a request from to ``X-Forwarded-For``;
anything to the left of what our own proxies wrote came from the client and can
be forged. So the header is read only when the request itself comes from a
trusted proxy, and then from the right: the first address that is not one of our
proxies is the client. With no trusted proxy configured the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PEER_KEY = "coopwatt.peer_addr"


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.5``, ``172.18.0.0/16``, ``::1``) as networks; ValueError if one is not."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket (::ffff:10.0.0.1) is the IPv4 client.
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer, or the right-most untrusted X-Forwarded-For hop when the peer is trusted."""
    current = _parse(peer)
    if current is None or not trusted or not forwarded_for or not _trusted(current, trusted):
        return peer
    for hop in reversed(forwarded_for.split(",")):
        address = _parse(hop)
        if address is None:
            # Garbage to the left of a trusted hop: the last trusted hop is all we know for sure.
            return str(current)
        current = address
        if not _trusted(address, trusted):
            return str(address)
    # Every hop is one of our proxies: the left-most is as close to the client as we can see.
    return str(current)


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR becomes the client's address (the peer is kept under PEER_KEY)."""

    def __init__(self, app: Callable[..., Any], trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Rewrite the address, then hand the request on."""
        peer = environ.get("REMOTE_ADDR") or ""
        environ[PEER_KEY] = peer
        environ["REMOTE_ADDR"] = client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.trusted)
        scheme = forwarded_scheme(peer, environ.get("HTTP_X_FORWARDED_PROTO"), self.trusted)
        if scheme is not None:
            environ["wsgi.url_scheme"] = scheme
        return self.app(environ, start_response)


def forwarded_scheme(peer: str, forwarded_proto: str | None, trusted: tuple[Network, ...]) -> str | None:
    """The scheme the client used (http or https) as our proxy says, or None when there is no trusted word on it."""
    address = _parse(peer)
    if address is None or not forwarded_proto or not _trusted(address, trusted):
        return None
    # Our proxy's value is the last one (a client's own header would come first).
    scheme = forwarded_proto.split(",")[-1].strip().lower()
    return scheme if scheme in ("http", "https") else None
