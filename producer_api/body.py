"""Read a request body within the size limit, inflating gzip as a stream.

The limit applies to the inflated bytes and inflation stops as soon as it is passed, so a gzip
bomb costs at most the limit in memory, never the bomb's full size.
"""

import zlib
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request

from producer_api.errors import ApiError


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    # isascii: str.isdigit() is also true for digits int() refuses, like "²"
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    try:
        if encoding in ("", "identity"):
            return await _read_plain(request.stream(), limit)
        if encoding in ("gzip", "x-gzip"):
            return await _read_gzip(request.stream(), limit)
    except ClientDisconnect:  # gone, or closed by the server's body timeout: not our error
        raise ApiError(400, "client_disconnected", "the body did not arrive whole") from None
    raise ApiError(415, "unsupported_encoding", f"Content-Encoding {encoding!r}: use gzip or none")


async def _read_plain(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


async def _read_gzip(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16+: expect a gzip header
    parts: list[bytes] = []
    size = 0
    raw_size = 0
    try:
        async for chunk in chunks:
            raw_size += len(chunk)
            if raw_size > limit:
                raise _too_large(limit)
            data = chunk
            while data:
                out = inflater.decompress(data, limit - size + 1)
                size += len(out)
                if size > limit:
                    raise _too_large(limit)
                parts.append(out)
                data = inflater.unconsumed_tail
            if inflater.eof and inflater.unused_data:
                raise ApiError(400, "invalid_gzip", "data after the end of the gzip stream")
    except zlib.error as error:
        raise ApiError(400, "invalid_gzip", f"body is not valid gzip: {error}") from None
    if not inflater.eof:
        raise ApiError(400, "invalid_gzip", "gzip stream is truncated")
    return b"".join(parts)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"request body over {limit} bytes (after gzip)")
