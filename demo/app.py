"""The Starlette app: pages, static files, the tracker copy, and the back end's /api routes."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from demo import pages
from demo.backend import Backend
from demo.catalog import BY_SLUG
from demo.config import DemoSettings
from footfall_sdk import Client, RequestIdASGIMiddleware

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: DemoSettings | None = None) -> Starlette:
    settings = settings or DemoSettings.from_env()
    client = Client(settings.server_key, settings.api_url, register_atexit=False)
    backend = Backend(client)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # Deliver what the back end queued before the process goes (a bounded wait).
        await asyncio.to_thread(client.shutdown, 5.0)

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(pages.home(settings))

    async def product(request: Request) -> Response:
        found = BY_SLUG.get(request.path_params["slug"])
        if found is None:
            return PlainTextResponse("no such product", 404)
        return HTMLResponse(pages.product(settings, found))

    async def register(request: Request) -> HTMLResponse:
        return HTMLResponse(pages.register(settings))

    async def tracker(request: Request) -> Response:
        # The shop's own copy of the tracker, for sites that host it themselves (and for the
        # test that loads the shop while the API is down).
        try:
            script = await asyncio.to_thread(settings.tracker_path.read_bytes)
        except FileNotFoundError:
            return PlainTextResponse("tracker not built: npm run build --prefix tracker", 404)
        return Response(script, media_type="application/javascript")

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [
        Route("/", home),
        Route("/products/{slug}", product),
        Route("/register", register),
        Route("/api/register", backend.register, methods=["POST"]),
        Route("/api/checkout", backend.checkout, methods=["POST"]),
        Route("/api/_seen_request_ids", backend.seen_request_ids),
        Route("/footfall.min.js", tracker),
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes, middleware=[Middleware(RequestIdASGIMiddleware)], lifespan=lifespan
    )
