"""Per-platform payloads and the mapping of every answer to an outcome (ad-platforms.md §7).

Each class implements consumers.conversions.outcomes.Platform; the outcomes are described there.
"""

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx

from consumers.conversions import hashing as h
from consumers.conversions.config import IP, USER_AGENT, GoogleConfig, MetaConfig
from consumers.conversions.google_answers import google_error, row_outcome
from consumers.conversions.model import Conversion, Match
from consumers.conversions.outcomes import Built, Outcome, retry_after

__all__ = ["Built", "Google", "Meta", "Outcome", "retry_after"]

log = logging.getLogger(__name__)
C = TypeVar("C", MetaConfig, GoogleConfig)


class _Account(Generic[C]):
    """A platform's settings, account and batch size, and the default phone region."""

    def __init__(self, config: C, default_region: str) -> None:
        self.config: C = config
        self.account: str = config.account
        self.batch_size: int = config.batch_size
        self.default_region = default_region


def _region(conv: Conversion, match: Match, default: str) -> str | None:
    return conv.country or match.country or default or None


def _unique(values: list[str | None]) -> list[str]:  # in order, without empties
    return list(dict.fromkeys(v for v in values if v))


# -- Meta -----------------------------------------------------------------------------------------

META_RETRY = {1, 2, 341, 5000, 21009}
META_THROTTLE = {4, 17, 32, 613, 80003, 80004}
META_ALERT = {190, 102, 10, 3, 368}


