"""Run the uploader as a real subprocess against the fakes (tests and local trials)."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from adfakes.google import FakeGoogleAds
from adfakes.meta import FakeMeta

REPO = Path(__file__).resolve().parent.parent
META_PIXEL, META_TOKEN = "1234567890", "meta-test-token"
GOOGLE_CID, GOOGLE_ACTION = "9876543210", "848898416"
GOOGLE_DEV, GOOGLE_TOKEN = "dev-token", "google-oauth-token"


def start_fakes() -> tuple[FakeMeta, FakeGoogleAds]:
    meta = FakeMeta({META_PIXEL: META_TOKEN})
    google = FakeGoogleAds({GOOGLE_CID: {GOOGLE_ACTION}}, GOOGLE_DEV, GOOGLE_TOKEN)
    meta.start()
    google.start()
    return meta, google


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class UploaderProcess:
    bootstrap: str
    prefix: str
    sink_url: str
    data_dir: Path
    meta: FakeMeta | None
    google: FakeGoogleAds | None
    extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "FOOTFALL_KAFKA_BOOTSTRAP": self.bootstrap,
            "FOOTFALL_TOPIC_PREFIX": self.prefix,
            "FOOTFALL_DATA_DIR": str(self.data_dir),
            "FOOTFALL_CLICKHOUSE_DSN": f"chdb://{self.data_dir / 'clickhouse'}",
            "FOOTFALL_SINK_GROUP": f"{self.prefix}sink",
            "FOOTFALL_CONVERSIONS_GROUP": f"{self.prefix}conversions",
            "FOOTFALL_CONVERSIONS_QUERY_URL": f"{self.sink_url}/query",
            "FOOTFALL_CONVERSIONS_HTTP_PORT": str(self.port),
            "FOOTFALL_CONVERSIONS_BATCH_SECONDS": "0.3",
            "FOOTFALL_CONVERSIONS_REQUEST_TIMEOUT": "1.5",
            "FOOTFALL_CONVERSIONS_RETRY_BASE": "0.1",
            "FOOTFALL_CONVERSIONS_RETRY_CAP": "1.0",
            "FOOTFALL_CONVERSIONS_THROTTLE_BASE": "0.2",
            "FOOTFALL_CONVERSIONS_BREAKER_FAILURES": "4",
            "FOOTFALL_CONVERSIONS_BREAKER_RESET_SECONDS": "0.5",
            "FOOTFALL_CONVERSIONS_SINK_WAIT_SECONDS": "60",
            # Tests write their purchases before the uploader first starts: send them all (the
            # default, `enable`, would skip them as history; tests of it set it back).
            "FOOTFALL_CONVERSIONS_START_FROM": "all",
            "PYTHONUNBUFFERED": "1",
        }
        for name in [k for k in env if k.startswith(("FOOTFALL_META_", "FOOTFALL_GOOGLE_ADS_"))]:
            del env[name]
        if self.meta is not None:
            env |= {"FOOTFALL_META_PIXEL_ID": META_PIXEL, "FOOTFALL_META_ACCESS_TOKEN": META_TOKEN,
                    "FOOTFALL_META_BASE_URL": self.meta.base_url}  # fmt: skip
        if self.google is not None:
            env |= {
                "FOOTFALL_GOOGLE_ADS_CUSTOMER_ID": GOOGLE_CID,
                "FOOTFALL_GOOGLE_ADS_CONVERSION_ACTION_ID": GOOGLE_ACTION,
                "FOOTFALL_GOOGLE_ADS_DEVELOPER_TOKEN": GOOGLE_DEV,
                "FOOTFALL_GOOGLE_ADS_ACCESS_TOKEN": GOOGLE_TOKEN,
                "FOOTFALL_GOOGLE_ADS_BASE_URL": self.google.base_url,
            }
        return env | self.extra

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        log = (self.data_dir / f"conversions-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "consumers.conversions"], cwd=REPO, env=self.env(),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"uploader exited, see {log.name}"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("uploader did not become healthy")

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text

    def replay(self, *args: str, timeout: float = 120.0) -> str:
        return self.command("replay", *args, timeout=timeout)

    def command(self, *args: str, timeout: float = 120.0) -> str:
        """`python -m consumers.conversions ARGS`; its last line (the JSON summary)."""
        done = subprocess.run(
            [sys.executable, "-m", "consumers.conversions", *args], cwd=REPO,
            env=self.env(), capture_output=True, timeout=timeout, check=True,
        )  # fmt: skip
        return done.stdout.decode().strip().splitlines()[-1]

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(30)
