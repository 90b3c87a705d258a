"""`footfall privacy export`: every stored event of one person, as JSON lines (GDPR Art. 15).

A person is who the reports count as one (eventschema.person, shared with `privacy delete`):
a user id with every anonymous id whose identity_map entry names it, or an anonymous id linked
to no user. An event is the person's when its own valid user id is theirs, or when it has no valid
user id and its anonymous id is theirs. Reads go through the sink's /query (only the sink may
open chDB) with the operator's read key; ids travel as bound parameters, never as SQL text.
"""

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from eventschema import person
from eventschema.person import Person
from eventschema.read_key_file import local_read_key
from footfall.config import RunConfig

if TYPE_CHECKING:  # imported when run: clickhouse-connect would slow every `footfall` command
    from eventschema.sink_query import SinkQuery

# JSON text in String columns (0001_create_events.sql): decoded in the export.
JSON_COLUMNS = frozenset({"properties", "traits", "context", "integrations"})
PAGE_ROWS = 10_000  # well under the read path's max_result_rows
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COLUMNS = """SELECT name FROM system.columns
WHERE database = currentDatabase() AND table = 'events'
    AND default_kind IN ('', 'DEFAULT', 'MATERIALIZED')
ORDER BY position"""
# The person's events, as events_resolved's person_id assigns them.
_OF_USER = """(footfall_valid_id(user_id) AND user_id = {user:String})
    OR (NOT footfall_valid_id(user_id) AND anonymous_id IN
        (SELECT anonymous_id FROM identity_map WHERE user_id = {user:String}))"""
_OF_ANONYMOUS = "NOT footfall_valid_id(user_id) AND anonymous_id = {anon:String}"


class PrivacyError(RuntimeError):
    """The request cannot be answered (a placeholder id, the sink refused)."""


class Store:
    """The few reads the export makes, through the sink's /query."""

    def __init__(self, query: "SinkQuery") -> None:
        self.query = query

    def rows(self, sql: str, **parameters: Any) -> list[dict[str, Any]]:
        body = self.query.post(sql, parameters, "JSONEachRow")
        return [orjson.loads(line) for line in body.split(b"\n") if line]

    def resolve(self, user_id: str | None, anonymous_id: str | None) -> Person:
        """The person of a user id or an anonymous id (eventschema.person, the one definition)."""
        try:
            return person.resolve(self.rows, user_id, anonymous_id)
        except person.PlaceholderId as exc:
            raise PrivacyError(str(exc)) from None

    def columns(self) -> list[str]:
        names = [str(row["name"]) for row in self.rows(_COLUMNS)]
        if not names or not all(_NAME.match(name) for name in names):
            raise PrivacyError(f"unexpected columns of the events table: {names}")
        return names

    def events(self, person: Person) -> Iterator[dict[str, Any]]:
        """The person's events in time order, a page at a time (keyset: timestamp, message_id)."""
        if person.user_id is None:
            where, ids = _OF_ANONYMOUS, {"anon": person.anonymous_ids[0]}
        else:
            where, ids = _OF_USER, {"user": person.user_id}
        select = f"SELECT {', '.join(self.columns())} FROM events FINAL WHERE ({where})"
        order = f" ORDER BY timestamp, message_id LIMIT {PAGE_ROWS}"
        page = self.rows(select + order, **ids)
        while page:
            yield from page
            if len(page) < PAGE_ROWS:
                return
            last = page[-1]
            after = " AND (timestamp, message_id) > ({t:DateTime64(3, 'UTC')}, {m:String})"
            page = self.rows(
                select + after + order, **ids, t=last["timestamp"], m=last["message_id"]
            )


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its JSON text columns as JSON values (text that is not JSON stays text)."""
    out = dict(row)
    for name in JSON_COLUMNS.intersection(row):
        with contextlib.suppress(orjson.JSONDecodeError):
            out[name] = orjson.loads(row[name])
    return out


def write_export(store: Store, person: Person, out: IO[bytes]) -> int:
    """One JSON object per event, one per line; returns how many."""
    count = 0
    for row in store.events(person):
        out.write(orjson.dumps(decoded(row)) + b"\n")
        count += 1
    return count


def _export_to(store: Store, person: Person, target: str | None) -> int:
    """To stdout, or to a file readable by its owner only, renamed into place when complete."""
    if target is None:
        count = write_export(store, person, sys.stdout.buffer)
        sys.stdout.flush()
        return count
    partial = Path(f"{target}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            count = write_export(store, person, out)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return count


def cmd_export(args: argparse.Namespace) -> int:
    if args.user_id is None and args.anonymous_id is None:
        print(
            "footfall privacy export: give --user-id or --anonymous-id (whose events to export)",
            file=sys.stderr,
        )
        return 2
    from eventschema.sink_query import SinkQuery, SinkQueryError

    cfg = RunConfig.from_env()
    # FOOTFALL_READ_KEY, else the key `footfall up` keeps in <data dir>/secrets/read_key.
    key = cfg.read_key or local_read_key(cfg.data_dir)
    query = SinkQuery(f"{cfg.sink_url}/query", key, timeout=args.timeout)
    try:
        store = Store(query)
        person = store.resolve(args.user_id, args.anonymous_id)
        count = _export_to(store, person, args.out)
    except (PrivacyError, SinkQueryError) as exc:
        print(f"footfall privacy export: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SinkQueryError) and exc.status is None else 1
    finally:
        query.close()
    where = f" to {args.out}" if args.out else ""
    print(f"footfall: exported {count} events of {person.describe()}{where}", file=sys.stderr)
    return 0


def add_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """`footfall privacy export|delete` on the CLI's subcommands."""
    from footfall import privacy_delete  # it builds on this module

    privacy = sub.add_parser("privacy", help="a person's stored data (export, delete)")
    actions = privacy.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export", help="every stored event of a person and their linked ids, as JSON lines"
    )
    who = export.add_mutually_exclusive_group()
    who.add_argument("--user-id", help="the person's user id")
    who.add_argument("--anonymous-id", help="one of the person's anonymous ids")
    export.add_argument("--out", help="write to this file (created mode 0600); default stdout")
    export.add_argument("--timeout", type=float, default=60.0, help="seconds per query")
    export.set_defaults(func=cmd_export)
    privacy_delete.add_command(actions)