class Meta(_Account[MetaConfig]):
    name = "meta"

    def build(self, conv: Conversion, match: Match, now: datetime) -> Built:
        c = self.config
        age = (now - conv.at).total_seconds()
        if age > c.max_age_days * 86400 - c.age_margin_seconds:
            return Built(dead="expired", detail=f"event is {age / 86400:.1f} days old")
        if conv.value is None or not conv.currency or not re.fullmatch(r"[A-Z]{3}", conv.currency):
            return Built(dead="missing_value", detail="Purchase needs value and currency")
        user = self._user(conv, match)
        if not user:
            return Built(skip="no_user_data")
        # A back-end purchase of a site visitor is a website purchase: the visitor's page and
        # browser (resolve.py) stand in for the request's.
        page_url, agent = conv.page_url or match.page_url, conv.user_agent or match.user_agent
        if USER_AGENT not in c.client_signals:  # Meta's website events need client_user_agent
            agent = ""
        source = c.action_sources.get(conv.source)
        if source is None:
            source = "website" if page_url and agent else "system_generated"
        event: dict[str, Any] = {
            "event_name": c.event_name,
            "event_time": int(conv.at.timestamp()),
            "event_id": conv.order_id if c.event_id_from == "order_id" else conv.message_id,
            "action_source": source,
            "user_data": user,
            "custom_data": {
                "value": conv.value,
                "currency": conv.currency,
                "order_id": conv.order_id,
            },  # fmt: skip
        }
        if source == "website":
            event["event_source_url"] = page_url
        return Built(payload=event)

    def _user(self, conv: Conversion, match: Match) -> dict[str, Any]:
        """Meta's user_data: hashed identifiers, click and browser ids, IP and user agent."""
        region = _region(conv, match, self.default_region)
        user: dict[str, Any] = {}
        emails = _unique([h.hashed(e, h.meta_email) for e in (*conv.emails, *match.emails)])
        phones = _unique(
            [h.hashed(p, lambda v: h.meta_phone(v, region)) for p in (*conv.phones, *match.phones)]
        )
        if emails:
            user["em"] = emails
        if phones:
            user["ph"] = phones
        normalisers = {"fn": h.meta_name, "ln": h.meta_name, "ct": h.meta_city,
                       "st": h.meta_state, "zp": h.meta_zip}  # fmt: skip
        for key, raw in conv.names.items():
            if (value := h.hashed(raw, normalisers[key])) is not None:
                user[key] = [value]
        if conv.country or match.country:
            user["country"] = [h.sha256_hex(h.meta_country(conv.country or match.country))]
        if conv.user_id:
            user["external_id"] = [h.sha256_hex(h.meta_external_id(conv.user_id))]
        signals = self.config.client_signals  # IP and user agent only when the operator chose
        for key, value in (("fbc", conv.fbc or match.fbc), ("fbp", conv.fbp or match.fbp),
                           ("client_ip_address", (conv.ip or match.ip) if IP in signals else ""),
                           ("client_user_agent",
                            (conv.user_agent or match.user_agent) if USER_AGENT in signals else "")
                           ):  # fmt: skip
            if value:
                user[key] = value
        return user

    def request(self, payloads: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"data": payloads, "access_token": self.config.access_token}
        if self.config.test_event_code:
            body["test_event_code"] = self.config.test_event_code
        return self.config.url, body

    def headers(self) -> dict[str, str]:
        return {}

    def redact(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "access_token": "***"}

    def classify(self, response: httpx.Response, count: int) -> list[Outcome]:
        if response.status_code == 200:
            try:
                received = int(response.json().get("events_received", -1))
            except (ValueError, AttributeError):
                received = -1
            if received == count:
                return [Outcome("delivered")] * count
            return [Outcome("retry", "meta_bad_ack", response.text[:300])] * count
        try:
            error = response.json()["error"]
            code = int(error.get("code", 0))
            subcode = int(error.get("error_subcode") or 0)
            transient = bool(error.get("is_transient"))
            message = str(error.get("error_user_title") or error.get("message", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            # HTML 502 pages and the like: transient
            return [Outcome("retry", f"http_{response.status_code}", response.text[:200])] * count
        reason = f"meta_{code}" + (f"_{subcode}" if subcode else "")
        if code in META_THROTTLE or response.status_code == 429:
            delay = retry_after(response)
            return [Outcome("retry", reason, message, delay, throttled=True)] * count
        if code in META_RETRY or transient or response.status_code >= 500:
            return [Outcome("retry", reason, message, retry_after(response))] * count
        if code in META_ALERT or 200 <= code <= 299 or (code == 100 and subcode == 33):
            return [Outcome("retry", reason, message, alert=True)] * count
        if count > 1 and code == 100:
            return [Outcome("solo", reason, message)] * count  # one bad event refuses all
        return [Outcome("dead", reason, message)] * count


# -- Google Ads -----------------------------------------------------------------------------------


def google_datetime(at: datetime) -> str:
    """yyyy-mm-dd hh:mm:ss+00:00, converted to UTC first (a local time with +00:00 is wrong)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


class Google(_Account[GoogleConfig]):
    name = "google"

    def build(self, conv: Conversion, match: Match, now: datetime) -> Built:
        c = self.config
        region = _region(conv, match, self.default_region)
        # Contacts hashed at ingest carry Google's own hash beside Meta's (contact_hashing).
        google = {**match.google_hashes, **conv.google_hashes}
        emails = _unique([google.get(e) or h.hashed(e, h.google_email)
                          for e in (*conv.emails, *match.emails)])  # fmt: skip
        phones = _unique([google.get(p) or h.hashed(p, lambda v: h.google_phone(v, region))
                          for p in (*conv.phones, *match.phones)])  # fmt: skip
        identifiers = [{"hashedEmail": e} for e in emails] + [
            {"hashedPhoneNumber": p} for p in phones
        ]
        row: dict[str, Any] = {}
        if match.gclid:
            row["gclid"] = match.gclid
        elif match.gbraid:
            row["gbraid"] = match.gbraid
        elif match.wbraid:
            row["wbraid"] = match.wbraid
        if not row and not identifiers:
            return Built(skip="no_match")
        row |= {
            "conversionAction": c.conversion_action,
            "conversionDateTime": google_datetime(conv.at),
            "orderId": conv.order_id,
        }
        if conv.value is not None:
            row["conversionValue"] = conv.value
        if conv.currency:
            row["currencyCode"] = conv.currency
        if identifiers:
            row["userIdentifiers"] = identifiers[: c.max_identifiers]
        if c.consent_ad_user_data:
            row["consent"] = {"adUserData": c.consent_ad_user_data}
        return Built(payload=row)

    def request(self, payloads: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        return self.config.url, {"conversions": payloads, "partialFailure": True}

    def headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.config.access_token}",
            "developer-token": self.config.developer_token,
        }
        if self.config.login_customer_id:
            headers["login-customer-id"] = self.config.login_customer_id
        return headers

    def redact(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def classify(self, response: httpx.Response, count: int) -> list[Outcome]:
        status = response.status_code
        if status == 200:
            return self._rows(response, count)
        code, message, delay = google_error(response)
        reason = f"google_{code or status}"
        if status == 429:
            return [Outcome("retry", reason, message, delay, throttled=True)] * count
        if status in (409, 500, 502, 503, 504) or status > 500:
            return [Outcome("retry", reason, message, delay)] * count
        if status in (401, 403):
            return [Outcome("retry", reason, message, alert=True)] * count
        if count > 1:
            return [Outcome("solo", reason, message)] * count
        return [Outcome("dead", reason, message)] * count

    def _rows(self, response: httpx.Response, count: int) -> list[Outcome]:
        try:
            body = response.json()
        except ValueError:
            return [Outcome("retry", "google_bad_body", response.text[:200])] * count
        failed: dict[int, tuple[str, str]] = {}
        failure = body.get("partialFailureError") or {}
        for detail in failure.get("details") or []:
            for error in detail.get("errors") or []:
                path = (error.get("location") or {}).get("fieldPathElements") or []
                index = next((p.get("index") for p in path if p.get("fieldName") == "conversions"),
                             None)  # fmt: skip
                if isinstance(index, int):
                    code = next(iter((error.get("errorCode") or {}).values()), "UNKNOWN")
                    failed.setdefault(index, (str(code), str(error.get("message", ""))))
        results = body.get("results") or []
        outcomes: list[Outcome] = []
        for index in range(count):
            if index in failed:
                code, message = failed[index]
                outcomes.append(row_outcome(code, message))
            elif index < len(results) and results[index]:
                outcomes.append(Outcome("delivered"))
            else:
                outcomes.append(Outcome("retry", "google_row_unknown", json.dumps(body)[:200]))
        return outcomes
