"""Read-only share links: `/s/<token>` shows one report view, and the token lets its holder GET
exactly that `/api/<report>?<query>` (same parameters, in any order) and nothing else.

The token is signed with the session secret (itsdangerous) and carries its own expiry; changing
the secret revokes every link."""

import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from itsdangerous import BadSignature, URLSafeTimedSerializer

DEFAULT_DAYS = 30
MAX_DAYS = 365
MAX_QUERY = 4000


@dataclass(frozen=True)
class SharedView:
    report: str
    query: str
    expires_at: int
    created_by: str

    def permits(self, method: str, path: str, items: list[tuple[str, str]]) -> bool:
        return (
            method in ("GET", "HEAD")
            and path == f"/api/{self.report}"
            and sorted(items) == sorted(parse_qsl(self.query, keep_blank_values=True))
        )


class ShareLinks:
    def __init__(self, secret: str) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="footfall-share")

    def make(self, report: str, query: str, created_by: str, days: int = DEFAULT_DAYS) -> str:
        expires = int(time.time()) + days * 86400
        return self._signer.dumps({"r": report, "q": query, "e": expires, "u": created_by})

    def load(self, token: str) -> SharedView | None:
        """The view a token grants, or None when it is forged, altered or expired."""
        try:
            doc = self._signer.loads(token, max_age=MAX_DAYS * 86400)
            view = SharedView(str(doc["r"]), str(doc["q"]), int(doc["e"]), str(doc["u"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        return view if view.expires_at > time.time() else None
