"""Issue 12, point 4, what can be checked without a ClickHouse cluster. The cluster migrations
(deploy/clickhouse/cluster/migrations) are rendered from the single-node ones and kept in step;
every table is replicated and every change ON CLUSTER; and the analytics reports give the same
answers on the cluster schema as on the single-node one. For that last check the cluster SQL runs
on chDB as one shard of one replica: ON CLUSTER and the replication arguments dropped, the
Distributed tables replaced by Merge tables over the local ones (inserts go to the local tables,
as a Distributed table would forward them). Replication, Keeper and sharding across servers run
only where Docker does (`docker compose --profile chcluster`, deploy/clickhouse/cluster/README.md).
"""

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall import ch_cluster
from footfall_analytics import (
    Period,
    TopParams,
    top,
)
from footfall_analytics.generate import COLUMNS, START, generate
from tests.support.report_parity import assert_reports_agree

ALL = Period(START - timedelta(days=1), START + timedelta(weeks=30))


def test_cluster_migrations_are_rendered_from_the_single_node_ones() -> None:
    on_disk = {p.name: p.read_text() for p in ch_cluster.target_dir().glob("*.sql")}
    assert on_disk == ch_cluster.rendered(), "run `python -m footfall.ch_cluster`"


def test_every_table_is_replicated_and_every_change_on_cluster() -> None:
    for name, sql in ch_cluster.rendered().items():
        statements = [s for s in sql.split(";\n") if s.strip() and not s.startswith("--")]
        for statement in statements:
            if statement.startswith(("CREATE", "ALTER")):
                assert "ON CLUSTER '{cluster}'" in statement, (name, statement[:80])
        engines = re.findall(r"ENGINE = (\w+)", sql)
        assert all(e.startswith("Replicated") or e == "Distributed" for e in engines), name


def test_an_unknown_statement_stops_the_rendering() -> None:
    with pytest.raises(ch_cluster.ClusterSqlError):
        ch_cluster.render_statement("CREATE TABLE IF NOT EXISTS orders (id String) ENGINE = Log")
    with pytest.raises(ch_cluster.ClusterSqlError):  # schema and data change in one ALTER
        ch_cluster.render_statement(
            "ALTER TABLE events ADD COLUMN x UInt8 DEFAULT 1, MATERIALIZE COLUMN x"
        )


def one_shard(sql: str) -> str:
    """The cluster SQL as one shard of one replica, runnable on chDB."""
    sql = sql.replace(" ON CLUSTER '{cluster}'", "")
    sql = re.sub(r"Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(, )?", r"\1(", sql)
    sql = re.sub(r"ENGINE = Distributed\('\{cluster\}', currentDatabase\(\), '(\w+)', .*\)",
                 r"ENGINE = Merge(currentDatabase(), '^\1$')", sql)  # fmt: skip
    return re.sub(r"\b(INSERT INTO|TO) (events|identity_links)\b(?!_)", r"\1 \2_local", sql)


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Client]]:
    """(single-node schema, cluster schema as one shard), holding the same events, duplicates
    included (FINAL must drop them on both)."""
    work = tmp_path_factory.mktemp("chcluster")
    dsn = f"chdb://{work / 'ch'}"
    shard_sql = work / "migrations"
    shard_sql.mkdir()
    for name, sql in ch_cluster.rendered().items():
        (shard_sql / name).write_text(one_shard(sql))
    made = []
    for database, folder, table in (
        ("single", ch_cluster.source_dir(), "events"),
        ("cluster", shard_sql, "events_local"),
    ):
        ensure_database(dsn, database)
        client = connect(dsn, database)
        migrations.apply(client, folder)
        rows, _ = generate(seed=11, persons=150)
        for part in (rows[: len(rows) // 2], rows[len(rows) // 2 :], rows[::13]):
            client.insert(table, part, column_names=list(COLUMNS))
        made.append(client)
    yield made[0], made[1]
    for client in made:
        client.close()


def test_reports_agree_on_the_cluster_schema(clients: tuple[Client, Client]) -> None:
    single, cluster = clients
    assert_reports_agree(cluster, single, ALL.start)
    assert top(single, TopParams(period=ALL)), "no data: the comparison would prove nothing"
