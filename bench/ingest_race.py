"""The ingestion phases of bench/run_all.py: our API against the echo app and PostHog's capture.

Servers take turns (A, B, C, A, B, C, ...) under the same wrk load, so drifting noise from the
rest of the machine hits all of them alike; each run also records the CPU seconds the server's
processes spent, for events per server CPU-second.
"""

import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench import peer
from bench.support import DURATION, Procs, Results, tree_cpu_seconds, wait_http, wrk

ROUNDS = 2


@dataclass
class Target:
    name: str
    pid: int
    single: tuple[str, Path]  # url, body file
    batch: tuple[str, Path] | None = None
    rates: dict[str, list[float]] = field(default_factory=dict)  # kind -> req/s per run
    cpu: dict[str, list[float]] = field(default_factory=dict)  # kind -> CPU s per run

    def run(self, kind: str, seconds: int) -> None:
        url, body = self.single if kind == "single" else (self.batch or self.single)
        before = tree_cpu_seconds(self.pid)
        self.rates.setdefault(kind, []).append(wrk(url, body, seconds))
        self.cpu.setdefault(kind, []).append(tree_cpu_seconds(self.pid) - before)

    def mean(self, kind: str) -> float:
        return statistics.mean(self.rates[kind])

    def per_cpu(self, kind: str, seconds: int) -> float:
        """Requests per CPU-second of the server's processes."""
        return sum(r * seconds for r in self.rates[kind]) / sum(self.cpu[kind])


def start_peer(procs: Procs, port: int, payloads: Path) -> Target | None:
    """PostHog's capture on the same broker, or None (with a message) when it is absent."""
    if not peer.available():
        print(f"peer skipped: no executable at {peer.BINARY}", flush=True)
        return None
    peer.write_payloads(payloads)
    peer.create_topic(procs.bootstrap)
    proc = procs.spawn("peer", peer.command(), peer.environment(procs.bootstrap, port))
    wait_http(peer.ready_url(port))
    url = peer.url(port)
    return Target(
        "capture", proc.pid, (url, payloads / "peer_single.json"),
        (url, payloads / "peer_batch50.json"),
    )  # fmt: skip


def start_echo(procs: Procs, port: int, payloads: Path) -> Target:
    proc = procs.spawn("echo", [sys.executable, "-m", "uvicorn", "bench.echo_app:app",
                                "--port", str(port), "--log-level", "warning",
                                "--no-access-log"], procs.env())  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}")
    return Target("echo", proc.pid, (f"http://127.0.0.1:{port}/v1/track", payloads / "single.json"))


def start_api(
    procs: Procs, port: int, payloads: Path, workers: int
) -> tuple[Target, subprocess.Popen[bytes]]:  # noqa: E501
    proc = procs.spawn(
        f"api-{workers}",
        [sys.executable, "-m", "producer_api"],
        procs.env(FOOTFALL_API_PORT=str(port), FOOTFALL_API_WORKERS=str(workers)),
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/readyz")
    target = Target(
        f"API x{workers}", proc.pid, (f"{url}/v1/track", payloads / "single.json"),
        (f"{url}/v1/batch", payloads / "batch50.json"),
    )  # fmt: skip
    for kind in ("single", "batch"):  # warm-up: connections, producer metadata, caches
        wrk(target.single[0] if kind == "single" else f"{url}/v1/batch",
            target.single[1] if kind == "single" else payloads / "batch50.json", 2)  # fmt: skip
    return target, proc


def race(targets: list[Target], kind: str, seconds: int = DURATION) -> None:
    for _ in range(ROUNDS):
        for target in targets:
            target.run(kind, seconds)


def report_single(api: Target, echo: Target, capture: Target | None, results: Results) -> None:
    line = f"{api.mean('single'):,.0f} req/s; echo {echo.mean('single'):,.0f} " \
           f"(**{api.mean('single') / echo.mean('single'):.2f}** of echo)"  # fmt: skip
    if capture is not None:
        ratio = api.mean("single") / capture.mean("single")
        line += f"; capture {capture.mean('single'):,.0f} (**{ratio:.2f}**, target >= 0.6)"
    results.append((f"single-event requests, {api.name}", line))


def report_batch(api: Target, capture: Target | None, seconds: int, results: Results) -> None:
    events, per_cpu = api.mean("batch") * 50, api.per_cpu("batch", seconds) * 50
    line = f"{events:,.0f} events/s, {per_cpu:,.0f} events per API CPU-second"
    if capture is not None:
        peer_events, peer_cpu = capture.mean("batch") * 50, capture.per_cpu("batch", seconds) * 50
        line += (
            f"; capture {peer_events:,.0f} events/s, {peer_cpu:,.0f} per CPU-second; ratios "
            f"**{events / peer_events:.2f}** and **{per_cpu / peer_cpu:.2f}** (target >= 1.0)"
        )
    results.append((f"50 events per request, {api.name}", line))
