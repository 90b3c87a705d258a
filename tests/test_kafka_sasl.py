"""A broker that asks who you are: SASL/SCRAM-SHA-512 logins and least-privilege ACLs.

One SASL broker for the module (its own ports and directory). The real API and sink processes
run as users `api` and `sink`, configured only through FOOTFALL_KAFKA_* in their environment.
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from eventschema.kafka_contract import (
    KafkaCluster,
    Topics,
    client_config,
    consumer_config,
    producer_config,
)
from footfall.broker import LocalBroker
from footfall.kafka_acls import api_acls, create_acls, sink_acls
from footfall.kafka_auth import BrokerAuth, sasl_env
from footfall.topics import ensure_topics
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.local_kafka import start_broker
from tests.support.sink import Sink

PREFIX = "sasl_"
SINK_GROUP = f"{PREFIX}sink"  # the group tests/support/sink.py gives the sink


@dataclass
class SecureKafka:
    broker: LocalBroker
    auth: BrokerAuth
    topics: Topics

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def env(self, user: str) -> dict[str, str]:
        return self.auth.env(user)


@dataclass
class SaslSink(Sink):
    """The real sink process, logged in as whoever `login` names."""

    login: dict[str, str] | None = None

    def env(self) -> dict[str, str]:
        return {**super().env(), **(self.login or {})}


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    auth = BrokerAuth.generate(["api", "sink"])
    broker = start_broker(tmp_path_factory.mktemp("kafka-sasl"), auth=auth)
    try:
        ensure_topics(broker.bootstrap, PREFIX, env=broker.client_env)
        topics = Topics.for_prefix(PREFIX)
        acls = api_acls("api", topics) + sink_acls("sink", topics, SINK_GROUP)
        create_acls(broker.bootstrap, acls, broker.client_env)
        yield SecureKafka(broker, auth, topics)
    finally:
        broker.stop()


def _post(url: str, run: str, count: int) -> int:
    batch = [
        {"type": "track", "event": "Signed Up", "messageId": f"{run}-{i}", "anonymousId": f"v{i}"}
        for i in range(count)
    ]
    # The API answers only after Kafka acked (its delivery timeout is 10 s); httpx's default
    # 5 s could give up first on a loaded machine.
    response = httpx.post(
        f"{url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""), timeout=30
    )
    return response.status_code


def test_api_and_sink_processes_move_events_as_their_own_users(
    secure_kafka: SecureKafka, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = ApiServer(secure_kafka.bootstrap, PREFIX, tmp_path)
    sink = SaslSink(
        secure_kafka.bootstrap, PREFIX, tmp_path / "sink", login=secure_kafka.env("sink")
    )
    try:
        with monkeypatch.context() as patch:  # ApiServer passes on our environment
            for name, value in secure_kafka.env("api").items():
                patch.setenv(name, value)
            api.start()
        assert _post(api.url, uuid.uuid4().hex[:8], 200) == 200
        _produce_poison(secure_kafka)
        sink.data_dir.mkdir()
        sink.start()
        assert sink.wait_rows(200, timeout=60) == [200, 200, 200]
        # The sink (as `sink`) dead-lettered the poison record: its DLQ grant suffices.
        assert _wait_count(secure_kafka, secure_kafka.topics.dead_letter, 1) == 1
    finally:
        api.stop()
        if sink.proc is not None:
            sink.stop()
    for log in [*tmp_path.glob("api-*.log"), *sink.data_dir.glob("sink-*.log")]:
        text = log.read_text()
        for user in ("api", "sink"):
            assert secure_kafka.auth.passwords[user] not in text, f"password in {log}"


def _produce_poison(kafka: SecureKafka) -> None:
    producer = Producer(client_config(KafkaCluster.from_env(kafka.bootstrap, kafka.env("admin"))))
    producer.produce(kafka.topics.events, b"not avro", b"poison")
    assert producer.flush(20) == 0


def _wait_count(kafka: SecureKafka, topic: str, expected: int, timeout: float = 30.0) -> int:
    """Records in `topic` (sum of high watermarks), read as admin."""
    conf = {
        **client_config(KafkaCluster.from_env(kafka.bootstrap, kafka.env("admin"))),
        "group.id": "sasl-probe",
    }
    consumer = Consumer(conf)
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        deadline = time.monotonic() + timeout
        while True:
            marks = [consumer.get_watermark_offsets(TopicPartition(topic, p), 10) for p in parts]
            count = sum(high for _low, high in marks)
            if count >= expected or time.monotonic() > deadline:
                return count
            time.sleep(0.3)
    finally:
        consumer.close()


def _first_error(consumer: Consumer, timeout: float = 30.0) -> KafkaError:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is not None:
            error = message.error()
            assert error is not None
            return error
    raise AssertionError("no error within the timeout")


def test_api_user_cannot_read_events(secure_kafka: SecureKafka) -> None:
    conf = consumer_config(
        KafkaCluster.from_env(secure_kafka.bootstrap, secure_kafka.env("api")), SINK_GROUP
    )
    consumer = Consumer(conf)
    try:
        consumer.subscribe([secure_kafka.topics.events])
        error = _first_error(consumer)
    finally:
        consumer.close()
    denied = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}
    assert error.code() in denied, error


def test_sink_user_cannot_write_events(secure_kafka: SecureKafka) -> None:
    reports: list[KafkaError | None] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        reports.append(error)

    producer = Producer(
        producer_config(KafkaCluster.from_env(secure_kafka.bootstrap, secure_kafka.env("sink")), 10)
    )
    producer.produce(secure_kafka.topics.events, b"forged", b"key", on_delivery=on_delivery)
    assert producer.flush(20) == 0
    assert len(reports) == 1 and reports[0] is not None
    assert reports[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, reports[0]


def test_wrong_password_is_refused(secure_kafka: SecureKafka) -> None:
    errors: list[KafkaError] = []
    conf = client_config(
        KafkaCluster.from_env(secure_kafka.bootstrap, sasl_env("api", "not-the-password"))
    )
    conf.update(error_cb=errors.append, log_level=0)
    admin = AdminClient(conf)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    admin.poll(1)  # serve the error callback
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
