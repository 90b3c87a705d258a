"""`python -m footfall up` with its real children, as a test's subprocess (the main job)."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from footfall.broker import find_free_ports
from footfall.paths import repo_root

WRITE_KEY = "main-job-write-key"


@dataclass
class MainJob:
    """The runner on free ports in `work`; `extra` env (e.g. ad-platform fakes) on top."""

    work: Path
    brokers: int = 1
    extra: dict[str, str] = field(default_factory=dict)
    proc: "subprocess.Popen[str] | None" = None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.work / "data"

    @property
    def output(self) -> Path:
        return self.work / "up.out"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def sink_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sink']}"

    def env(self) -> dict[str, str]:
        skipped = ("FOOTFALL_META_", "FOOTFALL_GOOGLE_ADS_")  # no uploader unless asked
        env = {k: v for k, v in os.environ.items()
               if not k.endswith("_CMD") and not k.startswith(skipped)}  # fmt: skip
        env.update(
            FOOTFALL_DATA_DIR=str(self.data),
            FOOTFALL_API_PORT=str(self.ports["api"]),
            FOOTFALL_SINK_HTTP_PORT=str(self.ports["sink"]),
            FOOTFALL_ANALYTICS_PORT=str(self.ports["analytics"]),
            FOOTFALL_CONVERSIONS_HTTP_PORT=str(self.ports["conversions"]),
            FOOTFALL_DEMO="0",
            FOOTFALL_WRITE_KEYS=WRITE_KEY,
            FOOTFALL_TOPIC_PREFIX="",
            FOOTFALL_SINK_BATCH_SECONDS="0.3",
        )
        return env | self.extra

    def start(self, timeout: float = 300.0) -> None:
        names = ("api", "sink", "analytics", "conversions")
        self.ports = dict(zip(names, find_free_ports(len(names)), strict=True))
        kafka = find_free_ports(2 * self.brokers)
        argv = [sys.executable, "-m", "footfall", "up", "--brokers", str(self.brokers),
                "--kafka-port", ",".join(map(str, kafka[::2])),
                "--controller-port", ",".join(map(str, kafka[1::2]))]  # fmt: skip
        self.work.mkdir(parents=True, exist_ok=True)
        with self.output.open("w") as out:
            self.proc = subprocess.Popen(argv, env=self.env(), cwd=repo_root(), stdout=out,
                                         stderr=subprocess.STDOUT, text=True)  # fmt: skip
        deadline = time.monotonic() + timeout
        while "Footfall is running" not in self.output.read_text():
            assert self.proc.poll() is None, self.output.read_text()
            assert time.monotonic() < deadline, "footfall up did not start"
            time.sleep(0.3)

    def stop(self) -> int | None:
        """SIGTERM (like `footfall down`) and wait: the main job's exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(240)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(30)

    def state(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.data / "up.json").read_text())
        return loaded

    def pid(self, name: str) -> int:
        """A child's pid ('api', 'sink', ...) or a broker's ('broker1', 'broker2', ...); 0 if
        it is not running."""
        state = self.state()
        if name.startswith("broker"):
            pid = state["brokers"][int(name.removeprefix("broker")) - 1]["pid"]
        else:
            pid = state["children"][name]["pid"]
        return int(pid) if pid else 0

    def all_pids(self) -> list[int]:
        state = self.state()
        pids = [c["pid"] for c in state["children"].values()]
        pids += [b["pid"] for b in state["brokers"]]
        return [int(p) for p in pids if p]

    def query(self, sql: str) -> str:
        key = (self.data / "secrets" / "read_key").read_text().strip()
        answer = httpx.post(f"{self.sink_url}/query", params={"format": "TabSeparated"},
                            headers={"Authorization": f"Bearer {key}"}, content=sql,
                            timeout=60)  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.text
