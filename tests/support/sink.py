"""Run the ClickHouse sink as a real subprocess and talk to it over HTTP (tests only)."""

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from confluent_kafka import Producer

from eventschema import Event, EventCodec
from footfall.broker import find_free_ports
from tests.support.processes import start_healthy

REPO = Path(__file__).resolve().parents[2]
READ_KEY = "test-sink-read-key-" + uuid.uuid4().hex  # the sink's read key in tests
AUTH = {"Authorization": f"Bearer {READ_KEY}"}


def make_events(count: int, visitors: int = 50) -> list[Event]:
    now = datetime.now(UTC)
    return [
        Event(
            message_id=str(uuid.uuid4()), type="track", event="Purchase", timestamp=now,
            received_at=now, anonymous_id=f"anon-{i % visitors}",
            properties={"value": i, "currency": "EUR"},
            context={"page": {"url": f"https://shop.test/p/{i}?utm_source=news&gclid=G{i}"}},
        )
        for i in range(count)
    ]  # fmt: skip


def headers(event: Event, codec: EventCodec) -> list[tuple[str, str | bytes | None]]:
    pairs: list[tuple[str, str | bytes | None]] = []
    pairs.extend(event.headers(codec.writer.label))
    return pairs


def produce(bootstrap: str, topic: str, events: Iterable[Event]) -> int:
    codec = EventCodec()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 20})  # fmt: skip
    count = 0
    for event in events:
        payload = codec.encode(event.to_record())
        while True:
            try:
                producer.produce(topic, payload, event.key, headers=headers(event, codec))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        count += 1
    assert producer.flush(30) == 0
    return count


def produce_raw(
    bootstrap: str, topic: str, payloads: Iterable[bytes], partition: int | None = None
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for payload in payloads:
        if partition is None:
            producer.produce(topic, payload, b"poison")
        else:
            producer.produce(topic, payload, b"poison", partition=partition)
    assert producer.flush(30) == 0


@dataclass
class Sink:
    bootstrap: str
    prefix: str
    data_dir: Path
    batch_size: int = 1000
    port: int = field(default_factory=lambda: find_free_ports(1)[0])
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    commit_seconds: float = 1.0
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FOOTFALL_DATA_DIR": str(self.data_dir),
            "FOOTFALL_KAFKA_BOOTSTRAP": self.bootstrap,
            "FOOTFALL_TOPIC_PREFIX": self.prefix,
            "FOOTFALL_CLICKHOUSE_DSN": f"chdb://{self.data_dir / 'clickhouse'}",
            "FOOTFALL_SINK_GROUP": f"{self.prefix}sink",
            "FOOTFALL_SINK_HTTP_PORT": str(self.port),
            "FOOTFALL_SINK_BATCH_SIZE": str(self.batch_size),
            "FOOTFALL_SINK_BATCH_SECONDS": "0.5",
            "FOOTFALL_SINK_COMMIT_SECONDS": str(self.commit_seconds),
            "FOOTFALL_SINK_DLQ_TIMEOUT_SECONDS": "2",
            "FOOTFALL_READ_KEYS": READ_KEY,
            **self.extra_env,
        }

    def write_key_file(self) -> None:
        """Where `footfall up` keeps the local read key: processes sharing this data dir (the
        conversions uploader) find it there."""
        secrets = self.data_dir / "secrets"
        secrets.mkdir(parents=True, exist_ok=True)
        (secrets / "read_key").write_text(READ_KEY + "\n")

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        log = self.data_dir / f"sink-{self.starts}.log"
        self.write_key_file()
        self.proc = start_healthy(
            "consumers.clickhouse_sink", self.env(), log, f"{self.url}/healthz", timeout
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(30)

    def query(self, sql: str, fmt: str = "TabSeparated") -> httpx.Response:
        return httpx.post(
            f"{self.url}/query", params={"format": fmt}, content=sql, headers=AUTH, timeout=60
        )

    def scalar_row(self, sql: str) -> list[int]:
        response = self.query(sql)
        assert response.status_code == 200, response.text
        return [int(value) for value in response.text.split()]

    def wait_rows(self, expected: int, timeout: float = 120.0) -> list[int]:
        """Wait until count() FINAL reaches `expected`; returns [final, distinct, raw]."""
        sql = (
            "SELECT (SELECT count() FROM events FINAL), uniqExact(message_id), count() FROM events"
        )
        deadline = time.monotonic() + timeout
        counts = self.scalar_row(sql)
        while counts[0] < expected and time.monotonic() < deadline:
            time.sleep(0.5)
            counts = self.scalar_row(sql)
        return counts
