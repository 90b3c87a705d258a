"""Read-only queries on a pool of read-only sessions, with `param_<name>` parameters.

Each query runs on one of a few read-only sessions (writer.connect_reader), after
eventschema.readonly_sql has checked it is one harmless read statement. When every session is
busy, `Busy` is raised at once: a slow query never makes the dashboard's queries wait.
"""

import queue
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo

from clickhouse_connect.driver.binding import DT64Param
from clickhouse_connect.driver.client import Client

from eventschema.readonly_sql import ClientExplainer, check_read_only, reset_session

_PARAM = re.compile(r"^param_([A-Za-z_][A-Za-z0-9_]{0,63})$")
_PLACEHOLDER = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:")


class RawParam(DT64Param):
    """A parameter value already in ClickHouse's text form (what `param_x=` carries over HTTP).

    clickhouse-connect escapes a Python str once more, which would break Array/Tuple values; this
    passes the text through as ClickHouse's own HTTP interface does (DT64Param is the one
    value class whose formatting clickhouse-connect delegates to the value)."""

    def __init__(self, text: str) -> None:
        super().__init__(datetime.min)
        self.text = text

    def format(self, tz: tzinfo | None, top_level: bool) -> str:
        return self.text


def query_parameters(query: dict[str, list[str]], sql: str) -> dict[str, object]:
    """`param_<name>` entries of a parsed query string -> clickhouse-connect parameters.

    Only names the SQL uses as `{name:Type}` are kept (ClickHouse ignores the others too): with
    no server-side placeholder clickhouse-connect would fall back to client-side %-formatting."""
    used = set(_PLACEHOLDER.findall(sql))
    out: dict[str, object] = {}
    for key, values in query.items():
        match = _PARAM.match(key)
        if match and match.group(1) in used:
            out[match.group(1)] = RawParam(values[-1])
    return out


class Busy(Exception):
    """Every read session is running a query."""


class ReaderPool:
    """A few read-only sessions (separate chDB sessions run queries concurrently), each used by
    one query at a time; taking one never waits."""

    def __init__(self, readers: list[tuple[Client, dict[str, object]]]) -> None:
        self.readers = readers
        self._free: queue.SimpleQueue[tuple[Client, dict[str, object]]] = queue.SimpleQueue()
        for reader in readers:
            self._free.put(reader)

    @contextmanager
    def reader(self) -> Iterator[tuple[Client, dict[str, object]]]:
        try:
            reader = self._free.get_nowait()
        except queue.Empty:
            raise Busy from None
        try:
            yield reader
        finally:
            self._free.put(reader)

    def close(self) -> None:
        for client, _ in self.readers:
            client.close()


class QueryService:
    def __init__(self, pool: ReaderPool) -> None:
        self.pool = pool

    def run(self, sql: str, fmt: str, parameters: dict[str, object] | None = None) -> bytes:
        """The result of `sql` if it is one harmless read (else ReadOnlyRefused, run nothing)."""
        with self.pool.reader() as (client, settings):
            check_read_only(ClientExplainer(client, parameters, settings), sql)
            try:
                return client.raw_query(
                    sql, parameters=parameters or None, settings=settings or None, fmt=fmt
                )
            except Exception:
                reset_session(client)
                raise
