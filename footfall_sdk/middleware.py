"""Middleware that makes the incoming X-Request-ID the current request id while a request runs.

Events sent meanwhile through `Client` or `KafkaEventProducer` get it as context.requestId and,
when they carry no anonymousId/userId, as anonymousId (see request_context.with_request_id).
An invalid header (empty, longer than 256 characters, not printable) is ignored.
"""

from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextvars import Context, copy_context
from typing import Any

from footfall_sdk.request_context import _request_id, request_id_scope, valid_request_id

HEADER = b"x-request-id"
WSGI_KEY = "HTTP_X_REQUEST_ID"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class RequestIdASGIMiddleware:
    """ASGI (Starlette, FastAPI, ...). Each request runs in its own task, and the value is reset
    when the app returns (after any background tasks), so it cannot leak into the next one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with request_id_scope(_asgi_header(scope)):
            await self.app(scope, receive, send)


def _asgi_header(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == HEADER:
            return str(value.decode("latin-1"))  # ASGI header bytes are latin-1 (RFC 9110)
    return None


class RequestIdWSGIMiddleware:
    """WSGI (Flask, Django, ...). The app runs in a copied context holding the id, and so does
    every step of the response iterable, which a WSGI server may consume after __call__ returned
    (streaming responses); the server thread's own context is never changed."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        context = copy_context()
        context.run(_request_id.set, valid_request_id(environ.get(WSGI_KEY)))
        result = context.run(self.app, environ, start_response)
        return _InContext(result, context)


class _InContext:
    """A response iterable whose iteration and close() run inside the request's context."""

    def __init__(self, result: Iterable[bytes], context: Context) -> None:
        self._result = result
        self._iterator: Iterator[bytes] | None = None
        self._context = context

    def __iter__(self) -> "_InContext":
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = self._context.run(iter, self._result)
        return self._context.run(next, self._iterator)

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            self._context.run(close)
