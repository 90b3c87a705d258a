"""Versioned SQL migrations (deploy/clickhouse/migrations/NNNN_name.sql), applied once each.

Applied versions are recorded in `<database>.schema_migrations`. The SQL uses unqualified table
names and runs with the client's database set, so the same files work on chDB and on a server.
Statements are separated by a `;` at the end of a line; write no `;` at the end of comment lines.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SPLIT = re.compile(r";[ \t]*$", re.MULTILINE)
LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree ORDER BY version"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        chunks = (chunk.strip() for chunk in _SPLIT.split(self.sql))
        return [chunk for chunk in chunks if _has_code(chunk)]


def _has_code(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def discover(folder: Path) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file name must be NNNN_name.sql: {path.name}")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {folder}")
    return found


def apply(client: Client, folder: Path) -> list[int]:
    """Apply pending migrations in version order; returns the versions applied now."""
    client.command(LEDGER)
    done = {
        int(row[0]) for row in client.query("SELECT version FROM schema_migrations").result_rows
    }
    applied = []
    for migration in discover(folder):
        if migration.version in done:
            continue
        for statement in migration.statements():
            client.command(statement)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        log.info("applied migration %04d_%s", migration.version, migration.name)
        applied.append(migration.version)
    return applied


# Retention (FOOTFALL_EVENTS_TTL_DAYS) is a setting, not a versioned migration: it is compared
# with the table at every start, so changing or unsetting it takes effect. On the event time the
# reports use; ClickHouse deletes expired rows in its merges (OPTIMIZE ... FINAL forces one).
_TTL = re.compile(r" TTL (.+?)(?: SETTINGS |$)")


# The tables FOOTFALL_EVENTS_TTL_DAYS covers, each with the time a row's age counts from: the
# events, and the visitor-to-person links derived from them (a link goes when the last event
# that carried it would have gone).
RETAINED = (("events", "timestamp"), ("identity_links", "last_seen"))


def ttl_expression(column: str, days: int) -> str:
    # As ClickHouse prints it back in system.tables.engine_full, so a rerun finds it unchanged.
    return f"toDateTime({column}) + toIntervalDay({days})"


def apply_events_ttl(client: Client, days: int | None) -> dict[str, str]:
    """Make the TTL of the events and of what is derived from them `days` (None: none);
    returns what it did per table, for the log."""
    return {table: _apply_ttl(client, table, column, days) for table, column in RETAINED}


def _apply_ttl(client: Client, table: str, column: str, days: int | None) -> str:
    """On a cluster the TTL belongs to the local tables under the Distributed one."""
    on_cluster = ""
    if _engine(client, f"{table}_local") is not None:
        table, on_cluster = f"{table}_local", " ON CLUSTER '{cluster}'"
    engine = _engine(client, table) or ""
    match = _TTL.search(engine)
    current = match.group(1) if match else None
    wanted = ttl_expression(column, days) if days is not None else None
    if current == wanted:
        return f"unchanged ({wanted or 'none: rows are kept'})"
    if wanted is None:
        client.command(f"ALTER TABLE {table}{on_cluster} REMOVE TTL")
        return f"removed ({current}): rows are kept"
    client.command(f"ALTER TABLE {table}{on_cluster} MODIFY TTL {wanted}")
    return f"set to {wanted} (was {current or 'none'})"


def _engine(client: Client, table: str) -> str | None:
    rows = client.query(
        "SELECT engine_full FROM system.tables"
        " WHERE database = currentDatabase() AND name = {t:String}",
        parameters={"t": table},
    ).result_rows
    return str(rows[0][0]) if rows else None
