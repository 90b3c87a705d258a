"""Versioned migrations on a real chDB path: applied once, a second run is a no-op."""

from pathlib import Path

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.processor import COLUMNS
from consumers.clickhouse_sink.writer import connect, ensure_database
from eventschema.stored_columns import STORED_COLUMNS
from footfall_analytics.generate import COLUMNS as GENERATED_COLUMNS
from footfall_analytics.sql import REPORT_COLUMNS

FOLDER = REPO_ROOT / "deploy/clickhouse/migrations"


def test_migrations_apply_once_and_create_the_events_table(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'ch'}"
    ensure_database(dsn, "footfall")
    client = connect(dsn, "footfall")
    first = migrations.apply(client, FOLDER)
    second = migrations.apply(client, FOLDER)
    assert first == [m.version for m in migrations.discover(FOLDER)] and first[0] == 1
    assert second == []
    ledger = client.query("SELECT count(), uniqExact(version) FROM schema_migrations FINAL")
    assert ledger.result_rows == [(len(first), len(first))]
    described = client.query("SELECT name FROM system.columns WHERE database = 'footfall' "
                             "AND table = 'events' ORDER BY position").result_rows  # fmt: skip
    names = [row[0] for row in described]
    assert set(COLUMNS) <= set(names) and "inserted_at" in names
    # The subsets readers use are columns of the table too (the reports add derived ff_* ones),
    # and the generator writes only stored columns.
    assert set(REPORT_COLUMNS) <= set(names)
    assert set(GENERATED_COLUMNS) <= set(STORED_COLUMNS) and COLUMNS == STORED_COLUMNS
    tables = client.query("SELECT engine, sorting_key, partition_key FROM system.tables "
                          "WHERE database = 'footfall' AND name = 'events'")  # fmt: skip
    engine = tables.result_rows
    assert engine == [("ReplacingMergeTree", "message_id", "")]
    client.close()


def test_statements_ignore_comments_and_trailing_text() -> None:
    migration = migrations.Migration(
        9, "x", "-- a comment\nSELECT 1;\n-- tail\nSELECT 2;\n-- end\n"
    )
    assert migration.statements() == ["-- a comment\nSELECT 1", "-- tail\nSELECT 2"]
