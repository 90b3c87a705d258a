"""Helpers of the benchmark (bench/run_all.py): settings, load tools, process and topic probes."""

import asyncio
import contextlib
import os
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
WRITE_KEY = "bench-write-key"
PREFIX = "bench_"
READ_KEY = "bench-read-key"
DURATION = int(os.environ.get("BENCH_SECONDS", "15"))
CONNECTIONS = 64  # enough concurrent clients that neither side is bound by round-trip latency


def wrk(url: str, body_file: Path, seconds: int = DURATION) -> float:
    env = {
        **os.environ,
        "BODY_FILE": str(body_file),
        "BASIC": __import__("base64").b64encode(f"{WRITE_KEY}:".encode()).decode(),
    }
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(REPO / "bench/post_file.lua"),
         url], capture_output=True, text=True, env=env, check=True,
    ).stdout  # fmt: skip
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} non-2xx answers from {url}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and its live descendants (the API's worker processes)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            for child in (task / "children").read_text().split():
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    total += tree_cpu_seconds(int(child))
    return total


class Procs:
    def __init__(self, work: Path, bootstrap: str) -> None:
        self.work = work
        self.bootstrap = bootstrap
        self.children: list[subprocess.Popen[bytes]] = []

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "FOOTFALL_KAFKA_BOOTSTRAP": self.bootstrap,
            "FOOTFALL_TOPIC_PREFIX": PREFIX,
            "FOOTFALL_WRITE_KEYS": WRITE_KEY,
            "FOOTFALL_READ_KEYS": READ_KEY,  # the sink's /query needs one
            # one key on one IP stands for many clients here: limits far above the load
            "FOOTFALL_API_KEY_RATE": "1e9",
            "FOOTFALL_API_KEY_BURST": "1e9",
            "FOOTFALL_API_IP_RATE": "1e9",
            "FOOTFALL_API_IP_BURST": "1e9",
            **extra,
        }

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.work / f"{name}.log").open("wb")
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.children.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def query(sink_url: str, sql: str) -> str:
    answer = httpx.post(
        f"{sink_url}/query",
        params={"format": "TabSeparated"},
        content=sql,
        timeout=120,
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    answer.raise_for_status()
    return answer.text


def topic_size(bootstrap: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-size"})
    parts = consumer.list_topics(f"{PREFIX}events", timeout=10).topics[f"{PREFIX}events"].partitions
    total = sum(consumer.get_watermark_offsets(TopicPartition(f"{PREFIX}events", p), timeout=10)[1]
                for p in parts)  # fmt: skip
    consumer.close()
    return total


def consumed(bootstrap: str) -> int:
    """Records the sink has committed (its group's offsets summed over partitions)."""
    from confluent_kafka import Consumer, TopicPartition

    topic = f"{PREFIX}events"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "footfall-clickhouse-sink"})
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    committed = consumer.committed([TopicPartition(topic, p) for p in parts], timeout=10)
    consumer.close()
    return sum(max(tp.offset, 0) for tp in committed)


async def paced_load(api_url: str, rate: int, seconds: int) -> dict[str, float]:
    """`rate` events/s as 50-event batches; returns message-id prefix -> 2xx time (epoch s)."""
    acked: dict[str, float] = {}
    per_second = rate // 50
    async with httpx.AsyncClient(timeout=30, auth=(WRITE_KEY, "")) as client:

        async def send(batch_id: str) -> None:
            batch = [{"type": "track", "event": "Latency Probe", "messageId": f"{batch_id}-{i}",
                      "anonymousId": f"lat-{uuid.uuid4().hex[:6]}"} for i in range(50)]  # fmt: skip
            answer = await client.post(f"{api_url}/v1/batch", json={"batch": batch})
            if answer.status_code == 200:
                acked[batch_id] = time.time()

        tasks = []
        start = time.monotonic()
        for tick in range(seconds * per_second):
            await asyncio.sleep(max(0.0, start + tick / per_second - time.monotonic()))
            tasks.append(asyncio.create_task(send(f"lat{tick:06d}")))
        await asyncio.gather(*tasks)
    return acked


def tree_rss_mb(pid: int) -> float:
    """RSS of `pid` and its live descendants (the API's worker processes), summed."""
    total = rss_mb(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            for child in (task / "children").read_text().split():
                with contextlib.suppress(FileNotFoundError):
                    total += tree_rss_mb(int(child))
    return total


def sample_rss(pids: dict[str, int], stop: threading.Event, peaks: dict[str, float]) -> None:
    while not stop.is_set():
        for name, pid in list(pids.items()):  # a copy: the run adds processes as it starts them
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                peaks[name] = max(peaks.get(name, 0.0), tree_rss_mb(pid))
        time.sleep(0.5)


class Results(list[tuple[str, str]]):
    def append(self, item: tuple[str, str]) -> None:
        print(f"{item[0]}: {item[1]}", flush=True)  # as measured, in case a later step fails
        super().append(item)
