"""Where a write key travels: HTTP Basic username (empty password, what Segment's SDKs send),
`Authorization: Bearer` (server keys), or `writeKey` in the JSON body (the browser tracker)."""

import base64
import binascii
from typing import Any

from starlette.requests import Request

from producer_api.errors import ApiError


def header_key(request: Request) -> str | None:
    """The key from the Authorization header, if any (readable before the body)."""
    if "writekey" in (name.lower() for name in request.query_params):
        # URLs end up in logs and referrers: a key there is as good as published.
        raise ApiError(401, "key_in_query", "send the write key in a header or the body")
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return credentials.strip() or None
    if scheme != "basic" or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(
            401, "invalid_write_key", "Authorization header is not valid Basic"
        ) from None
    return decoded.partition(":")[0] or None


def request_key(request: Request, payload: Any = None) -> str | None:
    """The header key, else `writeKey` from the parsed body."""
    key = header_key(request)
    if key:
        return key
    body_key = payload.get("writeKey") if isinstance(payload, dict) else None
    return body_key if isinstance(body_key, str) and body_key else None
