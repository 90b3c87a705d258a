"""The sink inserts the due batches of several partitions at once (consumers/clickhouse_sink/
combined.py). When such an insert fails after its rows were stored (the answer is lost), the
partitions' stored offsets are read back before anything is retried, so no row is stored twice
even though the per-partition retries would carry other dedup tokens.

The lost answer is real (tests/test_sink_lost_insert_answer.py): a materialized view that throws
for partition 0 while a file says `fault`, after ClickHouse wrote the `events` part; merges are
stopped, so count() shows every stored copy."""

import re
from pathlib import Path

from tests.support.consumed import wait_group_caught_up
from tests.support.sink import Sink, make_events
from tests.test_documented_sink_transient_errors import (
    FAULTY,
    HEALTHY,
    insert_failures,
    produce_to,
    set_switch,
)
from tests.test_sink_lost_insert_answer import migrations_with_lost_answers


def test_a_combined_insert_whose_answer_was_lost_is_not_stored_twice(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    switch = tmp_path / "fault-switch"
    set_switch(switch, "fault")
    folder = migrations_with_lost_answers(tmp_path / "migrations", switch)
    topic = f"{topic_prefix}events"
    # Both partitions hold records before the sink starts, and its window is long enough for
    # the first fetches of both: the first insert takes both batches.
    produce_to(kafka_bootstrap, topic, FAULTY, make_events(40))
    produce_to(kafka_bootstrap, topic, HEALTHY, make_events(30))
    env = {"FOOTFALL_MIGRATIONS_DIR": str(folder), "FOOTFALL_SINK_BATCH_SECONDS": "3"}
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path, extra_env=env)
    sink.start()
    try:
        # The fault stays on: the partitions catch up only because the offsets read back
        # show that the failed insert stored every row.
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}sink", topic)
        log = (tmp_path / f"sink-{sink.starts}.log").read_text()
        combined = re.findall(rf"insert ({topic}:\S+,\S+) failed", log)
        assert combined == [f"{topic}:{FAULTY}:0-39,{HEALTHY}:0-29"], combined
        assert insert_failures(sink) == 1
        assert sink.scalar_row("SELECT count(), uniqExact(message_id) FROM events") == [70, 70]
        by_partition = "SELECT kafka_partition, count() FROM events GROUP BY 1 ORDER BY 1"
        assert sink.scalar_row(by_partition) == [FAULTY, 40, HEALTHY, 30]
    finally:
        sink.stop()
