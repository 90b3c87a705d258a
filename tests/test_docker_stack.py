"""The pipeline against the official server images: apache/kafka and clickhouse/clickhouse-server.

The other tests use the local broker and chDB; this one checks the same code against what a
docker compose deployment runs (a KRaft broker from the Apache image, a real ClickHouse server
over HTTP). The API and the sink run as local subprocesses, exactly as `python -m` starts them,
pointed at the containers through the FOOTFALL_* variables. Without a Docker engine it skips fast.
"""

import os
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parent.parent
KAFKA_IMAGE = "apache/kafka:4.1.1"
CLICKHOUSE_IMAGE = "clickhouse/clickhouse-server:25.8"
CH_USER, CH_PASSWORD, CH_DATABASE = "footfall", "footfall-test", "footfall"
WRITE_KEY = "docker-test-key"


def _docker_unreachable() -> str | None:
    """Why no Docker engine can be used, or None when one answers a ping."""
    try:
        import docker  # type: ignore[import-untyped]  # testcontainers' client library

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure (no socket, refused, bad DOCKER_HOST) means "skip"
        return f"no Docker engine reachable: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="module")
def docker_engine() -> None:
    reason = _docker_unreachable()
    if reason:
        pytest.skip(reason)


def _wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # not up yet; keep the last error for the failure message
            last = exc
        time.sleep(every)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s (last error: {last!r})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def kafka_bootstrap(docker_engine: None) -> Iterator[str]:
    """A single-node KRaft broker from the official Apache image, configured by env like compose."""
    from confluent_kafka.admin import AdminClient
    from testcontainers.core.container import DockerContainer

    script = "/tmp/footfall-start.sh"
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_exposed_ports(9092)
        .with_env("CLUSTER_ID", "fOoTfAlLdOcKeRtEsT0001")
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,BROKER://:19092,CONTROLLER://:9093")
        .with_env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
        )
        .with_env("KAFKA_INTER_BROKER_LISTENER_NAME", "BROKER")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        # The advertised address is the host's mapped port, known only after the start: the
        # container waits for a script that sets it and then runs the image's own entry point.
        .with_command(f'sh -c "while [ ! -f {script} ]; do sleep 0.1; done; exec sh {script}"')
    )
    container.start()
    try:
        host, port = container.get_container_host_ip(), container.get_exposed_port(9092)
        bootstrap = f"{host}:{port}"
        start = (
            f"export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://{bootstrap},BROKER://localhost:19092\n"
            "exec /etc/kafka/docker/run\n"
        ).encode()
        _put_file(container.get_wrapped_container(), script, start)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        _wait_for("Kafka", lambda: admin.list_topics(timeout=2).brokers != {}, timeout=120)
        yield bootstrap
    finally:
        container.stop()


def _put_file(container: Any, path: str, content: bytes) -> None:
    archive = BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode, info.mtime = len(content), 0o755, int(time.time())
        tar.addfile(info, BytesIO(content))
    container.put_archive("/", archive.getvalue())


@pytest.fixture(scope="module")
def clickhouse(docker_engine: None) -> Iterator[dict[str, Any]]:
    """A ClickHouse server from the official image, with the user the sink logs in as."""
    from testcontainers.community.clickhouse import ClickHouseContainer

    container = ClickHouseContainer(
        CLICKHOUSE_IMAGE, username=CH_USER, password=CH_PASSWORD, dbname=CH_DATABASE
    )
    with container:
        host, port = container.get_container_host_ip(), int(container.get_exposed_port(8123))
        yield {"host": host, "port": port, "dsn": f"http://{CH_USER}:{CH_PASSWORD}@{host}:{port}"}


