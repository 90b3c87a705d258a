"""SQL that can only read: the guard every SQL entry point runs before executing a text, and the
per-query resource limits of every read path.

The session's readonly=1 stops writes, DDL and SET, but not what runs outside ClickHouse's
access control: `INTO OUTFILE` (written by the embedded client itself in chDB), table functions
that reach files, URLs, processes or other servers, and, in chDB, a second statement after `;`.
So the decision is made on the statement as ClickHouse parses it: the text must be one statement
(checked by formatQuery on the text bound as a value, so it is never run), and `EXPLAIN AST` of
it must show a read statement with no output file, no SETTINGS and only harmless table functions.
The caller then executes exactly the text it checked.
"""

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.config import Config

from eventschema.env_settings import setting

# Statements that only read (their EXPLAIN AST root node names).
_READ_ROOTS = ("SelectWithUnionQuery", "SelectIntersectExceptQuery", "DescribeQuery")
_READ_ROOT_PREFIXES = ("Show", "Exists")
# Table functions that only generate rows; every other one is refused.
TABLE_FUNCTIONS = frozenset({
    "numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateseries", "values",
    "null", "generaterandom",
})  # fmt: skip
# Functions that reach files, URLs, processes or other servers, wherever they appear.
_OUTSIDE = frozenset({
    "file", "filecluster", "url", "urlcluster", "s3", "s3cluster", "gcs", "oss", "cosn", "hdfs",
    "hdfscluster", "remote", "remotesecure", "cluster", "clusterallreplicas", "mysql",
    "postgresql", "jdbc", "odbc", "executable", "input", "mongodb", "redis", "sqlite",
    "dictionary", "hudi", "hudicluster", "arrowflight", "ytsaurus", "merge", "view",
})  # fmt: skip
_OUTSIDE_PREFIXES = ("azureblobstorage", "iceberg", "deltalake", "paimon", "executable")
_MULTI = "Multi-statements"
_READ_WORDS = frozenset({"SELECT", "WITH", "EXPLAIN", "SHOW", "DESCRIBE", "DESC", "EXISTS"})
_FIRST_WORD = re.compile(r"^[\s(]*([A-Za-z]+)")


