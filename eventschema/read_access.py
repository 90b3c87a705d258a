"""Who may read: read keys and the Host allow-list, shared by every read server (the sink's
/query, the analytics API and dashboard).

Read keys are separate from write keys and, like them, kept only as SHA-256 digests. They come
from FOOTFALL_READ_KEYS: comma-separated entries, each a key or `sha256:<64 hex digits>` (so a
deployment can configure digests and never hold the secret). A key is presented as
`Authorization: Bearer <key>` or as the HTTP Basic username (what BI tools send). With no read
key configured every keyed request is refused: the read side fails closed.

The Host header is checked against FOOTFALL_ALLOWED_HOSTS (comma-separated host names, `*` for
any; default the loopback names): a page on an attacker's domain that re-binds its DNS name to
127.0.0.1 reaches our port with its own name as Host and is refused (DNS rebinding).
"""

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DIGEST_PREFIX = "sha256:"
DEFAULT_ALLOWED_HOSTS = ("127.0.0.1", "localhost", "::1")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def digest_entry(key: str) -> str:
    """The `sha256:<hex>` form of a key, for configuration that must not hold the secret."""
    return DIGEST_PREFIX + key_digest(key).hex()


class ReadKeys:
    """The configured read keys, as digests; `check` compares with every one in constant time."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._digests: list[bytes] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if entry.startswith(DIGEST_PREFIX):
                hexpart = entry[len(DIGEST_PREFIX) :].lower()
                if not _HEX64.match(hexpart):
                    raise ValueError("a sha256: read key entry needs 64 hex digits")
                self._digests.append(bytes.fromhex(hexpart))
            else:
                self._digests.append(key_digest(entry))

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, name: str = "FOOTFALL_READ_KEYS"
    ) -> "ReadKeys":
        return cls((environ.get(name) or "").split(","))

    def __bool__(self) -> bool:
        return bool(self._digests)

    def check(self, presented: str | None) -> bool:
        if not presented:
            return False
        digest = key_digest(presented)
        matched = False
        for candidate in self._digests:  # no early exit: timing does not tell which matched
            matched |= hmac.compare_digest(digest, candidate)
        return matched


def presented_key(authorization: str | None) -> str | None:
    """The key in an Authorization header: Bearer, or the Basic username (password ignored)."""
    scheme, _, credentials = (authorization or "").partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme == "bearer":
        return credentials or None
    if scheme != "basic" or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except ValueError:  # not base64, not ASCII (a header may hold any byte), not UTF-8
        return None
    return decoded.partition(":")[0] or None


@dataclass(frozen=True)
class AllowedHosts:
    names: frozenset[str]

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, name: str = "FOOTFALL_ALLOWED_HOSTS"
    ) -> "AllowedHosts":
        raw = environ.get(name)
        entries = raw.split(",") if raw else DEFAULT_ALLOWED_HOSTS
        return cls(frozenset(e.strip().lower().strip("[]") for e in entries if e.strip()))

    def allows(self, host_header: str | None) -> bool:
        if "*" in self.names:
            return True
        if not host_header:
            return False
        return host_name(host_header) in self.names


def host_name(host_header: str) -> str:
    """`example.com:8080` -> `example.com`; `[::1]:8125` -> `::1`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
