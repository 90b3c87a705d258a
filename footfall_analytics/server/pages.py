"""The pages around the dashboard: log in, log out, create a share link, open one, and the
dashboard page itself with this session's CSRF token (or the shared view) filled in."""

import html
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from footfall_analytics.server.auth import AuthConfig, Principal, csrf_ok, refusal
from footfall_analytics.server.reports import REPORTS
from footfall_analytics.server.share import MAX_DAYS, MAX_QUERY

STATIC = Path(__file__).parent / "static"
FORM_MAX_BYTES = 8192
HTML_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # a share link's token must not leave in a Referer
    "X-Content-Type-Options": "nosniff",
}
LOGIN_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
)

LOGIN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in: Footfall analytics</title>
<style>
body {{ font: 15px system-ui, sans-serif; background: #f5f6f8; color: #1d2330; }}
form {{ max-width: 320px; margin: 12vh auto; background: #fff; padding: 24px 28px;
  border-radius: 8px; box-shadow: 0 1px 4px #0002; }}
label {{ display: block; margin: 12px 0 4px; }}
input {{ width: 100%; box-sizing: border-box; padding: 7px; font: inherit; }}
button {{ margin-top: 18px; padding: 8px 16px; font: inherit; }}
.error {{ color: #b42318; }}
</style></head>
<body><form method="post" action="/login" id="login">
<h1>Footfall analytics</h1>
<p class="error" id="error">{error}</p>
<input type="hidden" name="csrf" value="{nonce}">
<input type="hidden" name="next" value="{next}">
<label for="username">User</label>
<input id="username" name="username" autocomplete="username" required autofocus value="{user}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="submit">Log in</button>
<p><small>Add a user with <code>footfall user add NAME</code>.</small></p>
</form></body></html>
"""


def local_path(target: str | None) -> str:
    """Only a path on this server may be the redirect after login (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def read_form(request: Request) -> dict[str, str] | None:
    body = await request.body()
    if len(body) > FORM_MAX_BYTES:
        return None
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "?"


class Pages:
    """The page endpoints over one AuthConfig (its sessions, users, login limiter and links)."""

    def __init__(self, auth: AuthConfig) -> None:
        self.auth = auth
        self.sessions, self.users, self.limiter = auth.sessions, auth.users, auth.limiter

    def login_form(
        self,
        request: Request,
        status: int = 200,
        error: str = "",
        user: str = "",
        next_path: str = "/",
        headers: dict[str, str] | None = None,
    ) -> Response:
        nonce = secrets.token_urlsafe(18)
        body = LOGIN_HTML.format(
            error=html.escape(error),
            nonce=nonce,
            user=html.escape(user),
            next=html.escape(next_path),
        )
        response = HTMLResponse(
            body, status, {**HTML_HEADERS, "Content-Security-Policy": LOGIN_CSP, **(headers or {})}
        )
        self.sessions.login_nonce(request, response, nonce)
        return response

    async def login_get(self, request: Request) -> Response:
        next_path = local_path(request.query_params.get("next"))
        if self.sessions.read(request) is not None:
            return RedirectResponse(next_path, 303)
        return self.login_form(request, next_path=next_path)

    async def login_post(self, request: Request) -> Response:
        form = await read_form(request)
        if form is None:
            return self.login_form(request, 413, "the form is too large")
        user, password = form.get("username", "").strip(), form.get("password", "")
        next_path = local_path(form.get("next"))
        if not self.sessions.login_nonce_ok(request, form.get("csrf", "")):
            return self.login_form(
                request, 403, "the form expired; please try again", user, next_path
            )
        ip = client_ip(request)
        wait = self.limiter.retry_after(ip, user)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return self.login_form(
                request,
                429,
                f"too many failed logins; try again in {minutes} min",
                user,
                next_path,
                {"Retry-After": str(int(wait) + 1)},
            )
        if not await run_in_threadpool(self.users.verify, user, password):
            self.limiter.failed(ip, user)
            return self.login_form(request, 401, "wrong user name or password", user, next_path)
        self.limiter.succeeded(ip, user)
        response = RedirectResponse(next_path, 303)
        self.sessions.start(request, response, user)
        return response

    async def logout(self, request: Request) -> Response:
        session = self.sessions.read(request)
        if session is not None:
            form = await read_form(request) or {}
            submitted = request.headers.get("x-csrf-token") or form.get("csrf", "")
            if not csrf_ok(request, session, submitted):
                return refusal(403, "csrf_failed", "missing or wrong CSRF token for this session")
        response = RedirectResponse("/login", 303)
        self.sessions.end(request, response, session)
        return response

    async def create_share(self, request: Request) -> Response:
        """POST /api/share {"report", "query", "days"} -> {"url", "path", "expires_at"}."""
        principal: Principal = request.state.principal
        try:
            doc: Any = orjson.loads(await request.body())
            report, query = str(doc["report"]), str(doc.get("query", "")).lstrip("?")
            days = int(doc.get("days", 30))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return bad("body", 'expected {"report": "...", "query": "...", "days": n}')
        if report not in REPORTS:
            return bad("report", f"no report {report!r}")
        if len(query) > MAX_QUERY:
            return bad("query", f"the query string is over {MAX_QUERY} characters")
        if not 1 <= days <= MAX_DAYS:
            return bad("days", f"days must be 1 to {MAX_DAYS}")
        token = self.auth.shares.make(report, query, principal.name, days)
        view = self.auth.shares.load(token)
        assert view is not None
        path = f"/s/{token}"
        expires = datetime.fromtimestamp(view.expires_at, UTC).isoformat()
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "url": base + path,
                "path": path,
                "report": report,
                "query": query,
                "expires_at": expires,
            }
        )

    async def shared_page(self, request: Request) -> Response:
        view = self.auth.shares.load(request.path_params["token"])
        if view is None:
            return HTMLResponse(
                "<!doctype html><title>Link expired</title><p>This share link is "
                "invalid or has expired.</p>",
                410,
                HTML_HEADERS,
            )
        return dashboard_page(
            {
                "footfall-share": request.path_params["token"],
                "footfall-share-report": view.report,
                "footfall-share-query": view.query,
            }
        )

    async def index(self, request: Request) -> Response:
        principal: Principal = request.state.principal
        assert principal.session is not None
        return dashboard_page(
            {"footfall-user": principal.session.user, "footfall-csrf": principal.session.csrf}
        )


def page_routes(auth: AuthConfig) -> list[Route]:
    pages = Pages(auth)
    return [
        Route("/", pages.index, methods=["GET"]),
        Route("/login", pages.login_get, methods=["GET"]),
        Route("/login", pages.login_post, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/api/share", pages.create_share, methods=["POST"]),
        Route("/s/{token}", pages.shared_page, methods=["GET"]),
    ]


def bad(parameter: str, message: str) -> JSONResponse:
    return JSONResponse({"code": "bad_parameter", "message": message, "parameter": parameter}, 400)


def dashboard_page(meta: dict[str, str]) -> HTMLResponse:
    """index.html with its empty <meta name=... content=""> tags filled in."""
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    for name, value in meta.items():
        tag = f'<meta name="{name}" content="">'
        if tag not in text:
            raise RuntimeError(f"index.html lost its {tag}")
        text = text.replace(tag, f'<meta name="{name}" content="{html.escape(value)}">')
    return HTMLResponse(text, headers=HTML_HEADERS)
