"""Fake Meta Conversions API: POST /{v}/{pixel_id}/events (ad-platforms.md §3)."""

import email.parser
import email.policy
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from adfakes.base import FakeServer, Reply, Request

PATH = re.compile(r"^/v\d+\.\d+/(\d+)/events$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
ACTION_SOURCES = {
    "email", "website", "app", "phone_call", "chat", "physical_store", "system_generated",
    "business_messaging", "other",
}  # fmt: skip
HASHED_KEYS = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country")
PLAIN_KEYS = (
    "external_id", "client_ip_address", "client_user_agent", "fbc", "fbp", "subscription_id",
    "fb_login_id", "lead_id", "anon_id", "madid", "page_id", "ctwa_clid",
)  # fmt: skip
DEDUP_SECONDS = 48 * 3600


class MetaError(Exception):
    def __init__(self, code: int, message: str, subcode: int | None = None, title: str = "",
                 status: int = 400, transient: bool = False) -> None:  # fmt: skip
        super().__init__(message)
        self.code, self.subcode, self.title = code, subcode, title
        self.status, self.transient = status, transient


def error_reply(error: MetaError) -> Reply:
    body: dict[str, Any] = {
        "message": str(error), "type": "OAuthException", "code": error.code,
        "is_transient": error.transient, "fbtrace_id": secrets.token_hex(6),
    }  # fmt: skip
    if error.subcode is not None:
        body["error_subcode"] = error.subcode
    if error.title:
        body["error_user_title"] = error.title
    return Reply.json(error.status, {"error": body})


@dataclass
class Stored:
    pixel: str
    event: dict[str, Any]
    stored_at: float
    test: bool


@dataclass
class FakeMetaState:
    accepted: dict[tuple[str, str, str], Stored] = field(default_factory=dict)
    test_events: list[dict[str, Any]] = field(default_factory=list)
    deduplicated: int = 0  # events that arrived again within 48 h (silently dropped)
    rejected_batches: list[dict[str, Any]] = field(default_factory=list)


class FakeMeta(FakeServer):
    name = "meta"

    def __init__(self, pixels: dict[str, str], max_age_days: float = 7.0, **kw: Any) -> None:
        """pixels: pixel id -> the access token that may write to it."""
        super().__init__(**kw)
        self.pixels = dict(pixels)
        self.max_age_days = max_age_days
        self.state = FakeMetaState()

    # -- switches for tests --------------------------------------------------------------------

    @staticmethod
    def server_error(code: int = 2, status: int = 500) -> Reply:
        return error_reply(MetaError(code, "Service temporarily unavailable", status=status,
                                     transient=True))  # fmt: skip

    @staticmethod
    def rate_limited(retry_after: float, code: int = 4) -> Reply:
        reply = error_reply(MetaError(code, "Application request limit reached", status=429))
        reply.headers["Retry-After"] = str(int(retry_after))
        return reply

    @staticmethod
    def html_502() -> Reply:
        return Reply(502, b"<html><body>Bad Gateway</body></html>", "text/html")

    # -- counting ------------------------------------------------------------------------------

    def event_ids(self) -> list[str]:
        with self.lock:
            return [key[2] for key in self.state.accepted]

    def order_ids(self) -> list[str]:
        with self.lock:
            return [
                str(s.event.get("custom_data", {}).get("order_id", ""))
                for s in self.state.accepted.values()
            ]

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [s.event for s in self.state.accepted.values()]

    # -- the API -------------------------------------------------------------------------------

    def accepted(self) -> list[dict[str, Any]]:
        return self.events()

    def process(self, request: Request) -> Reply:
        try:
            return self._process(request)
        except MetaError as error:
            return error_reply(error)

    def _process(self, request: Request) -> Reply:
        match = PATH.match(request.path)
        if request.method != "POST" or match is None:
            raise MetaError(803, "Unknown path components", status=404)
        fields = _fields(request)
        token = (request.query.get("access_token") or [""])[0] or str(
            fields.get("access_token", "")
        )
        if not token:
            raise MetaError(190, "An access token is required to request this resource.")
        pixel = match.group(1)
        if pixel not in self.pixels:
            raise MetaError(100, f"Unsupported post request. Object with ID '{pixel}' does not "
                            "exist", subcode=33)  # fmt: skip
        if not secrets.compare_digest(self.pixels[pixel], token):
            raise MetaError(190, "Invalid OAuth access token - Cannot parse access token")
        data = fields.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as error:
                raise MetaError(100, "Invalid parameter: data is not JSON") from error
        if not isinstance(data, list) or not 1 <= len(data) <= 1000:
            raise MetaError(100, "Invalid parameter: data must hold 1 to 1,000 events")
        now = time.time()
        for index, event in enumerate(data):
            self._validate(event, index, now)  # one bad event rejects the whole batch
        test = bool(fields.get("test_event_code"))
        for event in data:
            self._store(pixel, event, now, test)
        return Reply.json(200, {"events_received": len(data), "messages": [],
                                "fbtrace_id": secrets.token_hex(6)})  # fmt: skip

    def _validate(self, event: Any, index: int, now: float) -> None:
        def bad(message: str, subcode: int | None = None, title: str = "") -> MetaError:
            return MetaError(100, f"Invalid parameter: data[{index}]: {message}", subcode, title)

        if not isinstance(event, dict):
            raise bad("event must be an object")
        if not isinstance(event.get("event_name"), str) or not event["event_name"]:
            raise bad("event_name is required")
        event_time = event.get("event_time")
        if isinstance(event_time, bool) or not isinstance(event_time, int):
            raise bad("event_time must be an integer (Unix seconds)")
        if event_time > 10**11:
            raise bad("event_time is in milliseconds; seconds expected")
        if event_time < now - self.max_age_days * 86400:
            raise bad("event_time too old", 2804003, "Event Timestamp Too Old")
        if event_time > now + 600:
            raise bad("event_time in the future", 2804004, "Event Timestamp In Future")
        source = event.get("action_source")
        if source not in ACTION_SOURCES:
            raise bad(f"action_source {source!r} is not valid")
        user = event.get("user_data")
        if not isinstance(user, dict) or not any(k in user for k in (*HASHED_KEYS, *PLAIN_KEYS)):
            raise bad("user_data needs at least one customer information parameter")
        if source == "website" and (not event.get("event_source_url")
                                    or not user.get("client_user_agent")):  # fmt: skip
            raise bad("website events need event_source_url and client_user_agent")
        for key in HASHED_KEYS:
            if key in user:
                values = user[key] if isinstance(user[key], list) else [user[key]]
                if not values or not all(isinstance(v, str) and HEX64.match(v) for v in values):
                    raise bad(f"user_data.{key} must be SHA-256 (64 lowercase hex)")
        if event["event_name"] == "Purchase":
            custom = event.get("custom_data") or {}
            value, currency = custom.get("value"), custom.get("currency")
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency))
            ):
                raise bad("Purchase needs a numeric value and a currency", 2804009,
                          "Missing Value or Currency")  # fmt: skip

    def _store(self, pixel: str, event: dict[str, Any], now: float, test: bool) -> None:
        if test:
            self.state.test_events.append(event)
            return
        key = (pixel, str(event["event_name"]), str(event.get("event_id", "")))
        previous = self.state.accepted.get(key)
        if key[2] and previous is not None and now - previous.stored_at < DEDUP_SECONDS:
            self.state.deduplicated += 1
            return
        if not key[2]:  # no event_id: nothing to dedup on
            key = (pixel, key[1], f"no-id-{len(self.state.accepted)}")
        self.state.accepted[key] = Stored(pixel, event, now, test)


def _fields(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise MetaError(100, "Invalid parameter: body must be an object")
            return body
        if kind == "application/x-www-form-urlencoded":
            return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if kind == "multipart/form-data":
            head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                head + request.body
            )
            out: dict[str, Any] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                if isinstance(name, str) and isinstance(payload, bytes):
                    out[name] = payload.decode()
            return out
    except (ValueError, UnicodeDecodeError) as error:
        raise MetaError(100, f"Invalid parameter: unreadable body ({error})") from error
    if not request.body:
        return {}
    raise MetaError(100, f"Invalid parameter: unsupported content type {kind!r}")
