"""Visitor ids for the tracker's cookieless mode, derived by the API (issue 13, point 6).

A cookieless tracker stores nothing in the browser, so it sends no anonymousId; it marks its
events with `context.cookieless: true` instead. For such an event the API sets

    anonymousId = "ck-" + hex(HMAC-SHA256(salt of the UTC day, ip "\\n" user agent "\\n" site))[:32]

ip: the client address the API resolved (before any truncation), user agent: the request's
User-Agent header, site: the host of the request's Origin, else of the event's
context.page.url, else the name of the write key. The same browser on the same network and site
gets the same id all day, and a new one the next day, when the salt changes (producer_api.salts).
The salt is never put in an event; the marker is kept, so queries can tell the mode.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from producer_api.salts import DailySalts

MARKER = "cookieless"
PREFIX = "ck-"
ID_HEX_CHARS = 32  # 128 bits: collisions are out of reach at any realistic visitor count


def visitor_id(salt: bytes, ip: str, user_agent: str, site: str) -> str:
    # Newlines cannot occur in an address, a header value or a host: the parts cannot run together.
    data = "\n".join((ip, user_agent, site)).encode("utf-8", "surrogatepass")
    return PREFIX + hmac.new(salt, data, hashlib.sha256).hexdigest()[:ID_HEX_CHARS]


def host_of(url: object) -> str | None:
    """The lower-case host of an absolute URL, or None (no URL, `null` origin, no host)."""
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url.strip()).hostname or None
    except ValueError:
        return None


@dataclass(slots=True)
class VisitorIds:
    """What one request contributes to the id of its cookieless events."""

    salts: DailySalts
    day: date  # the UTC day the request was received
    ip: str
    user_agent: str
    origin: str | None  # the Origin header, parsed only for a marked event
    key_name: str

    def apply(self, message: Any) -> Any:
        """`message` with the derived anonymousId when it is marked and has none; else as is.
        `message` is the request's own copy (ingest._Shared.merge), so it is changed in place."""
        if not isinstance(message, dict) or message.get("anonymousId") not in (None, ""):
            return message
        context = message.get("context")
        if not isinstance(context, dict) or context.get(MARKER) is not True:
            return message
        page = context.get("page")
        site = (
            host_of(self.origin)
            or host_of(page.get("url") if isinstance(page, dict) else None)
            or self.key_name
        )
        salt = self.salts.salt_for(self.day)
        message["anonymousId"] = visitor_id(salt, self.ip, self.user_agent, site)
        return message
