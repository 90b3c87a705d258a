"""A purchase read from Kafka, reduced to what the uploaders need, and what resolution found."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from eventschema.contact_hashing import EMAIL_KEYS, PHONE_KEYS, google_alternates
from eventschema.ip_policy import FULL

__all__ = ["EMAIL_KEYS", "PHONE_KEYS", "Conversion", "Match", "from_record", "sendable_ip"]

ORDER_KEYS = ("order_id", "orderId", "checkout_id", "transaction_id")
VALUE_KEYS = ("revenue", "value", "total")
COUNTRY_KEYS = ("country", "country_code")


@dataclass(frozen=True)
class Conversion:
    message_id: str
    order_id: str
    event: str
    at: datetime  # aware, UTC
    value: float | None
    currency: str | None
    user_id: str
    anonymous_id: str
    source: str
    ip: str
    user_agent: str
    page_url: str
    fbc: str
    fbp: str
    emails: tuple[str, ...]  # raw or pre-hashed, as sent with the purchase
    phones: tuple[str, ...]
    country: str  # ISO alpha-2 when known (phone region)
    names: dict[str, str] = field(default_factory=dict)  # fn, ln, ct, st, zp
    # Meta-form hash -> Google-form hash, for contacts hashed at ingest (contact_hashing).
    google_hashes: dict[str, str] = field(default_factory=dict)


@dataclass
class Match:
    """What the visitor's history adds (resolve.py)."""

    gclid: str = ""
    gbraid: str = ""
    wbraid: str = ""
    click_at: datetime | None = None
    fbc: str = ""
    fbp: str = ""
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    country: str = ""
    ip: str = ""
    user_agent: str = ""
    page_url: str = ""
    person_user_ids: list[str] = field(default_factory=list)
    google_hashes: dict[str, str] = field(default_factory=dict)
    complete: bool = True  # False: the sink had not caught up within the bound


def _obj(raw: object) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def _first(source: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = source.get(key)
        if value not in (None, ""):
            return value
    return None


def _text(value: object) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value).strip()


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def sendable_ip(ip: object, policy: object) -> str:
    """The address, when it is a full one: the API records the IP policy it applied as
    `context.ip_policy` (events from before it have none), and a truncated or dropped
    address must not be sent as the visitor's."""
    return _text(ip) if policy in (None, "", FULL) else ""


def from_record(record: dict[str, Any], default_currency: str) -> Conversion:
    props = _obj(record.get("properties"))
    traits = _obj(record.get("traits"))
    context = _obj(record.get("context"))
    ctx_traits = _obj(context.get("traits"))
    page = _obj(context.get("page"))
    people = [props, traits, ctx_traits]
    at = record.get("timestamp")
    if not isinstance(at, datetime):
        at = datetime.now(UTC)
    order = _text(_first(props, ORDER_KEYS)) or str(record["message_id"])
    currency = _text(props.get("currency")).upper() or None
    value = _number(_first(props, VALUE_KEYS))
    emails = tuple(dict.fromkeys(t for p in people if (t := _text(_first(p, EMAIL_KEYS)))))
    phones = tuple(dict.fromkeys(t for p in people if (t := _text(_first(p, PHONE_KEYS)))))
    address = _obj(_first(ctx_traits, ("address",))) or _obj(traits.get("address"))
    country = _text(_first(address, COUNTRY_KEYS) or _first(props, COUNTRY_KEYS))
    names = {
        "fn": _text(_first(traits, ("first_name", "firstName")) or ctx_traits.get("firstName")),
        "ln": _text(_first(traits, ("last_name", "lastName")) or ctx_traits.get("lastName")),
        "ct": _text(address.get("city")),
        "st": _text(address.get("state")),
        "zp": _text(_first(address, ("postal_code", "postalCode", "zip"))),
    }
    return Conversion(
        message_id=str(record["message_id"]),
        order_id=order,
        event=_text(record.get("event")),
        at=at.astimezone(UTC),
        value=value,
        currency=currency or (default_currency if value is not None else None),
        user_id=_text(record.get("user_id")),
        anonymous_id=_text(record.get("anonymous_id")),
        source=_text(record.get("source")) or "http",
        ip=sendable_ip(context.get("ip"), context.get("ip_policy")),
        user_agent=_text(context.get("userAgent")),
        page_url=_text(page.get("url")),
        fbc=_text(context.get("fbc")),
        fbp=_text(context.get("fbp")),
        emails=emails,
        phones=phones,
        country=country.upper()[:2] if len(country) == 2 else "",
        names={k: v for k, v in names.items() if v},
        google_hashes={k: v for p in people for k, v in google_alternates(p).items()},
    )
