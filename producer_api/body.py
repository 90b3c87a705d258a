"""Read a request body within the size limit, inflating gzip as a stream.

The limit applies to the inflated bytes (and to the bytes on the wire) and inflation stops as
soon as it is passed, so a gzip bomb costs at most the limit in memory, never the bomb's full
size. A gzip body must be exactly one gzip stream: data after its end is refused, not ignored.
Both the tracking routes (`read_json`, whole body) and the CSV import (`body_stream`, piece by
piece) read through `body_stream`.
"""

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from producer_api.errors import ApiError

PIECE_BYTES = 1024 * 1024  # most inflated bytes produced at once, whatever the limit


@dataclass(frozen=True)
class JsonBody:
    size: int  # bytes, after gzip
    payload: Any


async def read_json(request: Request, limit: int) -> JsonBody:
    """The whole body, parsed; ApiError 400 for an empty or malformed one."""
    body = await read_body(request, limit)
    if not body or body.isspace():  # not strip(): that copies the whole body
        raise ApiError(400, "invalid_json", "request body is empty")
    try:
        return JsonBody(len(body), orjson.loads(body))
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "invalid_json", f"malformed JSON: {error}") from None


async def read_body(request: Request, limit: int) -> bytes:
    if request.headers.get("content-encoding") is None:
        return await _read_plain(request, limit)
    return b"".join([piece async for piece in body_stream(request, limit)])


async def _read_plain(request: Request, limit: int) -> bytes:
    """`body_stream` for a body without Content-Encoding (nearly every tracking request), read
    with the same limits and errors but without its two nested async generators: they were a
    third of the cost of reading a one-event body (docs/performance.md, third round)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large("request body", limit)
    if request._stream_consumed:  # as Request.stream() would
        raise RuntimeError("Stream consumed")
    request._stream_consumed = True
    receive = request.receive
    pieces: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: gone, or cut off by a timeout
            raise ApiError(400, "client_disconnected", "the body did not arrive whole")
        piece = message.get("body", b"")
        size += len(piece)
        if size > limit:
            raise _too_large("request body", limit)
        pieces.append(piece)
        if not message.get("more_body", False):
            return pieces[0] if len(pieces) == 1 else b"".join(pieces)


async def body_stream(
    request: Request, limit: int, what: str = "request body"
) -> AsyncIterator[bytes]:
    """The body's bytes, inflated if Content-Encoding is gzip, in pieces of at most
    PIECE_BYTES; ApiError 413 as soon as more than `limit` bytes came or were inflated, 400 for
    bad, truncated or trailing gzip data, 415 for another encoding. `what` names the body in
    the 413 message."""
    declared = request.headers.get("content-length")
    # isascii: str.isdigit() is also true for digits int() refuses, like "²"
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(what, limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        inflater = None
    elif encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16+: expect a gzip header
    else:
        raise ApiError(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r}: use gzip or none"
        )
    raw_size = 0
    size = 0
    try:
        async for chunk in request.stream():
            raw_size += len(chunk)
            if raw_size > limit:
                raise _too_large(what, limit)
            data = chunk
            while data:
                if inflater is None:
                    piece, data = data, b""
                else:
                    piece, data = _inflate(inflater, data, min(PIECE_BYTES, limit - size + 1))
                size += len(piece)
                if size > limit:
                    raise _too_large(what, limit)
                if piece:
                    yield piece
    except ClientDisconnect:  # gone, or closed by the server's body timeout: not our error
        raise ApiError(400, "client_disconnected", "the body did not arrive whole") from None
    if inflater is not None and not inflater.eof:
        raise ApiError(400, "invalid_gzip", "gzip stream is truncated")


def _inflate(inflater: "zlib._Decompress", data: bytes, max_length: int) -> tuple[bytes, bytes]:
    """At most `max_length` inflated bytes of `data`, and the input still to inflate."""
    try:
        piece = inflater.decompress(data, max_length)
    except zlib.error as error:
        raise ApiError(400, "invalid_gzip", f"body is not valid gzip: {error}") from None
    if inflater.eof and inflater.unused_data:
        raise ApiError(400, "invalid_gzip", "data after the end of the gzip stream")
    return piece, inflater.unconsumed_tail


def _too_large(what: str, limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"{what} over {limit} bytes (after gzip)")
