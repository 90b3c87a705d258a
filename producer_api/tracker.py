"""GET /t.js: the browser tracker, served by the API so sites need one host only."""

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response

from producer_api.errors import ApiError
from producer_api.services import services_of

# Short: a new tracker release reaches visitors within minutes, without versioned URLs.
CACHE_CONTROL = "public, max-age=300"


async def tracker_script(request: Request) -> Response:
    settings = services_of(request).settings
    try:
        script = await asyncio.to_thread(settings.tracker_path.read_bytes)
    except (FileNotFoundError, IsADirectoryError):
        message = f"the browser tracker is not built ({settings.tracker_path.name} is missing)"
        error = ApiError(404, "tracker_not_built", message)
        return Response(orjson.dumps(error.body()), 404, media_type="application/json")
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        # Loaded by <script> on other sites, which needs no CORS; this lets COEP pages embed it.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    return Response(script, 200, headers, media_type="application/javascript")
