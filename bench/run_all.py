"""Footfall benchmark, run by hand: `.venv/bin/python bench/run_all.py` (about 4 minutes).

Everything runs on this machine, side by side in one run, against a fresh local broker:
1. single-event requests: req/s of the API vs. a bare uvicorn echo app (interleaved runs, ratio);
2. batched ingestion: events/s at 50 events per request, one API process;
3. sink throughput: a fresh sink drains the topic into a fresh chDB; rows/s (wall) and rows per
   CPU-second of the sink process;
4. end to end: a paced load of 5,000 events/s for 30 s; latency from the client's 2xx to the row's
   inserted_at (ClickHouse's clock at insert, same machine), p50/p99;
5. resident memory (RSS) of each process, sampled during the load.
All load comes from one write key on one IP, so the API's rate limits are set far above it.
Results go to stdout and bench/results/<UTC date>.md.
"""

import asyncio
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from footfall.broker import LocalBroker, find_free_ports  # noqa: E402
from footfall.topics import ensure_topics  # noqa: E402

WRITE_KEY = "bench-write-key"
PREFIX = "bench_"
READ_KEY = "bench-read-key"
DURATION = int(os.environ.get("BENCH_SECONDS", "20"))
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


def sample_rss(pids: dict[str, int], stop: threading.Event, peaks: dict[str, float]) -> None:
    while not stop.is_set():
        for name, pid in pids.items():
            with contextlib.suppress(FileNotFoundError):
                peaks[name] = max(peaks.get(name, 0.0), rss_mb(pid))
        time.sleep(0.5)


class Results(list[tuple[str, str]]):
    def append(self, item: tuple[str, str]) -> None:
        print(f"{item[0]}: {item[1]}", flush=True)  # as measured, in case a later step fails
        super().append(item)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="footfall-bench-"))
    payloads = work / "payloads"
    subprocess.run(
        [sys.executable, str(REPO / "bench/make_payloads.py"), str(payloads)], check=True
    )
    port, controller = find_free_ports(2)
    broker = LocalBroker(work / "kafka", port, controller)
    broker.start()
    broker.wait_ready()
    ensure_topics(broker.bootstrap, PREFIX)
    procs = Procs(work, broker.bootstrap)
    api_port, echo_port, sink_port = find_free_ports(3)
    results = Results()
    try:
        echo = procs.spawn("echo", [sys.executable, "-m", "uvicorn", "bench.echo_app:app",
                                    "--port", str(echo_port), "--log-level", "warning",
                                    "--no-access-log"], procs.env())  # fmt: skip
        api = procs.spawn(
            "api",
            [sys.executable, "-m", "producer_api"],
            procs.env(FOOTFALL_API_PORT=str(api_port)),
        )
        api_url, echo_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{echo_port}"
        wait_http(f"{api_url}/readyz")
        wait_http(echo_url)
        wrk(f"{api_url}/v1/track", payloads / "single.json", 3)  # warm-up
        echo_rps, api_rps = [], []
        for _ in range(2):  # interleaved, so drifting machine noise hits both
            echo_rps.append(wrk(f"{echo_url}/v1/track", payloads / "single.json"))
            api_rps.append(wrk(f"{api_url}/v1/track", payloads / "single.json"))
        ratio = statistics.mean(api_rps) / statistics.mean(echo_rps)
        results.append(
            (
                "single-event req/s: API / echo",
                f"{statistics.mean(api_rps):,.0f} / "
                f"{statistics.mean(echo_rps):,.0f} = **{ratio:.2f}** (target >= 0.6)",
            )
        )
        procs.stop(echo)

        peaks: dict[str, float] = {}
        stop = threading.Event()
        pids = {"api": api.pid, "broker": broker.pid() or 0}
        sampler = threading.Thread(target=sample_rss, args=(pids, stop, peaks))
        sampler.start()
        batch_rps = wrk(f"{api_url}/v1/batch", payloads / "batch50.json")
        results.append(
            (
                "batched ingestion (50/request), one API process",
                f"**{batch_rps * 50:,.0f} events/s** ({batch_rps:,.0f} req/s; target >= 30,000)",
            )
        )

        backlog = topic_size(broker.bootstrap)
        sink = procs.spawn(
            "sink",
            [sys.executable, "-m", "consumers.clickhouse_sink"],
            procs.env(
                FOOTFALL_DATA_DIR=str(work / "data"),
                FOOTFALL_SINK_HTTP_PORT=str(sink_port),
                FOOTFALL_CLICKHOUSE_DSN=f"chdb://{work / 'data' / 'clickhouse'}",
                FOOTFALL_SINK_BATCH_SIZE="50000",
                FOOTFALL_SINK_BATCH_SECONDS="1.0",
            ),
        )
        sink_url = f"http://127.0.0.1:{sink_port}"
        wait_http(f"{sink_url}/healthz")
        pids["sink"] = sink.pid
        cpu_before, started = cpu_seconds(sink.pid), time.monotonic()
        rows = 0
        while rows < backlog and time.monotonic() - started < 600:
            time.sleep(0.5)
            # committed offsets, not count(): merges may already collapse repeated ids
            rows = consumed(broker.bootstrap)
        wall = time.monotonic() - started
        cpu = cpu_seconds(sink.pid) - cpu_before
        results.append(
            (
                "sink into chDB: backlog drained",
                f"{rows:,} rows in {wall:.1f} s = "
                f"**{rows / wall:,.0f} rows/s wall**, {rows / cpu:,.0f} rows per CPU-second "
                f"of the sink (target >= 100,000 per core)",
            )
        )

        acked = asyncio.run(paced_load(api_url, 5000, 30))
        expected = len(acked) * 50
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            got = int(query(sink_url, "SELECT count() FROM events WHERE event = 'Latency Probe'"))
            if got >= expected:
                break
            time.sleep(0.5)
        probe_sql = (
            "SELECT message_id, toUnixTimestamp64Milli(inserted_at) FROM events "
            "WHERE event = 'Latency Probe'"
        )
        lines = query(sink_url, probe_sql).split("\n")
        latencies = sorted(
            int(ms) / 1000 - acked[mid.rsplit("-", 1)[0]]
            for mid, ms in (line.split("\t") for line in lines if line)
            if mid.rsplit("-", 1)[0] in acked
        )
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[int(len(latencies) * 0.99)]
        results.append(
            (
                "end to end at 5,000 events/s (2xx -> row inserted)",
                f"{len(latencies):,} events of {expected:,} acked: p50 **{p50:.2f} s**, "
                f"p99 **{p99:.2f} s** (target p99 <= 2 s)",
            )
        )
        stop.set()
        sampler.join()
        results.append(
            (
                "peak RSS during the runs",
                ", ".join(f"{name} {mb:,.0f} MB" for name, mb in sorted(peaks.items())),
            )
        )
        for proc in (api, sink):
            procs.stop(proc)
    finally:
        for proc in procs.children:
            if proc.poll() is None:
                proc.kill()
        broker.stop()
    report = [f"# Benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
              f"`{' '.join(sys.argv)}`; machine: {os.cpu_count()} cores; wrk -t1 -c{CONNECTIONS} "
              f"-d{DURATION}s; API, broker, sink and load generator share the machine.", "",
              "| measure | result |", "|---|---|"]  # fmt: skip
    report += [f"| {key} | {value} |" for key, value in results]
    text = "\n".join(report) + "\n"
    print(text)
    out = REPO / "bench/results"
    out.mkdir(exist_ok=True)
    (out / f"{datetime.now(UTC):%Y-%m-%d}.md").write_text(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
