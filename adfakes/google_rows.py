"""Checks of an upload body and of a row's click ids and user identifiers (ad-platforms.md §4)."""

import json
import re
from typing import Any

from adfakes.base import Reply, Request
from adfakes.google_errors import camel, request_error

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def upload_body(request: Request, version: str) -> dict[str, Any] | Reply:
    """The request body (camelCase keys), or the error answer for a body Google would refuse."""
    try:
        body = camel(json.loads(request.body or b"null"))
    except ValueError:
        return request_error(400, "INVALID_ARGUMENT", "requestError", "INVALID_INPUT",
                             "Invalid JSON payload", version)  # fmt: skip
    if not isinstance(body, dict) or not isinstance(body.get("conversions"), list):
        return request_error(400, "INVALID_ARGUMENT", "requestError", "INVALID_INPUT",
                             "conversions is required", version)  # fmt: skip
    if body.get("partialFailure") is not True:
        return request_error(400, "INVALID_ARGUMENT", "requestError",
                             "PARTIAL_FAILURE_MODE_REQUIRED", "partialFailure must be true",
                             version)  # fmt: skip
    rows = body["conversions"]
    if not rows:
        return request_error(400, "INVALID_ARGUMENT", "requestError", "INVALID_INPUT",
                             "conversions is empty", version)  # fmt: skip
    if len(rows) > 2000:
        return request_error(400, "INVALID_ARGUMENT", "conversionUploadError",
                             "TOO_MANY_CONVERSIONS_IN_REQUEST", "at most 2,000 conversions",
                             version)  # fmt: skip
    return body


def identity_error(row: dict[str, Any], ids: list[str]) -> str | None:
    """The click ids (`ids`: those set) and the hashed user identifiers."""
    if "gbraid" in ids and "wbraid" in ids:
        return "GBRAID_WBRAID_BOTH_SET"
    identifiers = row.get("userIdentifiers") or []
    if not ids and not identifiers:
        return "CLICK_NOT_FOUND"
    if not isinstance(identifiers, list) or len(identifiers) > 5:
        return "INVALID_USER_IDENTIFIER"
    for identifier in identifiers:
        keys = [k for k in ("hashedEmail", "hashedPhoneNumber") if k in identifier]
        if len(keys) != 1 or len(identifier) - (1 if "userIdentifierSource" in identifier
                                                else 0) != 1:  # fmt: skip
            return "UNSUPPORTED_USER_IDENTIFIER"
        if not isinstance(identifier[keys[0]], str) or not HEX64.match(identifier[keys[0]]):
            return "INVALID_USER_IDENTIFIER"
    return None
