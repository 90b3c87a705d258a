"""The sink's insert_deduplication_token: an insert that stored its rows but answered with an
error is retried with the same token, and ClickHouse drops the retried block.

Made real with a test-only migration (through FOOTFALL_MIGRATIONS_DIR): a materialized view on
`events` that throws for partition 0 while a file says `fault`. ClickHouse writes the `events`
part before it runs the view, so each failed insert has stored its rows: the answer the sink
sees is lost, not the data. Merges are stopped (the migration runs in the sink's process), so
the raw row count shows every block that was stored, not what ReplacingMergeTree kept."""

import shutil
from pathlib import Path

from tests.support.consumed import wait_group_caught_up
from tests.support.sink import REPO, Sink, make_events
from tests.test_documented_sink_transient_errors import (
    FAULTY,
    insert_failures,
    produce_to,
    set_switch,
    wait_until,
)


def migrations_with_lost_answers(folder: Path, switch: Path) -> Path:
    folder.mkdir()
    for sql in (REPO / "deploy" / "clickhouse" / "migrations").glob("*.sql"):
        shutil.copy(sql, folder / sql.name)
    (folder / "9997_test_stop_merges.sql").write_text("SYSTEM STOP MERGES events;\n")
    (folder / "9998_test_side.sql").write_text("CREATE TABLE test_side (n UInt8) ENGINE = Null;\n")
    (folder / "9999_test_lost_answer.sql").write_text(
        "CREATE MATERIALIZED VIEW test_lost_answer TO test_side AS\n"
        f"SELECT throwIf(kafka_partition = {FAULTY} AND file('{switch}') = 'fault') AS n\n"
        "FROM events;\n"
    )
    return folder


def test_a_retried_insert_whose_rows_were_stored_is_not_stored_twice(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    switch = tmp_path / "fault-switch"
    set_switch(switch, "fault")
    folder = migrations_with_lost_answers(tmp_path / "migrations", switch)
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path,
                extra_env={"FOOTFALL_MIGRATIONS_DIR": str(folder)})  # fmt: skip
    topic = f"{topic_prefix}events"
    sink.start()
    try:
        produce_to(kafka_bootstrap, topic, FAULTY, make_events(50))
        wait_until(lambda: insert_failures(sink) >= 3, 90, "three failed insert attempts")
        # Every attempt stored its block, yet the same token made the retries no-ops.
        assert sink.scalar_row("SELECT count() FROM events") == [50]
        set_switch(switch, "ok")
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}sink", topic)
        assert sink.scalar_row("SELECT count(), uniqExact(message_id) FROM events") == [50, 50]
    finally:
        sink.stop()
