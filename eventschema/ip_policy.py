"""FOOTFALL_IP_POLICY: what of a visitor's IP address is kept (`context.ip`).

`truncate` (default) keeps the network, not the host: IPv4 /24 (203.0.113.77 -> 203.0.113.0),
IPv6 /48; an IPv4-mapped IPv6 address is treated as the IPv4 address it carries. `full` keeps
it (written canonically), `drop` removes it. Under every policy a value that is not an IP
address is removed: it may be a full address in a notation we do not read.
"""

import ipaddress
from functools import lru_cache

TRUNCATE, FULL, DROP = "truncate", "full", "drop"
POLICIES = (TRUNCATE, FULL, DROP)
_PREFIX = {4: 24, 6: 48}


def parse_policy(text: str) -> str:
    """The policy named by FOOTFALL_IP_POLICY; ValueError naming the choices."""
    value = text.strip().lower() or TRUNCATE
    if value not in POLICIES:
        raise ValueError(f"FOOTFALL_IP_POLICY={text!r}: use one of {', '.join(POLICIES)}")
    return value


def kept_ip(value: object, policy: str) -> str | None:
    """What is stored of `value` under `policy`; None: store nothing."""
    if policy == DROP or not isinstance(value, str):
        return None
    return _kept(value, policy == TRUNCATE)


# A client's requests, and the events of one batch, share an address: parse each once.
@lru_cache(maxsize=8192)
def _kept(text: str, truncate: bool) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if not truncate:
        return str(address)
    network = ipaddress.ip_network((address.packed, _PREFIX[address.version]), strict=False)
    return str(network.network_address)
