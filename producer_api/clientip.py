"""The client's IP: the connection's peer, or, only when the peer is a trusted proxy, the
nearest untrusted address in the proxy header.

X-Forwarded-For is written by whoever sent the request, so its left end is whatever the client
chose. Walking right to left and skipping our own proxies stops at the first address that none
of them vouch for: the one the outermost trusted proxy saw connect.
"""

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, 192.168.1.7` -> networks (a bare address is a /32 or /128)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


@dataclass(frozen=True)
class ClientIpResolver:
    trusted_proxies: Sequence[IPNetwork] = ()
    header: str = "x-forwarded-for"

    def resolve(self, request: Request) -> str | None:
        peer = request.client.host if request.client else None
        if not self.trusted_proxies:  # the default: the peer is the client, nothing to parse
            return peer
        peer_ip = _parse(peer) if peer else None
        if peer_ip is None or not self._trusted(peer_ip):
            return peer
        values = request.headers.getlist(self.header)
        hops = [hop.strip() for value in values for hop in value.split(",")]
        nearest = peer_ip
        for hop in reversed(hops):
            hop_ip = _parse(hop)
            if hop_ip is None:  # garbage in the chain: trust nothing further left
                break
            nearest = hop_ip
            if not self._trusted(hop_ip):
                break
        return str(nearest)

    def _trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self.trusted_proxies)


def _parse(text: str) -> IPAddress | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # [v6]:port
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client seen through a dual-stack socket: compare and report it as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address