def _start(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, clickhouse: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Topics created, then the sink and the API as subprocesses, configured only by env."""
    from footfall.topics import ensure_topics

    prefix = f"dockertest_{uuid.uuid4().hex[:8]}_"
    ensure_topics(kafka_bootstrap, prefix)
    data_dir = tmp_path_factory.mktemp("footfall-docker")
    api_port, sink_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "FOOTFALL_DATA_DIR": str(data_dir),
        "FOOTFALL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FOOTFALL_TOPIC_PREFIX": prefix,
        "FOOTFALL_WRITE_KEYS": WRITE_KEY,
        "FOOTFALL_API_HOST": "127.0.0.1",
        "FOOTFALL_API_PORT": str(api_port),
        "FOOTFALL_CLICKHOUSE_DSN": clickhouse["dsn"],
        "FOOTFALL_CLICKHOUSE_DATABASE": CH_DATABASE,
        "FOOTFALL_SINK_GROUP": f"{prefix}sink",
        "FOOTFALL_SINK_HTTP_HOST": "127.0.0.1",
        "FOOTFALL_SINK_HTTP_PORT": str(sink_port),
        "FOOTFALL_SINK_BATCH_SECONDS": "0.2",
    }
    sink_log, api_log = data_dir / "sink.log", data_dir / "api.log"
    sink = _start("consumers.clickhouse_sink", env, sink_log)
    api = _start("producer_api", env, api_log)
    try:
        started = (("sink", sink, sink_port, sink_log), ("api", api, api_port, api_log))
        for name, proc, port, log in started:
            url = f"http://127.0.0.1:{port}/healthz"

            def healthy(proc: subprocess.Popen[bytes] = proc, url: str = url) -> bool:
                assert proc.poll() is None, f"exited with {proc.returncode}"
                return httpx.get(url, timeout=2).status_code == 200

            try:
                _wait_for(name, healthy, timeout=90)
            except (TimeoutError, AssertionError) as exc:
                pytest.fail(f"{name} did not start: {exc}\n--- {log.name} ---\n{_tail(log)}")
        yield {"api": f"http://127.0.0.1:{api_port}", "logs": (sink_log, api_log)}
    finally:
        _stop(api)
        _stop(sink)


def _segment_batch(run: str) -> list[dict[str, Any]]:
    """A few events as Segment's SDKs send them (analytics.js / analytics-python shapes)."""
    now = "2025-11-27T12:00:00.000Z"
    context = {"library": {"name": "analytics-python", "version": "2.3.4"}, "ip": "203.0.113.7"}
    return [
        {
            "type": "track",
            "messageId": f"{run}-track",
            "event": "Order Completed",
            "userId": "user-1",
            "properties": {"revenue": 42.5, "currency": "EUR"},
            "context": context,
            "timestamp": now,
            "sentAt": now,
        },
        {
            "type": "identify",
            "messageId": f"{run}-identify",
            "userId": "user-1",
            "traits": {"plan": "pro"},
            "context": context,
            "timestamp": now,
        },
        {
            "type": "page",
            "messageId": f"{run}-page",
            "anonymousId": "visitor-9",
            "name": "Pricing",
            "properties": {"path": "/pricing", "url": "https://example.com/pricing?utm_source=ad"},
            "context": {**context, "page": {"path": "/pricing", "referrer": "https://ex.org/"}},
            "timestamp": now,
        },
    ]


def test_events_reach_clickhouse_server(stack: dict[str, Any], clickhouse: dict[str, Any]) -> None:
    import clickhouse_connect

    run = uuid.uuid4().hex
    batch = _segment_batch(run)
    answer = httpx.post(
        f"{stack['api']}/v1/batch", auth=(WRITE_KEY, ""), json={"batch": batch}, timeout=30
    )
    assert answer.status_code == 200, answer.text

    client = clickhouse_connect.get_client(
        host=clickhouse["host"], port=clickhouse["port"], username=CH_USER, password=CH_PASSWORD
    )
    ids = [event["messageId"] for event in batch]
    query = (
        f"SELECT message_id, type, event, user_id, anonymous_id FROM {CH_DATABASE}.events FINAL "
        "WHERE message_id IN {ids:Array(String)} ORDER BY message_id"
    )
    rows: list[tuple[Any, ...]] = []

    def all_arrived() -> bool:
        nonlocal rows
        rows = [tuple(row) for row in client.query(query, parameters={"ids": ids}).result_rows]
        return len(rows) == len(ids)

    try:
        _wait_for("rows in ClickHouse", all_arrived, timeout=60)
    except TimeoutError as exc:
        sink_log, api_log = stack["logs"]
        logs = f"--- sink ---\n{_tail(sink_log)}\n--- api ---\n{_tail(api_log)}"
        pytest.fail(f"{exc}; got {rows}\n{logs}")
    finally:
        client.close()

    assert rows == [
        (f"{run}-identify", "identify", "", "user-1", ""),
        (f"{run}-page", "page", "", "", "visitor-9"),
        (f"{run}-track", "track", "Order Completed", "user-1", ""),
    ]
