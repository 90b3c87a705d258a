"""Fake Google Ads: POST /vNN/customers/{cid}:uploadClickConversions (ad-platforms.md §4)."""

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adfakes.base import FakeServer, Reply, Request
from adfakes.google_errors import FAILURE_TYPE, request_error
from adfakes.google_rows import identity_error, upload_body

PATH = re.compile(r"^/v(\d+)/customers/([^/:]+):uploadClickConversions$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}:\d{2}$")


@dataclass
class Click:
    at: datetime  # aware


@dataclass
class FakeGoogleState:
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # "action|orderId" -> row
    by_click: set[tuple[str, str, str]] = field(default_factory=set)
    row_failures: list[tuple[str, str]] = field(default_factory=list)  # (orderId, code)


class FakeGoogleAds(FakeServer):
    name = "google"

    def __init__(self, customers: dict[str, set[str]], developer_token: str, access_token: str,
                 manager_links: dict[str, str] | None = None,
                 **kw: Any) -> None:  # fmt: skip
        """customers: cid -> ids of its conversion actions; manager_links: cid -> manager cid
        (then login-customer-id must name the manager)."""
        super().__init__(**kw)
        self.customers = {cid: set(actions) for cid, actions in customers.items()}
        self.developer_token = developer_token
        self.access_token = access_token
        self.manager_links = dict(manager_links or {})
        self.clicks: dict[str, Click] = {}  # seeded clicks, for the time-window checks
        self.fail_orders: dict[str, str] = {}  # orderId -> scripted conversionUploadError
        self.too_recent = timedelta(hours=6)
        self.window = timedelta(days=90)
        self.click_first = False  # check (click, time, action) before orderId
        self.state = FakeGoogleState()

    # -- switches ------------------------------------------------------------------------------

    @staticmethod
    def quota(retry_seconds: int) -> Reply:
        reply = request_error(429, "RESOURCE_EXHAUSTED", "quotaError", "RESOURCE_EXHAUSTED",
                              "Too many requests", retryDelay=f"{retry_seconds}s")  # fmt: skip
        reply.headers["Retry-After"] = str(retry_seconds)
        return reply

    @staticmethod
    def unavailable() -> Reply:
        return request_error(503, "UNAVAILABLE", "internalError", "TRANSIENT_ERROR",
                             "The service is currently unavailable")  # fmt: skip

    @staticmethod
    def internal() -> Reply:
        return request_error(500, "INTERNAL", "internalError", "TRANSIENT_ERROR",
                             "Internal error encountered")  # fmt: skip

    @staticmethod
    def token_expired() -> Reply:
        return request_error(401, "UNAUTHENTICATED", "authenticationError",
                             "OAUTH_TOKEN_EXPIRED", "OAuth token expired")  # fmt: skip

    def seed_existing(self, action: str, order_id: str) -> None:
        """An order uploaded before (by someone else): uploading it is ORDER_ID_ALREADY_IN_USE."""
        with self.lock:
            self.state.accepted[f"{action}|{order_id}"] = {"orderId": order_id, "seeded": True}

    def seed_click_conversion(self, click: str, when: str, action: str) -> None:
        """A conversion on this click second uploaded by other means."""
        with self.lock:
            self.state.by_click.add((click, when, action))

    # -- counting ------------------------------------------------------------------------------

    def order_ids(self) -> list[str]:
        with self.lock:
            return [str(r["orderId"]) for r in self.state.accepted.values() if not r.get("seeded")]

    def rows(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.state.accepted.values() if not r.get("seeded")]

    # -- the API -------------------------------------------------------------------------------

    def accepted(self) -> list[dict[str, Any]]:
        return self.rows()

    def process(self, request: Request) -> Reply:
        match = PATH.match(request.path)
        if request.method != "POST" or match is None:
            return Reply.json(404, {"error": {"code": 404, "message": "Not Found",
                                              "status": "NOT_FOUND"}})  # fmt: skip
        version, cid = match.groups()
        refusal = self._refuse_caller(request, cid, version)
        if refusal is not None:
            return refusal
        body = upload_body(request, version)
        if isinstance(body, Reply):
            return body
        return self._rows(cid, version, body["conversions"], bool(body.get("validateOnly")))

    def _refuse_caller(self, request: Request, cid: str, version: str) -> Reply | None:
        """The customer id, the credentials and the access to the customer, in Google's order."""
        if not cid.isdigit():
            return request_error(400, "INVALID_ARGUMENT", "requestError", "INVALID_CUSTOMER_ID",
                                 "customer id must be digits only", version)  # fmt: skip
        auth = request.headers.get("authorization", "")
        valid = auth.startswith("Bearer ") and secrets.compare_digest(auth[7:], self.access_token)
        if not valid:
            return request_error(401, "UNAUTHENTICATED", "authenticationError",
                                 "OAUTH_TOKEN_INVALID", "Request had invalid authentication "
                                 "credentials", version)  # fmt: skip
        if request.headers.get("developer-token") != self.developer_token:
            return request_error(401, "UNAUTHENTICATED", "authenticationError",
                                 "DEVELOPER_TOKEN_INVALID", "The developer token is not valid",
                                 version)  # fmt: skip
        if cid not in self.customers:
            return request_error(403, "PERMISSION_DENIED", "authorizationError",
                                 "USER_PERMISSION_DENIED", "no access to customer",
                                 version)  # fmt: skip
        manager = self.manager_links.get(cid)
        if manager and request.headers.get("login-customer-id") != manager:
            return request_error(403, "PERMISSION_DENIED", "authorizationError",
                                 "USER_PERMISSION_DENIED", "login-customer-id must name the "
                                 "manager account", version)  # fmt: skip
        return None

    def _rows(self, cid: str, version: str, rows: list[Any], validate_only: bool) -> Reply:
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        seen_orders: set[str] = set()
        seen_clicks: set[tuple[str, str, str]] = set()
        for index, row in enumerate(rows):
            code = self._check(cid, row, seen_orders, seen_clicks)
            if code is not None:
                results.append({})
                errors.append({
                    "errorCode": {"conversionUploadError": code},
                    "message": f"{code} at conversions[{index}]",
                    "location": {"fieldPathElements": [{"fieldName": "conversions",
                                                        "index": index}]},
                })  # fmt: skip
                self.state.row_failures.append((str(row.get("orderId", "")), code))
                continue
            result = {k: row[k] for k in ("gclid", "gbraid", "wbraid", "conversionAction",
                                          "conversionDateTime", "orderId") if k in row}  # fmt: skip
            results.append(result)
            if not validate_only:
                self.state.accepted[f"{row['conversionAction']}|{row.get('orderId', '')}"] = row
                if _click_key(row)[0]:
                    self.state.by_click.add(_click_key(row))
        reply: dict[str, Any] = {"jobId": str(secrets.randbelow(2**62))}
        if not validate_only:
            reply["results"] = results
        if errors:
            reply["partialFailureError"] = {
                "code": 3,
                "message": ", ".join(e["message"] for e in errors),
                "details": [{"@type": FAILURE_TYPE.format(v=version), "errors": errors}],
            }
        return Reply.json(200, reply)

    def _check(self, cid: str, row: Any, orders: set[str],
               clicks: set[tuple[str, str, str]]) -> str | None:  # fmt: skip
        if (code := self._row_error(cid, row)) is not None:
            return code
        ids = [k for k in ("gclid", "gbraid", "wbraid") if row.get(k)]
        if (code := identity_error(row, ids)) is not None:
            return code
        currency = row.get("currencyCode")
        if currency is not None and not (isinstance(currency, str)
                                         and re.fullmatch(r"[A-Z]{3}", currency)):  # fmt: skip
            return "INVALID_CURRENCY_CODE"
        order = str(row.get("orderId", ""))
        if order in self.fail_orders:
            return self.fail_orders[order]
        if ids:
            code = self._window(row[ids[0]], row["conversionDateTime"])
            if code:
                return code
        return self._duplicate_error(row, ids, orders, clicks)

    def _row_error(self, cid: str, row: Any) -> str | None:
        """The row's shape, its conversion action (of this customer) and its date-time."""
        if not isinstance(row, dict):
            return "INVALID_CONVERSION"
        action = row.get("conversionAction")
        prefix = f"customers/{cid}/conversionActions/"
        if (not isinstance(action, str) or not action.startswith(prefix)
                or action[len(prefix):] not in self.customers[cid]):  # fmt: skip
            return "NO_CONVERSION_ACTION_FOUND"
        when = row.get("conversionDateTime")
        if not isinstance(when, str) or not DATETIME.match(when):
            return "UNPARSEABLE_CONVERSION_DATE_TIME"
        return None

    def _duplicate_error(self, row: dict[str, Any], ids: list[str], orders: set[str],
                         clicks: set[tuple[str, str, str]]) -> str | None:  # fmt: skip
        """An order or a click met before, in this request or in an earlier upload (in which
        order Google checks the two is not documented: `click_first` picks)."""
        if self.click_first:
            return self._click_error(row, ids, clicks) or self._order_error(row, orders)
        return self._order_error(row, orders) or self._click_error(row, ids, clicks)

    def _order_error(self, row: dict[str, Any], orders: set[str]) -> str | None:
        order = str(row.get("orderId", ""))
        if not order:
            return None
        if order in orders:
            return "DUPLICATE_ORDER_ID_IN_REQUEST"
        orders.add(order)
        stored = f"{row.get('conversionAction')}|{order}" in self.state.accepted
        return "ORDER_ID_ALREADY_IN_USE" if stored else None

    def _click_error(self, row: dict[str, Any], ids: list[str],
                     clicks: set[tuple[str, str, str]]) -> str | None:  # fmt: skip
        click = _click_key(row)
        if not ids:
            return None
        if click in clicks:
            return "DUPLICATE_CLICK_CONVERSION_IN_REQUEST"
        clicks.add(click)
        return "CLICK_CONVERSION_ALREADY_EXISTS" if click in self.state.by_click else None

    def _window(self, click_id: str, when: str) -> str | None:
        click = self.clicks.get(click_id)
        if click is None:
            return None  # unseeded clicks are accepted
        at = datetime.fromisoformat(when.replace(" ", "T"))
        if at < click.at:
            return "CONVERSION_PRECEDES_EVENT"
        if at - click.at > self.window:
            return "EXPIRED_EVENT"
        if datetime.now(click.at.tzinfo) - click.at < self.too_recent:
            return "TOO_RECENT_EVENT"
        return None


def _click_key(row: dict[str, Any]) -> tuple[str, str, str]:
    click = row.get("gclid") or row.get("gbraid") or row.get("wbraid") or ""
    return (str(click), str(row.get("conversionDateTime")), str(row.get("conversionAction")))
