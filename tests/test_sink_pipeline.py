"""The sink end to end: real broker, real chDB in tmp_path, the sink as a subprocess."""

import dataclasses
import random
import threading
import time
from pathlib import Path

import httpx
from confluent_kafka import Message
from confluent_kafka.admin import AdminClient

from eventschema import EventCodec
from eventschema.kafka_contract import Topics
from footfall.topics import ensure_topics
from tests.support.consumed import wait_group_caught_up
from tests.support.kafka_tools import read_all
from tests.support.metrics import sample
from tests.support.sink import Sink, make_events, produce, produce_raw


def topics(prefix: str) -> Topics:
    return Topics.for_prefix(prefix)


def wait_dead_letters(sink: Sink, count: int, timeout: float = 30.0) -> list[Message]:
    """The dead-letter topic's records, once there are `count` of them (or at the timeout)."""
    deadline = time.monotonic() + timeout
    dead = read_all(sink.bootstrap, topics(sink.prefix).dead_letter)
    while len(dead) < count and time.monotonic() < deadline:
        time.sleep(0.5)
        dead = read_all(sink.bootstrap, topics(sink.prefix).dead_letter)
    return dead


def text_headers(message: Message) -> dict[str, str]:
    return {str(k): v.decode() for k, v in list(message.headers() or []) if isinstance(v, bytes)}


def test_events_land_exactly_once_even_when_produced_twice(sink: Sink) -> None:
    events = make_events(500)
    produce(sink.bootstrap, topics(sink.prefix).events, events)
    assert sink.wait_rows(500) == [500, 500, 500]
    produce(sink.bootstrap, topics(sink.prefix).events, events)  # a producer retry, say
    # Positive signal: the sink committed past the second copy, so it has consumed it.
    wait_group_caught_up(sink.bootstrap, f"{sink.prefix}sink", topics(sink.prefix).events)
    final, distinct, raw = sink.wait_rows(500)
    # The resent copies are new Kafka records: the sink inserts them (1,000 rows written) and
    # the ReplacingMergeTree keeps one row per message_id for FINAL readers.
    assert (final, distinct) == (500, 500)
    assert 500 <= raw <= 1000, raw  # below 1,000 only where background merges collapsed some
    inserted = metric(sink, "footfall_sink_rows_written_total")
    assert inserted == 1000, inserted
    row = sink.query("SELECT utm_source, gclid != '', page_path LIKE '/p/%' FROM events LIMIT 1")
    assert row.text.split() == ["news", "1", "1"]


def test_poison_records_go_to_the_dead_letter_topic(sink: Sink) -> None:
    names = topics(sink.prefix)
    garbage = [b"not avro", b"", b"\xc3\x01" + b"\x00" * 8 + b"body"]  # last: unknown fingerprint
    produce(sink.bootstrap, names.events, make_events(100))
    produce_raw(sink.bootstrap, names.events, garbage)
    produce(sink.bootstrap, names.events, make_events(100))
    assert sink.wait_rows(200)[:2] == [200, 200]
    dead = wait_dead_letters(sink, len(garbage))
    assert sorted(m.value() or b"" for m in dead) == sorted(garbage)
    for message in dead:
        headers = text_headers(message)
        assert headers["original_topic"] == names.events
        assert int(headers["original_offset"]) >= 0 and int(headers["original_partition"]) >= 0
        assert headers["reason"] == "decode_error" and headers["step"] == "decode"
        assert int(headers["ts"]) > 0
    metrics = httpx.get(f"{sink.url}/metrics").text
    assert 'footfall_sink_dead_letters_total{reason="decode_error"} 3.0' in metrics


def test_rows_the_insert_refuses_are_isolated_and_dead_lettered(sink: Sink) -> None:
    """Valid Avro that ClickHouse itself refuses: an empty message_id violates the table's
    CONSTRAINT (no Footfall producer emits one; a raw Kafka producer can). The batch insert
    really fails; the sink checks the batch record by record, dead-letters the bad ones with
    their reason, and inserts every other row of the batch, once."""
    names = topics(sink.prefix)
    events = make_events(300, visitors=1)  # one key: one partition, so one batch
    bad = (17, 150, 299)
    for index in bad:
        events[index] = dataclasses.replace(events[index], message_id="")
    produce(sink.bootstrap, names.events, events)
    assert sink.wait_rows(297) == [297, 297, 297]
    dead = wait_dead_letters(sink, len(bad))
    assert len(dead) == len(bad)
    codec = EventCodec()
    assert all(codec.decode(m.value() or b"")["message_id"] == "" for m in dead)
    for message in dead:
        headers = text_headers(message)
        assert headers["reason"] == "missing_message_id" and headers["step"] == "process"
    metrics = httpx.get(f"{sink.url}/metrics").text
    assert 'footfall_sink_dead_letters_total{reason="missing_message_id"} 3.0' in metrics
    failures = [
        line
        for line in metrics.splitlines()
        if line.startswith("footfall_sink_insert_failures_total")
    ]
    assert failures and float(failures[0].split()[-1]) >= 1  # the refused insert really happened
    wait_group_caught_up(sink.bootstrap, f"{sink.prefix}sink", names.events)
    assert sink.scalar_row("SELECT count() FROM events") == [297]  # nothing inserted twice
    assert metric(sink, "footfall_sink_rows_written_total") == 297


