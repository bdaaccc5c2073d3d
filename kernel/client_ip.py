"""The address a request really came from, for rate limits and logs.

X-Forwarded-For is written by whoever sends the request, so a client can put anything in
it. It is believed only when the request reaches us straight from one of TRUSTED_PROXIES
(settings, IPs or CIDRs); then the header is read from the right, skipping our own proxies,
and the first address that is not one of them is the client. Everything left of that was
written by the client and is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    # strict=False: "10.0.0.1/8" means the network it lies in, as an operator would expect.
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # An IPv4 client reaching a dual-stack proxy shows up as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The client's IP address as a string.

    REMOTE_ADDR unless it is a trusted proxy; then the right-most X-Forwarded-For entry that
    is not a trusted proxy (or, if every entry is one, the left-most of them). An unparsable
    entry stops the walk there: the proxy next to it is the last one we can vouch for."""
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    remote_address = _parse(remote)
    if remote_address is None or not networks or not _trusted(remote_address, networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    candidate = remote_address
    for entry in reversed([e for e in forwarded.split(",") if e.strip()]):
        address = _parse(entry)
        if address is None:
            break
        candidate = address
        if not _trusted(address, networks):
            break
    return str(candidate)
