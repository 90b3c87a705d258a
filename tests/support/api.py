"""Run the producer API as a real uvicorn subprocess (tests only)."""

import os
import signal
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eventschema.kafka_contract import Topics
from footfall.broker import find_free_ports
from producer_api.config import Settings
from tests.support.processes import start_healthy

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
        log = self.log_dir / f"api-{self.port}.log"
        self.proc = start_healthy("producer_api", env, log, f"{self.url}/healthz", timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def api_settings(bootstrap: str, prefix: str, write_key: str, **overrides: Any) -> Settings:
    """Settings for an in-process API (TestClient) on the test broker: production limits,
    one server key, and whatever a test overrides."""
    base = Settings(
        kafka_bootstrap=bootstrap,
        topics=Topics.for_prefix(prefix),
        write_keys=frozenset({write_key}),
        host="127.0.0.1",
        port=0,
        max_body_bytes=500 * 1024,
        max_batch_events=2500,
        delivery_timeout_seconds=10,
        retry_after_seconds=5,
    )
    return replace(base, **overrides)
