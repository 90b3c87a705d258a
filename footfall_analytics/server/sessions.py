"""Dashboard sessions: a signed cookie (itsdangerous) naming the user and a random session id.

The cookie is HttpOnly and SameSite=Lax, Secure over https (or always with https_only), and
expires after `max_age`. Logging out revokes the session id in this process, so a copied cookie
stops working too; a user removed from the store loses their sessions at the next request. The
CSRF token is derived from the session id with the secret, so it needs no storage."""

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from footfall_analytics.server.users import UserStore

COOKIE = "footfall_session"
LOGIN_COOKIE = "footfall_login"  # the login form's CSRF nonce, before there is a session
LOGIN_FORM_AGE = 3600


@dataclass(frozen=True)
class Session:
    user: str
    sid: str
    csrf: str


class Sessions:
    def __init__(
        self, secret: str, users: UserStore, max_age: int = 12 * 3600, https_only: bool = False
    ) -> None:
        self.secret, self.users, self.max_age, self.https_only = secret, users, max_age, https_only
        self._cookies = URLSafeTimedSerializer(secret, salt="footfall-session")
        self._login = URLSafeTimedSerializer(secret, salt="footfall-login-form")
        self._revoked: dict[str, float] = {}  # sid -> when its cookie would have expired anyway
        self._lock = threading.Lock()

    def csrf_for(self, sid: str) -> str:
        mac = hmac.new(self.secret.encode(), b"csrf:" + sid.encode(), hashlib.sha256)
        return mac.hexdigest()

    def read(self, request: Request) -> Session | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            payload = self._cookies.loads(cookie, max_age=self.max_age)
            user, sid = str(payload["u"]), str(payload["s"])
        except (BadSignature, KeyError, TypeError):
            return None
        with self._lock:
            if sid in self._revoked:
                return None
        if not self.users.exists(user):
            return None
        return Session(user, sid, self.csrf_for(sid))

    def start(self, request: Request, response: Response, user: str) -> Session:
        sid = secrets.token_urlsafe(18)
        value = self._cookies.dumps({"u": user, "s": sid})
        self._set(request, response, COOKIE, value, self.max_age)
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return Session(user, sid, self.csrf_for(sid))

    def end(self, request: Request, response: Response, session: Session | None) -> None:
        if session is not None:
            now = time.time()
            with self._lock:
                self._revoked = {s: t for s, t in self._revoked.items() if t > now}
                self._revoked[session.sid] = now + self.max_age
        response.delete_cookie(COOKIE, path="/")

    def login_nonce(self, request: Request, response: Response, nonce: str) -> None:
        """Keep the login form's nonce in a signed cookie too (double submit)."""
        value = self._login.dumps(nonce)
        self._set(request, response, LOGIN_COOKIE, value, LOGIN_FORM_AGE, path="/login")

    def login_nonce_ok(self, request: Request, submitted: str) -> bool:
        try:
            nonce = self._login.loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=LOGIN_FORM_AGE)
        except BadSignature:
            return False
        return bool(submitted) and hmac.compare_digest(str(nonce), submitted)

    def _set(
        self, request: Request, response: Response, name: str, value: str, age: int, path: str = "/"
    ) -> None:
        secure = self.https_only or request.url.scheme == "https"
        response.set_cookie(
            name, value, max_age=age, path=path, httponly=True, samesite="lax", secure=secure
        )
