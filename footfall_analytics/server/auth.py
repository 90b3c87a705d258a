"""Who may read the analytics server, checked for every request before any route runs (Guard):

* Host must be allowed (DNS rebinding): 403 host_not_allowed. /healthz is exempt (the runner
  probes it on loopback whatever the public names are) and says nothing secret.
* A state-changing request (POST ...) must come from our own origin when it names one (Origin,
  or Sec-Fetch-Site for browsers that omit it): 403 origin_not_allowed. So a cross-site form,
  even a text/plain one carrying a cookie or cached Basic credentials, is refused unread.
* /api/*: a read key (Bearer or Basic username; FOOTFALL_READ_KEYS or the local key file),
  or a share link's token (X-Share-Token, for its one view), or a dashboard session cookie plus
  X-CSRF-Token on state-changing requests.
  401 login_required / invalid_read_key / invalid_share_link, 403 share_scope / csrf_failed.
* / (the dashboard) needs a session; without one it redirects to /login.
/login, /logout, /s/<token> and /static/ check what they need themselves."""

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from eventschema.read_access import AllowedHosts, ReadKeys, presented_key
from eventschema.read_key_file import local_read_key
from footfall_analytics.server import keyfiles
from footfall_analytics.server.ratelimit import LoginLimiter
from footfall_analytics.server.sessions import Session, Sessions
from footfall_analytics.server.settings import ServerSettings
from footfall_analytics.server.share import SharedView, ShareLinks
from footfall_analytics.server.users import UserStore

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class AuthConfig:
    read_keys: ReadKeys
    allowed_hosts: AllowedHosts
    users: UserStore
    secret: str
    https_only: bool = False
    session_max_age: int = 12 * 3600
    limiter: LoginLimiter = field(default_factory=LoginLimiter)

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ValueError("the session secret needs at least 16 characters")
        self.sessions = Sessions(self.secret, self.users, self.session_max_age, self.https_only)
        self.shares = ShareLinks(self.secret)

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> "AuthConfig":
        return cls(
            read_keys=local_and_configured_keys(settings.read_keys, settings.data_dir),
            allowed_hosts=settings.allowed_hosts,
            users=UserStore(keyfiles.users_file(settings.data_dir, settings.users_file)),
            secret=keyfiles.session_secret(settings.data_dir, settings.session_secret),
            https_only=settings.https_only,
        )

    @classmethod
    def from_env(cls) -> "AuthConfig":
        return cls.from_settings(ServerSettings.load())


@dataclass(frozen=True)
class Principal:
    kind: Literal["key", "share", "session"]
    session: Session | None = None
    view: SharedView | None = None

    @property
    def name(self) -> str:
        return self.session.user if self.session else "read key"


def local_and_configured_keys(configured: str, data_dir: Path) -> ReadKeys:
    """FOOTFALL_READ_KEYS plus the key `footfall up` keeps in the data dir, as the sink does."""
    entries = configured.split(",")
    local = local_read_key(data_dir)
    return ReadKeys([*entries, *([local] if local else [])])


def refusal(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="footfall"'} if status == 401 else None
    return JSONResponse({"code": code, "message": message, "parameter": None}, status, headers)


def own_origin(request: Request, https_only: bool) -> set[str]:
    host = request.headers.get("host", "").lower()
    return {f"{request.url.scheme}://{host}", *([f"https://{host}"] if https_only else [])}


def origin_ok(request: Request, https_only: bool) -> bool:
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower().rstrip("/") in own_origin(request, https_only)
    # No Origin: a non-browser client, or an old browser; trust Fetch Metadata when it is sent.
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def api_access(request: Request, auth: AuthConfig) -> Principal | Response:
    if "authorization" in request.headers:
        if auth.read_keys.check(presented_key(request.headers["authorization"])):
            return Principal("key")
        return refusal(401, "invalid_read_key", "the read key is not valid")
    token = request.headers.get("x-share-token")
    if token is not None:
        view = auth.shares.load(token)
        if view is None:
            return refusal(401, "invalid_share_link", "the share link is invalid or expired")
        if not view.permits(request.method, request.url.path, request.query_params.multi_items()):
            return refusal(403, "share_scope", "a share link reads only the view it was made for")
        return Principal("share", view=view)
    session = auth.sessions.read(request)
    if session is None:
        return refusal(401, "login_required", "log in, or send a read key as a Bearer token")
    if request.method not in SAFE_METHODS and not csrf_ok(request, session):
        return refusal(403, "csrf_failed", "missing or wrong X-CSRF-Token for this session")
    return Principal("session", session)


def csrf_ok(request: Request, session: Session, submitted: str | None = None) -> bool:
    given = submitted if submitted is not None else request.headers.get("x-csrf-token", "")
    return bool(given) and hmac.compare_digest(given, session.csrf)


class Guard:
    """The checks above as ASGI middleware; the principal goes to request.state.principal."""

    def __init__(self, app: ASGIApp, auth: AuthConfig) -> None:
        self.app, self.auth = app, auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            response = self.check(request)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def check(self, request: Request) -> Response | None:
        path = request.url.path
        if path == "/healthz":
            return None
        if not self.auth.allowed_hosts.allows(request.headers.get("host")):
            return refusal(403, "host_not_allowed", "this Host is not served here")
        if request.method not in SAFE_METHODS and not origin_ok(request, self.auth.https_only):
            return refusal(403, "origin_not_allowed", "cross-site requests are refused")
        if path == "/":
            session = self.auth.sessions.read(request)
            if session is None:
                here = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse("/login?next=" + quote(here, safe=""), 303)
            request.state.principal = Principal("session", session)
            return None
        if path.startswith("/api/"):
            access = api_access(request, self.auth)
            if isinstance(access, Response):
                return access
            request.state.principal = access
        return None
