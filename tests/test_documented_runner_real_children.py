"""`python -m footfall up` with its real children (not tests/test_runner.py's stand-ins): an
event goes through the real API and sink, and on shutdown the API has exited before the sink is
even told to stop (README: "stops everything cleanly (API first, so nothing accepted is left
behind, then the sink, then the broker)")."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from footfall.broker import find_free_ports
from footfall.paths import repo_root
from footfall.procs import pid_alive

WRITE_KEY = "runner-real-write-key"
SINK_STOP_LINE = "flushing and stopping"  # the sink's log line when it gets SIGTERM


@dataclass
class StopWatch:
    """Polls, in this order, the sink's log and the API's pid, so that a sink log line seen
    while the API pid is still alive proves the sink was signalled before the API had exited."""

    api_pid: int
    sink_pid: int
    sink_log: Path
    done: threading.Event = field(default_factory=threading.Event)
    api_gone_at: float | None = None
    sink_signalled_at: float | None = None
    sink_gone_at: float | None = None
    violations: list[str] = field(default_factory=list)

    def run(self) -> None:
        while not self.done.is_set():
            signalled = SINK_STOP_LINE in self.sink_log.read_text(errors="replace")
            api_alive = pid_alive(self.api_pid)
            sink_alive = pid_alive(self.sink_pid)
            now = time.monotonic()
            if signalled and self.sink_signalled_at is None:
                self.sink_signalled_at = now
            if signalled and api_alive:
                self.violations.append("the sink was stopping while the API still ran")
            if not api_alive and self.api_gone_at is None:
                self.api_gone_at = now
            if not sink_alive and self.sink_gone_at is None:
                self.sink_gone_at = now
            if self.api_gone_at is not None and self.sink_gone_at is not None:
                return
            time.sleep(0.005)


def wait_for(check: object, timeout: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_up_runs_the_real_api_and_sink_and_stops_the_api_before_the_sink(tmp_path: Path) -> None:
    data = tmp_path / "data"
    api_port, sink_port, analytics_port, kafka_port, controller_port = find_free_ports(5)
    # The real children (no *_CMD stand-ins), no uploader (no ad-platform credentials).
    skipped = ("FOOTFALL_META_", "FOOTFALL_GOOGLE_ADS_")
    env = {
        k: v for k, v in os.environ.items() if not k.endswith("_CMD") and not k.startswith(skipped)
    }
    env.update(
        FOOTFALL_DATA_DIR=str(data),
        FOOTFALL_API_PORT=str(api_port),
        FOOTFALL_SINK_HTTP_PORT=str(sink_port),
        FOOTFALL_ANALYTICS_PORT=str(analytics_port),
        FOOTFALL_DEMO="0",
        FOOTFALL_WRITE_KEYS=WRITE_KEY,
        FOOTFALL_TOPIC_PREFIX="",
        FOOTFALL_SINK_BATCH_SECONDS="0.3",
    )
    output = tmp_path / "up.out"
    with output.open("w") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "footfall", "up", "--kafka-port", str(kafka_port),
             "--controller-port", str(controller_port)],
            env=env, cwd=repo_root(), stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        wait_for(lambda: "Footfall is running" in output.read_text() or up.poll() is not None,
                 180, "footfall up")  # fmt: skip
        assert up.poll() is None, output.read_text()
        state = json.loads((data / "up.json").read_text())
        api_pid = int(state["children"]["api"]["pid"])
        sink_pid = int(state["children"]["sink"]["pid"])
        # The real children: an event through the API is stored by the sink.
        message_id = str(uuid.uuid4())
        sent = httpx.post(
            f"http://127.0.0.1:{api_port}/v1/track", auth=(WRITE_KEY, ""), timeout=30,
            json={"event": "Runner Check", "anonymousId": "runner", "messageId": message_id},
        )  # fmt: skip
        assert sent.status_code == 200, sent.text
        read_key = (data / "secrets" / "read_key").read_text().strip()

        def stored() -> bool:
            answer = httpx.post(
                f"http://127.0.0.1:{sink_port}/query?format=TabSeparated", timeout=30,
                headers={"Authorization": f"Bearer {read_key}"},
                content=f"SELECT count() FROM events WHERE message_id = '{message_id}'",
            )  # fmt: skip
            return answer.status_code == 200 and answer.text.strip() == "1"

        wait_for(stored, 60, "the event in ClickHouse")

        sink_log = data / "logs" / "sink.log"
        assert SINK_STOP_LINE not in sink_log.read_text()
        watch = StopWatch(api_pid, sink_pid, sink_log)
        watcher = threading.Thread(target=watch.run)
        watcher.start()
        up.send_signal(signal.SIGTERM)
        assert up.wait(180) == 0, output.read_text()
        watcher.join(10)
        watch.done.set()
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            up.wait(120)

    text = output.read_text()
    assert not watch.violations, watch.violations[:1]
    assert watch.api_gone_at is not None and watch.sink_signalled_at is not None, text
    assert watch.sink_gone_at is not None
    assert watch.api_gone_at <= watch.sink_signalled_at <= watch.sink_gone_at
    assert text.index(f"stopping api (pid {api_pid})") < text.index(
        f"stopping sink (pid {sink_pid})"
    ) < text.index("stopped")  # fmt: skip
    # The sink stopped cleanly: its last batch flushed and committed.
    assert "sink stopped" in sink_log.read_text()
    assert not pid_alive(api_pid) and not pid_alive(sink_pid)
