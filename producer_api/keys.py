"""Write keys and their kinds: public browser keys (with allowed origins) and secret server keys.

Public interface (other routes use it):
- `WriteKey(kind, name, origins)`: who is calling. `name` is safe to log (a browser key is public;
  a server key is named by a prefix of its SHA-256 digest, never by the secret).
- `authenticate(request, payload=None, require_server=False) -> WriteKey`: raise ApiError 401/403
  or return the key; records it on `request.state.write_key` (CORS headers read it).
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request

from producer_api.auth import request_key
from producer_api.errors import ApiError

KeyKind = Literal["browser", "server"]
ANY_ORIGIN = "*"


@dataclass(frozen=True)
class WriteKey:
    kind: KeyKind
    name: str
    origins: frozenset[str] = frozenset()

    def allows_origin(self, origin: str) -> bool:
        return ANY_ORIGIN in self.origins or normalize_origin(origin) in self.origins


def normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """The configured keys. Server secrets are kept only as SHA-256 digests."""

    def __init__(
        self, browser_keys: Mapping[str, Iterable[str]], server_secrets: Iterable[str]
    ) -> None:
        self._browser = {
            key: WriteKey("browser", key, frozenset(normalize_origin(o) for o in origins))
            for key, origins in browser_keys.items()
        }
        self._server = [_digest(secret) for secret in server_secrets if secret]
        for key in self._browser:
            if any(hmac.compare_digest(_digest(key), d) for d in self._server):
                raise ValueError(f"browser key {key!r} is also configured as a server key")

    def lookup(self, presented: str) -> WriteKey | None:
        browser = self._browser.get(presented)  # public keys: a dict lookup leaks nothing
        if browser is not None:
            return browser
        digest = _digest(presented)
        # Compare with every digest so timing does not tell which (or whether one) matched.
        matched: bytes | None = None
        for candidate in self._server:
            if hmac.compare_digest(digest, candidate):
                matched = candidate
        if matched is None:
            return None
        return WriteKey("server", f"server:{matched.hex()[:12]}")

    def origin_allowed_by_any(self, origin: str) -> bool:
        return any(key.allows_origin(origin) for key in self._browser.values())


def authenticate(request: Request, payload: Any = None, require_server: bool = False) -> WriteKey:
    """The request's write key, checked against its kind and the request's Origin."""
    keyring: KeyRing = request.app.state.keyring
    presented = request_key(request, payload)
    if not presented:
        raise ApiError(401, "missing_write_key", "send the write key as Basic auth or writeKey")
    key = keyring.lookup(presented)
    if key is None:
        raise ApiError(401, "invalid_write_key", "unknown write key")
    request.state.write_key = key  # before the checks: CORS headers follow this key's origins
    origin = request.headers.get("origin")
    if key.kind == "server":
        if origin is not None:  # a secret sent by a browser is already leaked: refuse it
            raise ApiError(
                403, "server_key_from_browser", "server keys are secret: use a browser key here"
            )
    else:
        if origin is not None and not key.allows_origin(origin):
            raise ApiError(403, "origin_not_allowed", f"origin {origin!r} not allowed for this key")
        if require_server:
            raise ApiError(403, "server_key_required", "this endpoint needs a server key")
    return key
