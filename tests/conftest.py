"""Shared fixtures: one real local Kafka broker per test session, unique topics per test."""

import os
import uuid
from collections.abc import Iterator

import pytest

from footfall.cluster import LocalCluster
from footfall.topics import ensure_topics
from tests.support.local_cluster import start_cluster
from tests.support.local_kafka import start_broker

# `sink` (a real sink process on chDB), `fakes` and `google` (the ad-platform fakes); a module's
# own fixture of the same name wins.
pytest_plugins = ["tests.support.shared_fixtures"]


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """127.0.0.1:<port> of a broker started for this session (FOOTFALL_TEST_KAFKA_BOOTSTRAP
    points the tests at an existing broker instead)."""
    external = os.environ.get("FOOTFALL_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    broker = start_broker(tmp_path_factory.mktemp("kafka"))
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A 3-node KRaft cluster (combined broker+controller nodes, 512 MB heap each) for one test,
    which may kill and restart its nodes; every node is stopped afterwards. Heavy: use sparingly."""
    cluster = start_cluster(tmp_path_factory.mktemp("kafka-cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def topic_prefix(kafka_bootstrap: str) -> str:
    """A fresh prefix whose events / quarantine / dlq topics exist, so tests never share data."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    ensure_topics(kafka_bootstrap, prefix)
    return prefix
