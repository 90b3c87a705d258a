"""`footfall up|status|down` end to end, with stand-in servers in place of the API and the sink."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from footfall.broker import find_free_ports
from footfall.paths import repo_root

STANDIN = f"{sys.executable} -m tests.support.standin_server"


def footfall(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "footfall", *args]
    return subprocess.run(
        cmd, env=env, cwd=repo_root(), capture_output=True, text=True, timeout=180
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    api_port, sink_port, demo_port, analytics_port = find_free_ports(4)
    env = dict(os.environ)
    env.update(
        FOOTFALL_DATA_DIR=str(tmp_path / "data"),
        FOOTFALL_API_PORT=str(api_port),
        FOOTFALL_SINK_HTTP_PORT=str(sink_port),
        FOOTFALL_API_CMD=f"{STANDIN} FOOTFALL_API_PORT",
        FOOTFALL_SINK_CMD=f"{STANDIN} FOOTFALL_SINK_HTTP_PORT",
        FOOTFALL_DEMO_PORT=str(demo_port),
        FOOTFALL_DEMO_CMD=f"{STANDIN} FOOTFALL_DEMO_PORT",
        FOOTFALL_ANALYTICS_PORT=str(analytics_port),
        FOOTFALL_ANALYTICS_CMD=f"{STANDIN} FOOTFALL_ANALYTICS_PORT",
    )
    return env


@pytest.fixture
def up(run_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    kafka_port, controller_port = find_free_ports(2)
    out = (tmp_path / "up.out").open("w")
    args = ["up", "--kafka-port", str(kafka_port), "--controller-port", str(controller_port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "footfall", *args],
        env=run_env,
        cwd=repo_root(),
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = tmp_path / "up.out"
    wait_for(
        lambda: "Footfall is running" in running.read_text() or proc.poll() is not None,
        120,
        "footfall up",
    )
    assert proc.poll() is None, running.read_text()
    yield proc
    if proc.poll() is None:  # the test failed before `down`
        proc.send_signal(signal.SIGINT)
        proc.wait(120)
    out.close()


def child_pid(env: dict[str, str], name: str) -> int:
    state = json.loads((Path(env["FOOTFALL_DATA_DIR"]) / "up.json").read_text())
    pid = state["children"][name]["pid"]
    return int(pid) if pid else 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_supervises_and_down_stops_everything(
    run_env: dict[str, str], up: subprocess.Popen[str]
) -> None:
    status = footfall(run_env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count(" healthy ") == 4, status.stdout

    second = footfall(run_env, "up")
    assert second.returncode == 1 and "already running" in second.stderr

    api = child_pid(run_env, "api")
    os.kill(api, signal.SIGKILL)
    wait_for(lambda: child_pid(run_env, "api") not in (0, api), 30, "api restart")
    pids = [child_pid(run_env, name) for name in ("api", "sink", "demo", "analytics")]
    pids.append(int((Path(run_env["FOOTFALL_DATA_DIR"]) / "kafka" / "kafka.pid").read_text()))

    down = footfall(run_env, "down")

    assert down.returncode == 0, down.stdout + down.stderr
    assert up.wait(10) == 0
    assert [p for p in pids if alive(p)] == []
    assert footfall(run_env, "status").returncode == 3
    assert footfall(run_env, "down").stdout.strip() == "footfall: not running"
