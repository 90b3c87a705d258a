"""Run the producer API as a real uvicorn subprocess (tests only)."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from footfall.broker import find_free_ports

REPO = Path(__file__).resolve().parents[2]
WRITE_KEY = "e2e-write-key"


@dataclass
class ApiServer:
    bootstrap: str
    prefix: str
    log_dir: Path
    delivery_timeout: float = 10.0
    port: int = field(default_factory=lambda: find_free_ports(1)[0])
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "FOOTFALL_KAFKA_BOOTSTRAP": self.bootstrap,
            "FOOTFALL_TOPIC_PREFIX": self.prefix,
            "FOOTFALL_WRITE_KEYS": WRITE_KEY,
            "FOOTFALL_API_PORT": str(self.port),
            "FOOTFALL_API_DELIVERY_TIMEOUT": str(self.delivery_timeout),
        }
        log = (self.log_dir / f"api-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "producer_api"], cwd=REPO, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"API exited, see {log.name}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("API did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
