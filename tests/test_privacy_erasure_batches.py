"""Erasure and the sink's unwritten batches (issue 13): records of a person already read from
Kafka but not yet inserted when their erasure request arrives are dropped from the batch, so the
deletion cannot be followed by an insert of their rows. In-process on the sink's own classes, with
the real broker and real chDB (the timing of a batch inside the sink process cannot be pinned)."""

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, Message, TopicPartition

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.erasure import Erasure
from consumers.clickhouse_sink.partitions import Batch, PartitionState
from consumers.clickhouse_sink.writer import connect, ensure_database
from consumers.runtime.suppressions import SuppressionReader
from eventschema import Event
from eventschema.kafka_contract import KafkaCluster, Topics
from eventschema.person import Person
from eventschema.suppressions import Request, publish, valid_id
from tests.support.sink import produce

AT = datetime(2024, 5, 6, 12, tzinfo=UTC)


def _events(run: str) -> list[Event]:
    people = [("alice", None), ("bob", None), (None, "alice"), ("alice", "bob")]
    return [
        Event(message_id=f"{run}-{n}", type="track", event="Viewed", timestamp=AT,
              received_at=AT, anonymous_id=f"{a}-{run}" if a else None,
              user_id=f"{u}-{run}" if u else None)
        for n, (a, u) in enumerate(people)
    ]  # fmt: skip


def _read(bootstrap: str, topic: str, count: int) -> list[Message]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"peek-{uuid.uuid4()}",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    messages: list[Message] = []
    deadline = time.monotonic() + 30
    while len(messages) < count and time.monotonic() < deadline:
        messages += [m for m in consumer.consume(100, 0.5) if m.error() is None]
    consumer.close()
    return messages


def test_a_new_request_drops_the_persons_records_from_unwritten_batches(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    scratch = f"{topic_prefix}events_dlq"  # any one-partition topic to hold the records
    produce(kafka_bootstrap, scratch, _events(run))
    records = _read(kafka_bootstrap, scratch, 4)
    assert len(records) == 4
    state = PartitionState(scratch, 0, -1, batch=Batch(0, 3, time.monotonic()))
    assert state.batch is not None
    state.batch.records[:] = records
    state.batch.fingerprints[:] = [(m.value() or b"")[2:10] for m in records]

    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    ensure_database(dsn, "footfall")
    client = connect(dsn, "footfall")
    migrations.apply(client, REPO_ROOT / "deploy/clickhouse/migrations")
    topic = Topics.for_prefix(topic_prefix).suppressions
    kafka = KafkaCluster(kafka_bootstrap)
    erasure = Erasure(SuppressionReader(kafka, topic), client, tmp_path / "audit.jsonl")
    try:
        # The sink's and uploader's Python rule is the SQL rule the reports use (migration 0002).
        samples = ["", " ", "null", " NULL ", "Undefined", "0", "00", "-", "[object Object]",
                   "nil ", "\tnull", "anonymous", "alice", "NaN", "true", "\uff4eull",
                   "\u0130nil"]  # fmt: skip
        for value in samples:
            sql = client.query("SELECT footfall_valid_id({v:String})", parameters={"v": value})
            assert bool(sql.result_rows[0][0]) == valid_id(value), repr(value)
        erasure.start()
        assert all(not erasure.suppressed(m.value() or b"") for m in records)
        request = Request.of(Person(f"alice-{run}", (f"alice-{run}",)), "test", "")
        publish(kafka, topic, request, 10)
        deadline = time.monotonic() + 30
        while request.request_id not in erasure.applied and time.monotonic() < deadline:
            erasure.step([state])
            time.sleep(0.1)
    finally:
        erasure.close()
        client.close()
    # Kept: Bob's device, and Bob logged in on Alice's device (his, by his user id).
    kept = [m.value() for m in state.batch.records]
    assert kept == [records[1].value(), records[3].value()]
    assert state.batch.fingerprints == [(v or b"")[2:10] for v in kept]
