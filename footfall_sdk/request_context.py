"""The current request's X-Request-ID, and how it fills in events sent while handling it.

A contextvar, because it is per thread (WSGI servers) and per asyncio task (ASGI servers) at
once, and `asyncio.to_thread` / Starlette's thread pool copy it into worker threads.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

MAX_REQUEST_ID_LENGTH = 256  # the API's limit for ids: a longer one would make the event invalid

_request_id: ContextVar[str | None] = ContextVar("footfall_request_id", default=None)


def valid_request_id(value: str | None) -> str | None:
    """The header value if usable as an id: non-empty, <= 256 chars, printable; else None."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_REQUEST_ID_LENGTH or not value.isprintable():
        return None
    return value


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def request_id_scope(value: str | None) -> Iterator[str | None]:
    """Set the request id (if valid) for the block and always restore the previous one."""
    token = _request_id.set(valid_request_id(value))
    try:
        yield _request_id.get()
    finally:
        _request_id.reset(token)


def with_request_id(message: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `message` with the current request id filled in where the caller left gaps.

    It becomes the anonymousId only when the message has no identity at all: an event that has
    a userId keeps it as its Kafka key, so that user's events stay on one partition, in order.
    context.requestId is added either way (unless the caller set one) to join events to logs.
    """
    out = dict(message)
    request_id = _request_id.get()
    if request_id is None:
        return out
    if _blank(out.get("anonymousId")) and _blank(out.get("userId")):
        out["anonymousId"] = request_id
    context = out.get("context")
    if context is None:
        out["context"] = {"requestId": request_id}
    elif isinstance(context, dict) and "requestId" not in context:
        out["context"] = {**context, "requestId": request_id}
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
