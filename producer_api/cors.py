"""CORS for the tracking routes, so the browser tracker can POST from the sites of its key.

CORS is not authentication (anyone can send any Origin with curl); it only stops other sites'
pages from using a browser key. Access-Control-Allow-Origin is reflected only for an origin the
request's key allows; a preflight carries no key, so it is answered for origins any browser key
allows, and the real request is then checked against its own key. No credentials: the tracker
sends its key in the body, cookies are never needed.
"""

import orjson
from starlette.requests import Request
from starlette.responses import Response

from producer_api.auth import principal_of
from producer_api.errors import ApiError
from producer_api.services import services_of

ALLOW_METHODS = "POST, OPTIONS"
ALLOW_HEADERS = "Content-Type, Authorization, Content-Encoding"
PREFLIGHT_MAX_AGE = "600"  # seconds; browsers cap it anyway (Chrome: 2 h)


async def preflight(request: Request) -> Response:
    keyring = services_of(request).keyring
    origin = request.headers.get("origin")
    if origin is None:  # not a CORS preflight: say what the route accepts
        return Response(status_code=204, headers={"Allow": ALLOW_METHODS})
    vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    if not keyring.origin_allowed_by_any(origin):
        error = ApiError(403, "origin_not_allowed", f"origin {origin!r} is not allowed")
        return _json_error(error, {"Vary": vary})
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        "Vary": vary,
    }
    return Response(status_code=204, headers=headers)


def add_cors_headers(request: Request, response: Response) -> None:
    """Reflect the Origin when the request's key (or, before one is known, any key) allows it."""
    # Appended, not set: the answers of the tracking routes carry no Vary yet, and setting one
    # through MutableHeaders (a scan of the list) cost twice as much (docs/performance.md).
    response.raw_headers.append((b"vary", b"Origin"))
    origin = request.headers.get("origin")
    if origin is None:
        return
    principal = principal_of(request)
    if principal is None:  # refused before authentication (429 by IP, 401): let the page read why
        allowed = services_of(request).keyring.origin_allowed_by_any(origin)
    else:
        allowed = principal.kind == "browser" and principal.allows_origin(origin)
    if allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"


def _json_error(error: ApiError, headers: dict[str, str]) -> Response:
    return Response(
        orjson.dumps(error.body()), error.status, headers, media_type="application/json"
    )
