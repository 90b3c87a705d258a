"""Where the analytics server's queries go, always through read-only sessions.

* chDB (the default): the sink holds the data path, so queries go to its POST /query
  (SinkQueryClient), whose session is read-only with time and row limits.
* A ClickHouse server (FOOTFALL_CLICKHOUSE_DSN=http://..., see settings.py): clickhouse-connect
  directly; every query carries readonly=1 (last) and the limits.
* chdb:///path directly (tests, or the CLI when nothing else has the path open): a session made
  read-only with SET, like the sink's reader.

The direct clients run eventschema.readonly_sql's guard before every query, as the sink does.
"""

import threading
from dataclasses import dataclass
from typing import Any, cast

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from eventschema.read_key_file import local_read_key
from eventschema.readonly_sql import ClientExplainer, QueryLimits, check_read_only, reset_session
from footfall_analytics.remote import QueryResult, SinkQueryClient
from footfall_analytics.server.settings import ServerSettings


class ReadOnlyClient:
    """A clickhouse-connect client behind a lock (a chDB session is not thread-safe), adding
    the read-only settings to every query when they travel per request (HTTP)."""

    def __init__(self, client: Client, settings: dict[str, object]) -> None:
        self.inner = client
        self.settings = settings
        self._lock = threading.Lock()

    def query(self, query: str, parameters: Any = None, **_: Any) -> QueryResult:
        with self._lock:
            check_read_only(ClientExplainer(self.inner, parameters, self.settings), query)
            try:
                result = self.inner.query(
                    query, parameters=parameters, settings=self.settings or None
                )
            except Exception:
                reset_session(self.inner)
                raise
            names = tuple(result.column_names)
            types = tuple(getattr(t, "name", str(t)) for t in result.column_types)
            return QueryResult(names, types, [tuple(r) for r in result.result_rows])

    def close(self) -> None:
        self.inner.close()


@dataclass
class Source:
    client: Client  # what the library is given (SinkQueryClient / ReadOnlyClient duck-type it)
    description: str

    def close(self) -> None:
        cast(Any, self.client).close()


def _as_client(obj: object) -> Client:
    # The library is typed against clickhouse-connect's Client but only calls
    # query(sql, parameters=...) and reads result_rows / column_names / named_results().
    return cast(Client, obj)


def open_source(
    settings: ServerSettings, dsn: str | None = None, sink_url: str | None = None
) -> Source:
    """From arguments, else the settings (docs/contract-for-helpers.md)."""
    dsn = dsn or settings.analytics_dsn
    if dsn is None and sink_url is None:
        dsn = settings.server_dsn
    if dsn is not None:
        return open_dsn(dsn, settings.database, settings.query_limits)
    sink_url = sink_url or settings.sink_url
    key = settings.sink_read_key or local_read_key(settings.data_dir)
    return Source(_as_client(SinkQueryClient(sink_url, read_key=key)), f"sink {sink_url}/query")


def open_dsn(dsn: str, database: str = "footfall", limits: QueryLimits | None = None) -> Source:
    settings = (limits or QueryLimits()).read_only_settings()  # readonly last
    client = clickhouse_connect.get_client(dsn=dsn, database=database)
    if dsn.startswith("chdb:"):
        # chDB cannot undo readonly=1 on a session: set the limits first, readonly last.
        for name, value in settings.items():
            client.command(f"SET {name} = {value!r}")
        return Source(_as_client(ReadOnlyClient(client, {})), f"chDB {dsn} (read-only session)")
    return Source(_as_client(ReadOnlyClient(client, settings)), f"ClickHouse {_redact(dsn)}")


def _redact(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    creds, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{creds.split(':')[0]}:***@{host}" if at else dsn
