"""Run the query library through the sink's POST /query (how chDB is reached while the sink holds
its data path: only one process may open it).

SinkQueryClient offers the part of clickhouse-connect's client the library uses: `query(sql,
parameters=...)` returning an object with `result_rows`, `column_names` and `named_results()`.
Values travel as `param_<name>` in the URL (ClickHouse's HTTP convention) in ClickHouse's text
form, bound server-side; the answer is JSONCompact, whose `meta` types turn the values back into
the Python types clickhouse-connect would give (ints, floats, datetimes, dates, lists, tuples).
Requests carry the read key they are given (the server passes FOOTFALL_SINK_READ_KEY, else the
local key file of `footfall up`: server/settings.py, source.py). The HTTP part, and SinkQueryError
with the sink's status and code, are eventschema.sink_query's.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from eventschema.sink_query import SinkQuery


@dataclass(frozen=True)
class QueryResult:
    column_names: tuple[str, ...]
    column_types: tuple[str, ...]
    result_rows: list[tuple[Any, ...]]

    def named_results(self) -> Iterator[dict[str, Any]]:
        for row in self.result_rows:
            yield dict(zip(self.column_names, row, strict=True))

    @property
    def row_count(self) -> int:
        return len(self.result_rows)


class SinkQueryClient:
    """A read-only stand-in for a clickhouse-connect client, over the sink's /query."""

    def __init__(self, url: str, timeout: float = 60.0, read_key: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._sink = SinkQuery(f"{self.url}/query", read_key, timeout)

    def query(
        self, query: str, parameters: Mapping[str, Any] | None = None, **_: Any
    ) -> QueryResult:
        return parse_json_compact(self._sink.post(query, parameters, "JSONCompact"))

    def close(self) -> None:
        self._sink.close()


def parse_json_compact(body: bytes) -> QueryResult:
    doc = orjson.loads(body)
    meta = doc.get("meta", [])
    names = tuple(str(m["name"]) for m in meta)
    types = tuple(str(m["type"]) for m in meta)
    converters = [_converter(t) for t in types]
    rows = [tuple(conv(v) for conv, v in zip(converters, row, strict=True)) for row in doc["data"]]
    return QueryResult(names, types, rows)


# ---- JSON values -> Python, by ClickHouse type ---------------------------------------------

_WRAPPERS = ("Nullable", "LowCardinality", "SimpleAggregateFunction")


def _split_args(inner: str) -> list[str]:
    """Top-level comma-separated type arguments (nested parentheses and quotes respected)."""
    parts, depth, quote, current = [], 0, False, ""
    for ch in inner:
        if ch == "'" and not current.endswith("\\"):
            quote = not quote
        if not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


_NAMED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s+(.+)$")


def _converter(ch_type: str) -> Any:
    t = ch_type.strip()
    name, _, rest = t.partition("(")
    args = _split_args(rest[:-1]) if rest else []
    if name in _WRAPPERS:
        inner = _converter(args[-1])
        return lambda v: None if v is None else inner(v)
    if name == "Array":
        item = _converter(args[0])
        return lambda v: [item(x) for x in v]
    if name == "Tuple":
        # Named tuples come as "name Type"; JSON gives them as arrays or objects.
        items = [_converter(_unname(a)) for a in args]
        return lambda v: tuple(
            conv(x) for conv, x in zip(items, v.values() if isinstance(v, dict) else v, strict=True)
        )
    if name == "Map":
        key, value = _converter(args[0]), _converter(args[1])
        return lambda v: {key(k): value(x) for k, x in v.items()}
    if name.startswith(("Int", "UInt")):
        return lambda v: v if v is None else int(v)
    if name.startswith(("Float", "Decimal")):
        return lambda v: v if v is None else float(v)
    if name in ("Bool",):
        return bool
    if name.startswith("DateTime"):
        zone_args = args[1:] if name == "DateTime64" else args
        zone = ZoneInfo(zone_args[0].strip("'")) if zone_args else None
        return lambda v: _datetime(v, zone)
    if name in ("Date", "Date32"):
        return lambda v: date.fromisoformat(v)
    return lambda v: v


def _unname(arg: str) -> str:
    """`name Type` (a named tuple element) -> `Type`."""
    match = _NAMED.match(arg)
    first = arg.split()[0]
    return match.group(1) if match and "(" not in first else arg


def _datetime(value: str, zone: ZoneInfo | None) -> datetime:
    # Like clickhouse-connect: naive for UTC (and the server zone), else aware in the column's.
    at = datetime.fromisoformat(value)
    return at.replace(tzinfo=zone) if zone and zone.key not in ("UTC", "Etc/UTC") else at


def rows_as_json(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows with datetimes/dates as ISO strings (for JSON answers)."""
    return [[_plain(v) for v in row] for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
