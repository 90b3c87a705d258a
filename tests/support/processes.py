"""Start a project process for a test and wait until its /healthz answers."""

import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def start_healthy(
    module: str, env: dict[str, str], log_path: Path, health_url: str, timeout: float
) -> subprocess.Popen[bytes]:
    """`python -m module` in its own session, output to log_path; fails fast if it exits."""
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", module], cwd=REPO, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{module} exited, see {log_path}"
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{module} did not become healthy at {health_url}; see {log_path}")
