"""README "The sink consumer": transient ClickHouse errors are retried with jittered backoff while
the partition is paused, so the consumer stays in its group.

The error is a real ClickHouse one from a real insert into chDB: a test-only migration (through
FOOTFALL_MIGRATIONS_DIR, the shipped ones plus one) adds a CHECK constraint to `events` that
fails for partition 0 while a file outside the database says `fault`. ClickHouse checks
constraints before it writes anything, so a failed attempt stores nothing, like a server that
is briefly unavailable. The sink holds chDB, so the file is the switch the test can reach."""

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from confluent_kafka import Consumer, ConsumerGroupState, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from eventschema import Event, EventCodec
from tests.support.consumed import wait_group_caught_up
from tests.support.kafka_tools import read_all
from tests.support.metrics import sample
from tests.support.sink import REPO, Sink, headers, make_events

FAULTY, HEALTHY = 0, 1  # partitions of the events topic


def set_switch(path: Path, value: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value)
    tmp.replace(path)  # atomic: the constraint never reads half a file


def migrations_with_fault(folder: Path, switch: Path) -> Path:
    folder.mkdir()
    for sql in (REPO / "deploy" / "clickhouse" / "migrations").glob("*.sql"):
        shutil.copy(sql, folder / sql.name)
    (folder / "9999_test_transient_fault.sql").write_text(
        "ALTER TABLE events ADD CONSTRAINT test_transient_fault\n"
        f"    CHECK kafka_partition != {FAULTY} OR file('{switch}') = 'ok';\n"
    )
    return folder


def produce_to(bootstrap: str, topic: str, partition: int, events: list[Event]) -> None:
    codec = EventCodec()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for event in events:
        producer.produce(topic, codec.encode(event.to_record()), event.key,
                         headers=headers(event, codec), partition=partition)  # fmt: skip
    assert producer.flush(30) == 0


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def rows(sink: Sink, partition: int) -> int:
    return sink.scalar_row(f"SELECT count() FROM events WHERE kafka_partition = {partition}")[0]


def failed_tokens(log: Path) -> list[str]:
    return re.findall(r"insert (\S+:\d+:\d+-\d+) failed", log.read_text())


def insert_failures(sink: Sink) -> float:
    text = httpx.get(f"{sink.url}/metrics", timeout=10).text
    return sample(text, "footfall_sink_insert_failures_total")


def group_members(bootstrap: str, group: str) -> tuple[str, list[tuple[str, list[int]]]]:
    """(state, [(member id, assigned partitions of the events topic)])."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    described = admin.describe_consumer_groups([group])[group].result(timeout=30)
    members = [
        (m.member_id, sorted(tp.partition for tp in m.assignment.topic_partitions))
        for m in described.members
    ]
    state = described.state
    return ("STABLE" if state == ConsumerGroupState.STABLE else str(state)), members


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                      "enable.auto.commit": False})  # fmt: skip
    try:
        tps = probe.committed([TopicPartition(topic, p) for p in (FAULTY, HEALTHY)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        probe.close()


def test_a_transient_insert_error_is_retried_with_the_partition_paused_and_the_member_kept(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    switch = tmp_path / "fault-switch"
    set_switch(switch, "fault")
    folder = migrations_with_fault(tmp_path / "migrations", switch)
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path,
                extra_env={"FOOTFALL_MIGRATIONS_DIR": str(folder)})  # fmt: skip
    topic, group = f"{topic_prefix}events", f"{topic_prefix}sink"
    sink.start()
    try:
        produce_to(kafka_bootstrap, topic, FAULTY, make_events(50))
        produce_to(kafka_bootstrap, topic, HEALTHY, make_events(50))
        log = tmp_path / f"sink-{sink.starts}.log"

        # The healthy partition goes on while the faulty one keeps failing.
        wait_until(lambda: rows(sink, HEALTHY) == 50, 60, "the healthy partition's rows")
        wait_until(lambda: len(failed_tokens(log)) >= 1, 60, "a failed insert")
        state, members = group_members(kafka_bootstrap, group)
        assert state == "STABLE" and len(members) == 1, (state, members)
        member, assigned = members[0]
        assert FAULTY in assigned and HEALTHY in assigned, assigned
        wait_until(lambda: len(failed_tokens(log)) >= 3, 60, "three failed attempts")
        # Records that arrive meanwhile wait behind the paused partition.
        produce_to(kafka_bootstrap, topic, FAULTY, make_events(20))

        tokens = failed_tokens(log)
        assert len(set(tokens)) == 1, tokens  # the same batch and dedup token each time ...
        assert tokens[0].startswith(f"{topic}:{FAULTY}:0-")  # ... from the partition's start
        assert insert_failures(sink) >= 3
        assert rows(sink, FAULTY) == 0
        assert read_all(kafka_bootstrap, f"{topic_prefix}events_dlq") == []  # not dead letters
        # Commits are throttled (1 s): the healthy partition's may land after its rows show.
        wait_until(lambda: committed(kafka_bootstrap, group, topic)[HEALTHY] == 50, 30,
                   "the healthy partition's commit")  # fmt: skip
        offsets = committed(kafka_bootstrap, group, topic)
        assert offsets[HEALTHY] == 50 and offsets[FAULTY] < 0, offsets  # nothing committed past
        # Still the same member of the group, in a stable group: no rebalance, no eviction.
        assert group_members(kafka_bootstrap, group) == ("STABLE", [(member, assigned)])
        assert httpx.get(f"{sink.url}/healthz", timeout=10).status_code == 200

        set_switch(switch, "ok")  # the error goes away

        wait_until(lambda: rows(sink, FAULTY) == 70, 90, "the retried rows")
        wait_group_caught_up(kafka_bootstrap, group, topic)
        final, distinct, raw = sink.wait_rows(120)
        assert (final, distinct, raw) == (120, 120, 120)  # each once, nothing lost or doubled
        stored = sink.query(f"SELECT kafka_offset FROM events WHERE kafka_partition = {FAULTY} "
                            "ORDER BY kafka_offset").text.split()  # fmt: skip
        assert [int(o) for o in stored] == list(range(70))
        assert read_all(kafka_bootstrap, f"{topic_prefix}events_dlq") == []
        assert group_members(kafka_bootstrap, group) == ("STABLE", [(member, assigned)])
    finally:
        sink.stop()