class ReadOnlyRefused(Exception):
    """The text is not one harmless read statement; nothing was executed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class QueryLimits:
    """Per-query limits of every read session: FOOTFALL_QUERY_MAX_SECONDS,
    FOOTFALL_QUERY_MAX_MEMORY (bytes) and FOOTFALL_QUERY_MAX_ROWS, read by each process's
    settings loader."""

    max_seconds: int = 30
    max_memory: int = 2_000_000_000
    max_rows: int = 1_000_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "QueryLimits":
        config = Config(environ=environ)
        return cls(
            max_seconds=setting(config, "FOOTFALL_QUERY_MAX_SECONDS", int, cls.max_seconds),
            max_memory=setting(config, "FOOTFALL_QUERY_MAX_MEMORY", int, cls.max_memory),
            max_rows=setting(config, "FOOTFALL_QUERY_MAX_ROWS", int, cls.max_rows),
        )

    def read_only_settings(self) -> dict[str, object]:
        """The limits, then readonly=1 last: chDB cannot change a setting once readonly is set
        on a session, so whoever applies these one by one must keep this order."""
        return {
            "max_execution_time": self.max_seconds,
            "max_memory_usage": self.max_memory,
            "max_result_rows": self.max_rows,
            "result_overflow_mode": "throw",
            "readonly": 1,
        }


@dataclass(frozen=True)
class _Node:
    depth: int
    kind: str  # the node's type: the first word of its line
    name: str  # the word after it (a function's name, an Explain's kind)


_LINE = re.compile(r"^( *)(\S+)(?: +(\S+))?")


def _nodes(lines: list[str]) -> list[_Node]:
    nodes = []
    for line in lines:
        match = _LINE.match(line)
        if match:
            nodes.append(_Node(len(match.group(1)), match.group(2), match.group(3) or ""))
    return nodes


def _is_read_root(kind: str) -> bool:
    return kind in _READ_ROOTS or kind.startswith(_READ_ROOT_PREFIXES)


def check_ast(lines: list[str]) -> None:
    """Refuse unless the EXPLAIN AST lines are those of one harmless read statement.

    Names in the dump are not escaped (an alias may hold a newline and fake a line), so every
    rule refuses on something being present: a faked line can only add refusals, never hide a
    real node. The root and the nodes right after a TableExpression hold no user text."""
    nodes = _nodes(lines)
    if not nodes:
        raise ReadOnlyRefused("empty statement")
    root = nodes[0]
    statements = [root]
    if root.kind == "Explain":
        inner = next((n for n in nodes[1:] if n.depth == 1), None)
        if inner is None or not _is_read_root(inner.kind):
            raise ReadOnlyRefused("EXPLAIN of a statement that is not a read")
        statements.append(inner)
    elif not _is_read_root(root.kind):
        raise ReadOnlyRefused(f"only SELECT, WITH, EXPLAIN, SHOW, DESCRIBE, EXISTS: {root.kind}")
    for statement in statements:
        depth = statement.depth + 1
        start = nodes.index(statement) + 1
        for node in nodes[start:]:
            if node.depth < depth:
                break
            if node.depth == depth and node.kind == "Literal":
                raise ReadOnlyRefused("INTO OUTFILE is refused")
    for i, node in enumerate(nodes):
        if node.kind == "Set":
            raise ReadOnlyRefused("SETTINGS clauses are refused")
        if node.kind != "Function":
            continue
        name = node.name.lower()
        if name in _OUTSIDE or name.startswith(_OUTSIDE_PREFIXES):
            raise ReadOnlyRefused(f"function {node.name} reaches outside the database")
        parent = _parent(nodes, i)
        if parent is not None and parent.kind == "TableExpression" and name not in TABLE_FUNCTIONS:
            raise ReadOnlyRefused(f"table function {node.name} is not allowed")


def _parent(nodes: list[_Node], index: int) -> _Node | None:
    depth = nodes[index].depth
    for node in reversed(nodes[:index]):
        if node.depth < depth:
            return node
    return None


def check_read_only(explain: Callable[[str], list[str]], sql: str) -> None:
    """Refuse `sql` (ReadOnlyRefused) unless it is one harmless read statement.

    `explain(sql)` returns the lines of `EXPLAIN AST <sql>` and raises if `sql` is not exactly
    one statement (see ClientExplainer). A multi-statement error is a refusal; any other error
    (a syntax error, a missing parameter) propagates for the caller to report as a query error.
    """
    if not sql.strip():
        raise ReadOnlyRefused("empty statement")
    try:
        lines = explain(sql)
    except ReadOnlyRefused:
        raise
    except Exception as error:
        text = str(error)
        if _MULTI in text:
            raise ReadOnlyRefused("one statement per query") from error
        if "(READONLY)" in text:  # a SETTINGS clause is applied even to EXPLAIN
            raise ReadOnlyRefused("SETTINGS clauses are refused") from error
        raise
    check_ast(lines)


class RawQueryClient(Protocol):
    def raw_query(
        self,
        query: str,
        parameters: Any = None,
        settings: Any = None,
        fmt: str | None = None,
    ) -> bytes: ...


class ClientExplainer:
    """`explain` for a clickhouse-connect client (chDB or HTTP), with the query's parameters.

    chDB runs every statement of a `;`-separated text, EXPLAIN included, so the text is first
    parsed as a value (formatQuery refuses several statements) and only then explained."""

    def __init__(
        self,
        client: RawQueryClient,
        parameters: Mapping[str, object] | None = None,
        settings: Mapping[str, object] | None = None,
    ) -> None:
        self.client = client
        self.parameters = dict(parameters or {})
        self.settings = dict(settings or {}) or None  # per-request settings (HTTP servers)

    def __call__(self, sql: str) -> list[str]:
        formatted = self.client.raw_query(
            "SELECT formatQuerySingleLine({footfall_sql:String})",
            parameters={"footfall_sql": sql},
            settings=self.settings,
            fmt="TabSeparatedRaw",
        ).decode("utf-8", "replace")
        # ClickHouse's own rendering starts with the statement's keyword (comments gone): refuse
        # other statements here, as some (SYSTEM ...) do not even EXPLAIN.
        first = _FIRST_WORD.match(formatted)
        if first is None or first.group(1).upper() not in _READ_WORDS:
            word = first.group(1).upper() if first else "?"
            raise ReadOnlyRefused(f"only SELECT, WITH, EXPLAIN, SHOW, DESCRIBE, EXISTS: {word}")
        body = self.client.raw_query(
            "EXPLAIN AST " + sql,
            parameters=self.parameters or None,
            settings=self.settings,
            fmt="TabSeparatedRaw",
        )
        return body.decode("utf-8", "replace").splitlines()


def reset_session(client: Any) -> None:
    """chDB keeps the output a failed query had written (e.g. the header before
    TIMEOUT_EXCEEDED) and prepends it to the session's next result: absorb it after a failure, so
    the next query (its read-only check first) does not read it as its own."""
    try:
        client.raw_query("SELECT 1", fmt="TabSeparatedRaw")
    except Exception as error:  # the session itself is broken: the next query will say so
        logging.getLogger(__name__).warning("could not reset a read session: %s", error)
