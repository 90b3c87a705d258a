"""CPU per thread of our API and of PostHog's capture: `python bench/thread_cpu.py [single|batch]`.

A fresh broker, one API process and (when it is built) capture on the same broker; the two take
turns under the benchmark's wrk load (`--rounds`, `--seconds` each). For every run it prints the
requests per second, the cores the server used and their split by thread name (Python's main
thread, librdkafka's `rdk:` threads, tokio's workers), read from /proc/<pid>/task/*/stat, so it
shows whether a server is bound by its CPU or by the round trip to Kafka.
"""

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest_race import Target, start_api, start_peer  # noqa: E402
from bench.run_all import start_broker  # noqa: E402
from bench.support import Procs, wrk  # noqa: E402
from footfall.broker import find_free_ports  # noqa: E402


def thread_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of each live thread of `pid`, keyed `name:tid`."""
    seconds: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        seconds[f"{name}:{task.name}"] = (int(fields[11]) + int(fields[12])) / 100
    return seconds


def run_once(target: Target, kind: str, seconds: int) -> str:
    url, body = target.single if kind == "single" else (target.batch or target.single)
    before, started = thread_seconds(target.pid), time.monotonic()
    rate = wrk(url, body, seconds)
    after, elapsed = thread_seconds(target.pid), time.monotonic() - started
    by_name: dict[str, float] = collections.defaultdict(float)
    for thread, spent in after.items():
        by_name[thread.split(":")[0]] += spent - before.get(thread, 0.0)
    cores = sum(by_name.values()) / elapsed
    busiest = sorted(by_name.items(), key=lambda item: -item[1])[:5]
    split = " ".join(f"{name}={spent / elapsed:.2f}" for name, spent in busiest)
    return (
        f"{target.name:8} {kind:6} {rate:9,.0f} req/s  {cores:.2f} cores  "
        f"{rate / cores:8,.0f} req per CPU-s  [{split}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", nargs="?", choices=["single", "batch"], default="single")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    work, broker = start_broker()
    procs = Procs(work, broker.bootstrap)
    try:
        api_port, peer_port = find_free_ports(2)
        api, _ = start_api(procs, api_port, work / "payloads", 1)
        targets = [api]
        capture = start_peer(procs, peer_port, work / "payloads")
        if capture is not None:
            targets.append(capture)
        for _ in range(args.rounds):
            for target in targets:
                print(run_once(target, args.kind, args.seconds), flush=True)
    finally:
        for child in procs.children:
            procs.stop(child)
        broker.stop()


if __name__ == "__main__":
    main()
