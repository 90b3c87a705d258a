"""A supervised child process (the API or the sink): start, health, crash restart with backoff."""

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from footfall import paths
from footfall.procs import terminate

MAX_BACKOFF = 30.0
STABLE_AFTER = 30.0  # a child that ran this long has its backoff reset


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    health_url: str
    log_file: Path
    stop_timeout: float


def module_argv(module: str, override: str | None = None) -> list[str]:
    """`python -m module`, or a stand-in command (FOOTFALL_<NAME>_CMD, for trying the runner
    alone)."""
    return shlex.split(override) if override else [sys.executable, "-m", module]


@dataclass
class Child:
    spec: ChildSpec
    env: dict[str, str]
    proc: "subprocess.Popen[bytes] | None" = None
    started_at: float = 0.0
    restarts: int = 0
    healthy: bool = False
    failures: int = 0
    restart_at: float | None = None
    last_code: int | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self) -> None:
        self.spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.spec.log_file.open("ab") as log:
            log.write(f"\n--- footfall: starting {shlex.join(self.spec.argv)}\n".encode())
            log.flush()
            # Own session: terminal Ctrl-C goes to the supervisor, which stops children in order.
            self.proc = subprocess.Popen(
                self.spec.argv,
                cwd=paths.repo_root(),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        self.healthy = False
        self.restart_at = None

    def check_exit(self) -> bool:
        """True (once) when the child has just exited; schedules the restart with backoff."""
        if self.proc is None or self.proc.poll() is None:
            return False
        self.last_code = self.proc.returncode
        self.proc = None
        ran = time.monotonic() - self.started_at
        self.failures = 1 if ran >= STABLE_AFTER else self.failures + 1
        self.restart_at = time.monotonic() + self.backoff()
        return True

    def backoff(self) -> float:
        return min(MAX_BACKOFF, 2.0 ** (self.failures - 1))

    def restart_due(self) -> bool:
        return self.restart_at is not None and time.monotonic() >= self.restart_at

    def probe(self) -> bool:
        """Poll the health URL; True when it has just turned healthy."""
        if self.healthy or self.pid is None:
            return False
        self.healthy = health_ok(self.spec.health_url)
        return self.healthy

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            terminate(self.proc.pid, self.proc, self.spec.stop_timeout)
        self.proc = None
        self.restart_at = None


def health_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