def test_unavailable_dead_letter_topic_stops_the_partition_until_it_is_back(sink: Sink) -> None:
    names = topics(sink.prefix)
    admin = AdminClient({"bootstrap.servers": sink.bootstrap})
    admin.delete_topics([names.dead_letter])[names.dead_letter].result(30)
    codec = EventCodec()
    after = make_events(20)
    produce_raw(sink.bootstrap, names.events, [b"poison"], partition=0)
    produce_raw(sink.bootstrap, names.events, [codec.encode(e.to_record()) for e in after], 0)
    # Positive signal that the sink reached the poison and is holding: its dead-letter
    # attempts fail, again and again (not merely a slow sink that has not read anything yet).
    wait_metric_at_least(sink, "footfall_sink_dead_letter_failures_total", 2, timeout=60)
    assert sink.scalar_row("SELECT count() FROM events") == [0]  # nothing past the poison
    assert metric(sink, "footfall_sink_rows_written_total") == 0
    ensure_topics(sink.bootstrap, sink.prefix)
    assert sink.wait_rows(20, timeout=60) == [20, 20, 20]
    dead = read_all(sink.bootstrap, names.dead_letter)
    assert [m.value() for m in dead] == [b"poison"]


def test_query_endpoint_is_read_only(sink: Sink) -> None:
    for sql in [
        "INSERT INTO events (message_id) VALUES ('x')",
        "CREATE TABLE t (a Int8) ENGINE = Memory",
        "DROP TABLE events",
        "SET readonly = 0",
    ]:
        response = sink.query(sql)
        assert response.status_code == 403, (sql, response.text)
        assert response.json()["code"] == "read_only"
    assert sink.query("SELECT count() FROM events").status_code == 200
    assert sink.scalar_row("SELECT count() FROM system.tables WHERE name = 't'") == [0]
    assert sink.query("SELECT 1", fmt="JSONEachRow").text.strip() == '{"1":1}'


def test_sigkill_during_load_keeps_exactly_once(sink: Sink) -> None:
    total, chunk = 20_000, 500
    name = topics(sink.prefix).events
    producer = threading.Thread(target=produce_slowly, args=(sink, name, total, chunk))
    producer.start()
    kills, seen = 0, 0
    while kills < 4 and producer.is_alive():
        seen = wait_for_progress(sink, seen)  # the sink is consuming and inserting right now
        time.sleep(random.uniform(0.05, 0.8))  # so the kill lands in the middle of batches
        sink.kill()
        kills += 1
        sink.start()
    producer.join()
    wait_group_caught_up(sink.bootstrap, f"{sink.prefix}sink", name, timeout=180)
    final, distinct, raw = sink.wait_rows(total, timeout=180)
    assert (final, distinct, raw) == (total, total, total)
    assert kills >= 1  # the producer may finish early on a fast machine; one kill still counts


def test_crash_between_insert_and_commit_does_not_reinsert(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    # Commits effectively never happen, so every restart re-reads the whole topic: only the
    # stored max(kafka_offset) per partition keeps the rows from being inserted again.
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path, commit_seconds=3600)
    sink.start()
    try:
        produce(sink.bootstrap, topics(topic_prefix).events, make_events(3_000))
        for _ in range(3):
            assert sink.wait_rows(3_000) == [3_000, 3_000, 3_000]
            sink.kill()
            sink.start()
        # The restarted sink re-reads all 3,000 records and must skip every one of them.
        wait_metric_at_least(sink, "footfall_sink_records_skipped_total", 3_000, timeout=60)
        assert sink.scalar_row("SELECT count() FROM events") == [3_000]
        assert metric(sink, "footfall_sink_records_skipped_total") == 3_000
        assert metric(sink, "footfall_sink_rows_written_total") == 0  # this process wrote none
    finally:
        sink.stop()


def produce_slowly(sink: Sink, topic: str, total: int, chunk: int) -> None:
    for _ in range(total // chunk):
        produce(sink.bootstrap, topic, make_events(chunk, visitors=500))
        time.sleep(0.15)


def metric(sink: Sink, name: str) -> float:
    return sample(httpx.get(f"{sink.url}/metrics", timeout=10).text, name)


def wait_metric_at_least(sink: Sink, name: str, value: float, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    seen = metric(sink, name)
    while seen < value and time.monotonic() < deadline:
        time.sleep(0.3)
        seen = metric(sink, name)
    assert seen >= value, f"{name} reached {seen}, not {value}, in {timeout}s"
    return seen


def wait_for_progress(sink: Sink, seen: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = sink.scalar_row("SELECT count() FROM events")[0]
        if raw > seen:
            return raw
        time.sleep(0.1)
    raise AssertionError("the sink made no progress")


def test_restart_reapplies_no_migration_and_keeps_rows(sink: Sink) -> None:
    produce(sink.bootstrap, topics(sink.prefix).events, make_events(50))
    assert sink.wait_rows(50)[0] == 50
    assert sink.stop() == 0  # SIGTERM: flush, commit, exit cleanly
    sink.start()
    versions = sink.query("SELECT count(), uniqExact(version) FROM schema_migrations").text.split()
    assert versions[0] == versions[1]
    assert sink.wait_rows(50) == [50, 50, 50]
