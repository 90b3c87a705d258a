"""Google Ads error bodies (GoogleAdsFailure) and the camelCase of request keys."""

import re
from typing import Any

from adfakes.base import Reply

FAILURE_TYPE = "type.googleapis.com/google.ads.googleads.v{v}.errors.GoogleAdsFailure"
_SNAKE = re.compile(r"_([a-z])")


def camel(value: Any) -> Any:
    """snake_case keys -> camelCase (the API accepts both)."""
    if isinstance(value, dict):
        return {_SNAKE.sub(lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def request_error(status: int, grpc: str, kind: str, code: str, message: str,
                  version: str = "22", **extra: Any) -> Reply:  # fmt: skip
    error: dict[str, Any] = {"errorCode": {kind: code}, "message": message}
    details: dict[str, Any] = {"@type": FAILURE_TYPE.format(v=version), "errors": [error]}
    if extra:
        error["details"] = extra
    return Reply.json(status, {"error": {"code": status, "message": message, "status": grpc,
                                         "details": [details]}})  # fmt: skip
