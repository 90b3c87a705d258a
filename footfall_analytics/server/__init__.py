"""The analytics server: the JSON query API, read-only SQL and the dashboard (Starlette).

Run it with `python -m footfall_analytics.server` (127.0.0.1:8125); the main job starts it."""

from footfall_analytics.server.app import create_app
from footfall_analytics.server.source import Source, open_dsn, open_source

__all__ = ["Source", "create_app", "open_dsn", "open_source"]
