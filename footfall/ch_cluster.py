"""Cluster migrations derived from the single-node ones (deploy/clickhouse/migrations), so the two
never drift: `python -m footfall.ch_cluster` rewrites deploy/clickhouse/cluster/migrations.

On the cluster (2 shards x 2 replicas, macros {cluster} {shard} {replica}; cluster/README.md):
- a sharded table `t` becomes `t_local` (Replicated*MergeTree, one copy per replica) plus `t`, a
  Distributed table over it, sharded by person: every event of one visitor (the Kafka key,
  anonymous_id else user_id) lands on one shard, so FINAL dedup and per-person work stay local;
- schema changes (ADD/MODIFY/DROP COLUMN) go to both, data changes (MATERIALIZE, UPDATE,
  constraints) to the local tables only; views and functions are created ON CLUSTER;
- materialized views read the shard's own inserts (`events_local`) and write through the
  Distributed target, which routes each row to its person's shard.
A statement no rule covers stops the rendering: a new kind of migration needs a decision here.
"""

import re
import sys
from pathlib import Path

from footfall import paths

ON = "ON CLUSTER '{cluster}'"
PERSON = "cityHash64(if(anonymous_id != '', anonymous_id, user_id))"
SHARDED = {"events": PERSON, "identity_links": "cityHash64(anonymous_id)"}
_SPLIT = re.compile(r";[ \t]*$", re.MULTILINE)  # as consumers/clickhouse_sink/migrations.py
_DATA_OPS = r"(MATERIALIZE|UPDATE|DELETE|ADD CONSTRAINT|DROP CONSTRAINT|ADD INDEX|DROP INDEX)\b"
_SCHEMA_OPS = r"(ADD|MODIFY|DROP|RENAME|COMMENT) COLUMN\b"
HEADER = (
    "-- Generated from deploy/clickhouse/migrations/{name} by `python -m footfall.ch_cluster`\n"
)


class ClusterSqlError(ValueError):
    """A migration statement that no cluster rule covers."""


def render_statement(sql: str) -> list[str]:
    """The cluster statements for one single-node statement."""
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    head = " ".join(code.split()[:6]).upper()
    if head.startswith("CREATE TABLE"):
        return _table(code)
    if head.startswith("ALTER TABLE"):
        return _alter(code)
    if head.startswith("CREATE MATERIALIZED VIEW"):
        view = _on_cluster(code, r"CREATE MATERIALIZED VIEW IF NOT EXISTS \w+")
        return [re.sub(r"\bFROM events\b(?!_)", "FROM events_local", view)]
    if re.match(r"CREATE (OR REPLACE )?(VIEW|FUNCTION)", head):
        return [_on_cluster(code, r"CREATE (OR REPLACE )?(VIEW|FUNCTION)( IF NOT EXISTS)? \w+")]
    if head.startswith("INSERT INTO"):  # a backfill: runs once, through the Distributed tables
        return [code.strip()]
    raise ClusterSqlError(f"no cluster rule for: {code.strip()[:120]}")


def _on_cluster(code: str, name: str) -> str:
    match = re.search(name, code)
    if match is None:
        raise ClusterSqlError(f"cannot place ON CLUSTER in: {code.strip()[:120]}")
    return f"{code[: match.end()]} {ON}{code[match.end() :]}".strip()


def _table(code: str) -> list[str]:
    match = re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", code)
    table = match.group(1) if match else ""
    if table not in SHARDED:
        raise ClusterSqlError(f"table {table or '?'}: add it to SHARDED with its sharding key")
    local = f"{table}_local"
    sql = code.replace(f"IF NOT EXISTS {table}", f"IF NOT EXISTS {local} {ON}", 1)
    engine = re.search(r"ENGINE = (\w*)MergeTree(\(([^)]*)\))?", sql)
    if engine is None:
        raise ClusterSqlError(f"table {table}: no *MergeTree engine")
    args = [f"'/clickhouse/tables/{{shard}}/{{database}}/{local}'", "'{replica}'"]
    args += [engine.group(3)] if engine.group(3) else []
    replicated = f"ENGINE = Replicated{engine.group(1)}MergeTree({', '.join(args)})"
    sql = sql[: engine.start()] + replicated + sql[engine.end() :]
    # Replicated tables deduplicate retried inserts themselves (replicated_deduplication_window).
    sql = re.sub(r"\s*SETTINGS non_replicated_deduplication_window = \d+", "", sql)
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {table} {ON} AS {local}\n"
        f"ENGINE = Distributed('{{cluster}}', currentDatabase(), '{local}', {SHARDED[table]})"
    )
    return [sql.strip(), distributed]


def _alter(code: str) -> list[str]:
    match = re.match(r"\s*ALTER TABLE (\w+)\s+", code)
    table = match.group(1) if match else ""
    if table not in SHARDED or match is None:
        raise ClusterSqlError(f"ALTER of an unknown table: {code.strip()[:120]}")
    rest = code[match.end() :].strip()
    local = f"ALTER TABLE {table}_local {ON} {rest}"
    if re.match(_DATA_OPS, rest):
        return [local]
    if re.match(_SCHEMA_OPS, rest) and not re.search(r",\s*" + _DATA_OPS, rest):
        return [local, f"ALTER TABLE {table} {ON} {rest}"]
    raise ClusterSqlError(f"split schema and data changes into two ALTERs: {code.strip()[:120]}")


def render(sql: str, name: str) -> str:
    chunks = (chunk.strip() for chunk in _SPLIT.split(sql))
    statements = [s for chunk in chunks if _has_code(chunk) for s in render_statement(chunk)]
    return HEADER.format(name=name) + "".join(f"{s};\n" for s in statements)


def _has_code(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def source_dir() -> Path:
    return paths.repo_root() / "deploy" / "clickhouse" / "migrations"


def target_dir() -> Path:
    return paths.repo_root() / "deploy" / "clickhouse" / "cluster" / "migrations"


def rendered() -> dict[str, str]:
    """File name -> cluster SQL, for every single-node migration."""
    return {p.name: render(p.read_text(), p.name) for p in sorted(source_dir().glob("*.sql"))}


def main() -> int:
    target = target_dir()
    target.mkdir(parents=True, exist_ok=True)
    files = rendered()
    for stale in {p.name for p in target.glob("*.sql")} - set(files):
        (target / stale).unlink()
    for name, sql in files.items():
        (target / name).write_text(sql)
    print(f"wrote {len(files)} cluster migrations to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
