"""Write keys: HTTP Basic username (empty password), as Segment's SDKs send it, or `writeKey`."""

import base64
import binascii
import hmac
from typing import Any

from starlette.requests import Request

from producer_api.errors import ApiError


def basic_auth_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(
            401, "invalid_write_key", "Authorization header is not valid Basic"
        ) from None
    return decoded.partition(":")[0] or None


def check_write_key(header_key: str | None, payload: Any, allowed: frozenset[str]) -> str:
    body_key = payload.get("writeKey") if isinstance(payload, dict) else None
    key = header_key or (body_key if isinstance(body_key, str) else None)
    if not key:
        raise ApiError(401, "missing_write_key", "send the write key as Basic auth or writeKey")
    # Compare against every key so timing does not tell how much of a key matched.
    matched = False
    for candidate in allowed:
        matched |= hmac.compare_digest(key.encode(), candidate.encode())
    if not matched:
        raise ApiError(401, "invalid_write_key", "unknown write key")
    return key
