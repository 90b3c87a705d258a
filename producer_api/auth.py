"""Who is calling, in one step: the write key is read once from where it travels and checked.

A key travels as the HTTP Basic username (empty password, what Segment's SDKs send), as
`Authorization: Bearer` (server keys), or as `writeKey` in the JSON body (the browser tracker).
A header key is checked before the body is read, so a refused caller costs no body; only a
request without one has its body read to find the key.

Keys are public browser keys (with allowed origins) and secret server keys. `Gate.admit` (and
`Gate.admit_header` for routes whose key can only be in a header) returns the `Principal`: the
key's kind, a name safe to log (a browser key is public; a server key is named by a prefix of
its SHA-256 digest, never by the secret) and what the key may not send. It raises ApiError
401/403 (and 429 from the key's rate limit), and records the principal on the request for the
CORS headers (`principal_of`).
"""

import binascii
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request

from eventschema.entry import BROWSER_KEY, SERVER_KEY
from producer_api.body import JsonBody
from producer_api.errors import ApiError
from producer_api.ratelimit import RateLimiter

KeyKind = Literal["browser", "server"]
ANY_ORIGIN = "*"


@dataclass(frozen=True)
class Principal:
    kind: KeyKind
    name: str
    origins: frozenset[str] = frozenset()  # browser keys: the pages that may use the key
    # Canonical event names (eventschema.event_names) the key may not send: a browser key is
    # public, so it must not be able to forge the conversions uploaded to ad platforms.
    refused_events: frozenset[str] = frozenset()

    @property
    def entry(self) -> str:
        """Which kind of key sent an event (eventschema.entry): trust travels with the event."""
        return BROWSER_KEY if self.kind == "browser" else SERVER_KEY

    def allows_origin(self, origin: str) -> bool:
        return ANY_ORIGIN in self.origins or normalize_origin(origin) in self.origins


def normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """The configured keys. Server secrets are kept only as SHA-256 digests."""

    def __init__(
        self,
        browser_keys: Mapping[str, Iterable[str]],
        server_secrets: Iterable[str],
        browser_refused_events: frozenset[str] = frozenset(),
    ) -> None:
        self._browser = {
            key: Principal(
                "browser",
                key,
                frozenset(normalize_origin(o) for o in origins),
                browser_refused_events,
            )
            for key, origins in browser_keys.items()
        }
        self._server = [_digest(secret) for secret in server_secrets if secret]
        for key in self._browser:
            if any(hmac.compare_digest(_digest(key), d) for d in self._server):
                raise ValueError(f"browser key {key!r} is also configured as a server key")

    def lookup(self, presented: str) -> Principal | None:
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
        return Principal("server", f"server:{matched.hex()[:12]}")

    def origin_allowed_by_any(self, origin: str) -> bool:
        return any(key.allows_origin(origin) for key in self._browser.values())


class Gate:
    """Authentication and the per-key rate limit of every write route."""

    def __init__(self, keyring: KeyRing, limiter: RateLimiter) -> None:
        self.keyring = keyring
        self._limiter = limiter

    async def admit(
        self,
        request: Request,
        require_server: bool,
        read_body: Callable[[], Awaitable[JsonBody]],
    ) -> tuple[Principal, JsonBody]:
        """The caller and the body, which is read only after a header key was accepted."""
        presented = _header_key(request)
        if presented is not None:  # refuse before reading a body we will not accept
            principal = self._check(request, presented, require_server)
            return principal, await read_body()
        body = await read_body()  # the tracker's key is in the body: known only now
        return self._check(request, _body_key(body.payload), require_server), body

    def admit_header(self, request: Request, require_server: bool) -> Principal:
        """The caller of a route whose key travels only in the Authorization header."""
        return self._check(request, _header_key(request), require_server)

    def _check(self, request: Request, presented: str | None, require_server: bool) -> Principal:
        if not presented:
            raise ApiError(401, "missing_write_key", "send the write key as Basic auth or writeKey")
        principal = self.keyring.lookup(presented)
        if principal is None:
            raise ApiError(401, "invalid_write_key", "unknown write key")
        request.state.principal = principal  # before the checks: CORS follows this key's origins
        _check_kind(principal, request.headers.get("origin"), require_server)
        self._limiter.check_key(principal.name)
        return principal


def principal_of(request: Request) -> Principal | None:
    """The caller, once `Gate` found who it is (CORS headers are answered for its origins)."""
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else None


def _check_kind(principal: Principal, origin: str | None, require_server: bool) -> None:
    if principal.kind == "server":
        if origin is not None:  # a secret sent by a browser is already leaked: refuse it
            raise ApiError(
                403, "server_key_from_browser", "server keys are secret: use a browser key here"
            )
        return
    if origin is not None and not principal.allows_origin(origin):
        raise ApiError(403, "origin_not_allowed", f"origin {origin!r} not allowed for this key")
    if require_server:
        raise ApiError(403, "server_key_required", "this endpoint needs a server key")


def _header_key(request: Request) -> str | None:
    """The key from the Authorization header, if any (readable before the body)."""
    has_query = bool(request.scope.get("query_string"))  # parsing none costs a third of this
    if has_query and "writekey" in (name.lower() for name in request.query_params):
        # URLs end up in logs and referrers: a key there is as good as published.
        raise ApiError(401, "key_in_query", "send the write key in a header or the body")
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return credentials.strip() or None
    if scheme != "basic" or not credentials:
        return None
    try:
        # strict_mode: what b64decode(validate=True) accepts, without its regex per request.
        decoded = binascii.a2b_base64(credentials.strip(), strict_mode=True).decode("utf-8")
    except ValueError:  # not base64, not ASCII (a header may hold any byte), not UTF-8
        raise ApiError(
            401, "invalid_write_key", "Authorization header is not valid Basic"
        ) from None
    return decoded.partition(":")[0] or None


def _body_key(payload: Any) -> str | None:
    body_key = payload.get("writeKey") if isinstance(payload, dict) else None
    return body_key if isinstance(body_key, str) and body_key else None
