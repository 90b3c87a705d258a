"""Issue 12, point 3, where Docker runs: two sinks in one consumer group against a ClickHouse
server (the compose profile `scale`), one SIGKILLed mid-stream. Every event the API answered 2xx
is stored once. The embedded engine (chDB) allows one sink per data path, so this needs the server
image; without a Docker engine it skips (tests/test_docker_stack.py's fixtures)."""

import os
import signal
import subprocess
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_docker_stack import (  # noqa: F401  (fixtures used by name)
    CH_DATABASE,
    CH_PASSWORD,
    CH_USER,
    WRITE_KEY,
    _free_port,
    _start,
    _stop,
    _wait_for,
    clickhouse,
    docker_engine,
    kafka_bootstrap,
)

pytestmark = pytest.mark.docker


def _env(kafka: str, ch: dict[str, Any], prefix: str, data: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "FOOTFALL_DATA_DIR": str(data),
        "FOOTFALL_KAFKA_BOOTSTRAP": kafka,
        "FOOTFALL_TOPIC_PREFIX": prefix,
        "FOOTFALL_WRITE_KEYS": WRITE_KEY,
        "FOOTFALL_CLICKHOUSE_DSN": ch["dsn"],
        "FOOTFALL_CLICKHOUSE_DATABASE": CH_DATABASE,
        "FOOTFALL_SINK_GROUP": f"{prefix}sink",
        "FOOTFALL_SINK_BATCH_SECONDS": "0.2",
        "FOOTFALL_API_WORKERS": "1",
        **extra,
    }


def _healthy(proc: subprocess.Popen[bytes], port: int) -> bool:
    assert proc.poll() is None, f"exited with {proc.returncode}"
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200


def _send(api: str, run: str, start: int, count: int) -> list[str]:
    ids = [f"{run}-{i}" for i in range(start, start + count)]
    batch = [{"type": "track", "event": "Scaled", "messageId": m, "anonymousId": f"a-{m}"}
             for m in ids]  # fmt: skip
    answer = httpx.post(f"{api}/v1/batch", auth=(WRITE_KEY, ""), json={"batch": batch}, timeout=30)
    assert answer.status_code == 200, answer.text
    return ids


def test_two_sinks_share_the_topic_and_a_killed_one_loses_and_doubles_nothing(
    kafka_bootstrap: str,  # noqa: F811
    clickhouse: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    import clickhouse_connect

    from footfall.topics import ensure_topics

    prefix = f"dockerscale_{uuid.uuid4().hex[:8]}_"
    ensure_topics(kafka_bootstrap, prefix)
    ports = {name: _free_port() for name in ("api", "sink1", "sink2")}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        # One after the other: the second sink finds the migrations applied by the first.
        for name in ("sink1", "sink2"):
            (tmp_path / name).mkdir()
            env = _env(kafka_bootstrap, clickhouse, prefix, tmp_path / name,
                       FOOTFALL_SINK_HTTP_HOST="127.0.0.1",
                       FOOTFALL_SINK_HTTP_PORT=str(ports[name]))  # fmt: skip
            procs[name] = _start("consumers.clickhouse_sink", env, tmp_path / f"{name}.log")
            _wait_for(name, partial(_healthy, procs[name], ports[name]), timeout=90)
        env = _env(kafka_bootstrap, clickhouse, prefix, tmp_path / "api",
                   FOOTFALL_API_HOST="127.0.0.1", FOOTFALL_API_PORT=str(ports["api"]))  # fmt: skip
        procs["api"] = _start("producer_api", env, tmp_path / "api.log")
        _wait_for("api", partial(_healthy, procs["api"], ports["api"]), timeout=90)
        api, run = f"http://127.0.0.1:{ports['api']}", uuid.uuid4().hex[:8]
        ids = [m for k in range(10) for m in _send(api, run, k * 50, 50)]
        os.kill(procs["sink1"].pid, signal.SIGKILL)  # mid-stream: sink2 takes its partitions
        ids += [m for k in range(10, 20) for m in _send(api, run, k * 50, 50)]
        client = clickhouse_connect.get_client(host=clickhouse["host"], port=clickhouse["port"],
                                               username=CH_USER, password=CH_PASSWORD)  # fmt: skip
        query = (f"SELECT count(), uniqExact(message_id) FROM {CH_DATABASE}.events FINAL "
                 "WHERE message_id LIKE {p:String}")  # fmt: skip
        counts: tuple[int, int] = (0, 0)

        def stored() -> bool:
            nonlocal counts
            row = client.query(query, parameters={"p": f"{run}-%"}).result_rows[0]
            counts = (int(row[0]), int(row[1]))
            return counts[0] >= len(ids)

        _wait_for("every event stored", stored, timeout=120)
        assert counts == (len(ids), len(ids))
    finally:
        for proc in procs.values():
            _stop(proc)
