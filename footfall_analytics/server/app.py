"""The analytics server: JSON reports under /api/, read-only SQL, and the dashboard at /.

Every error is JSON `{"code", "message", "parameter"}`: 400 for bad input (BadParameter), 403
`read_only` for SQL that is not one harmless read statement (eventschema.readonly_sql), 429
`busy` (with Retry-After) when the sink's query sessions are all busy, 504 when a query runs out
of time, 502 when the database fails a report."""

import asyncio
import logging
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from eventschema.readonly_sql import ReadOnlyRefused
from eventschema.sink_query import SinkQueryError
from footfall_analytics.errors import BadParameter
from footfall_analytics.remote import rows_as_json
from footfall_analytics.server.args import Args
from footfall_analytics.server.auth import AuthConfig, Guard
from footfall_analytics.server.pages import page_routes
from footfall_analytics.server.reports import Report, reports_for
from footfall_analytics.server.settings import DEFAULT_CONVERSIONS_URL
from footfall_analytics.server.source import Source

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
SQL_MAX_BYTES = 100_000
SQL_DEFAULT_LIMIT = 1000
SQL_MAX_LIMIT = 10_000
SQL_TIMEOUT = 20.0
REPORT_TIMEOUT = 60.0


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error(status: int, code: str, message: str, parameter: str | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "parameter": parameter}, status)


def _database_error(exc: Exception) -> JSONResponse:
    """The sink's (SinkQueryError status/code) or the direct guard's refusal, else ClickHouse's."""
    text = str(exc).strip()
    busy = _busy(exc)
    if busy is not None:
        return busy
    code = exc.code if isinstance(exc, SinkQueryError) else None
    if isinstance(exc, ReadOnlyRefused) or code == "read_only":
        return error(403, "read_only", "only one read statement is run: " + text[:2000])
    if isinstance(exc, SinkQueryError) and exc.status in (401, 403):  # our key or Host, not the SQL
        return error(502, "sink_refused", f"the sink refused this server: {text[:500]}")
    if "READONLY" in text or "readonly mode" in text:
        return error(403, "read_only", "writes, DDL and SET are refused: " + text[:2000])
    return error(400, "query_error", text[:2000])


def _busy(exc: Exception) -> JSONResponse | None:
    """The sink's 429 (every query session busy) as our 429, with its Retry-After."""
    if not (isinstance(exc, SinkQueryError) and exc.status == 429):
        return None
    response = error(429, "busy", str(exc)[:500])
    response.headers["Retry-After"] = exc.retry_after or "1"
    return response


def parse_sql_request(
    body: bytes, content_type: str, limit_text: Any
) -> tuple[str, int] | JSONResponse:
    """The SQL text and row limit of a POST /api/sql, or the 4xx that refuses it."""
    if len(body) > SQL_MAX_BYTES:
        return error(413, "too_large", f"SQL over {SQL_MAX_BYTES} bytes", "sql")
    text = body.decode("utf-8", "replace")
    if content_type.startswith("application/json"):
        try:
            doc = orjson.loads(body)
            text, limit_text = str(doc["sql"]), doc.get("limit", limit_text)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return error(400, "invalid_json", 'expected {"sql": "...", "limit": n}', "sql")
    try:
        limit = SQL_DEFAULT_LIMIT if limit_text in (None, "") else int(limit_text)
    except (TypeError, ValueError):
        return error(400, "bad_parameter", "limit must be an integer", "limit")
    if not 1 <= limit <= SQL_MAX_LIMIT:
        return error(400, "bad_parameter", f"limit must be 1 to {SQL_MAX_LIMIT}", "limit")
    if not text.strip():
        return error(400, "bad_parameter", "empty SQL", "sql")
    return text, limit


def sql_answer(result: Any, limit: int) -> JSON:
    """The first `limit` rows of a query result, with its columns and whether rows were cut."""
    rows = list(result.result_rows)
    types = getattr(result, "column_types", ())
    return JSON({
        "columns": [
            {"name": n, "type": str(getattr(t, "name", t))}
            for n, t in zip(result.column_names, types, strict=False)
        ],
        "rows": rows_as_json(rows[:limit]),
        "row_count": min(len(rows), limit),
        "truncated": len(rows) > limit,
        "limit": limit,
    })  # fmt: skip


class Endpoints:
    """The JSON endpoints over one query source."""

    def __init__(self, source: Source) -> None:
        self.source = source

    async def run_report(self, request: Request, report: Report) -> Response:
        try:
            args = Args(request.query_params.multi_items())
            result = await asyncio.wait_for(
                run_in_threadpool(report, self.source.client, args), REPORT_TIMEOUT
            )
        except BadParameter as exc:
            return error(400, "bad_parameter", exc.message, exc.name)
        except TimeoutError:
            return error(504, "timeout", f"the report took more than {REPORT_TIMEOUT:.0f}s")
        except Exception as exc:  # SinkQueryError or a driver error: the database, not the input
            busy = _busy(exc)
            if busy is not None:
                return busy
            log.exception("report %s failed", request.url.path)
            return error(502, "query_failed", str(exc)[:2000])
        return JSON(result)

    def report_route(self, name: str, report: Report) -> Route:
        async def endpoint(request: Request) -> Response:
            return await self.run_report(request, report)

        return Route(f"/api/{name}", endpoint, methods=["GET"], name=name)

    async def sql(self, request: Request) -> Response:
        """POST /api/sql: body = SQL (or JSON {"sql", "limit"}); ?limit= rows (<= 10,000)."""
        parsed = parse_sql_request(
            await request.body(),
            request.headers.get("content-type", ""),
            request.query_params.get("limit"),
        )
        if isinstance(parsed, JSONResponse):
            return parsed
        text, limit = parsed
        try:
            result = await asyncio.wait_for(
                run_in_threadpool(self.source.client.query, text), SQL_TIMEOUT
            )
        except TimeoutError:
            return error(504, "timeout", f"the query took more than {SQL_TIMEOUT:.0f}s")
        except Exception as exc:  # ClickHouse's refusal or error, for the caller to read
            return _database_error(exc)
        return sql_answer(result, limit)

    async def healthz(self, request: Request) -> Response:
        return JSON({"ok": True, "source": self.source.description})


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, "not_found", f"no route {request.url.path}")


def create_app(
    source: Source, auth: AuthConfig, conversions_url: str = DEFAULT_CONVERSIONS_URL
) -> Starlette:
    """Every route is behind Guard (auth.py): Host, Origin, then a read key, share link or
    session; `auth` comes from AuthConfig.from_settings() in __main__, or from a test.
    `conversions_url` is the uploader's, for /api/conversions/status."""
    api = Endpoints(source)
    routes = [
        *page_routes(auth),
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/api/sql", api.sql, methods=["POST"]),
        *(api.report_route(name, report) for name, report in reports_for(conversions_url).items()),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    guard = Middleware(Guard, auth=auth)
    return Starlette(routes=routes, middleware=[guard], exception_handlers={404: not_found})
