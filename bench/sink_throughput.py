"""ClickHouse sink throughput, run by hand: `.venv/bin/python bench/sink_throughput.py [N]`.

Starts a fresh local broker, produces N (default 300,000) realistic encoded events straight to a
fresh `events` topic (6 partitions), then starts the sink (`python -m consumers.clickhouse_sink`)
on a fresh chDB and times until count() reaches N. Prints rows/s (wall, from the sink being
healthy to the last row), rows per CPU-second of the sink process (utime + stime from
/proc/<pid>/stat over the same interval; chDB runs inside that process) and the sink's peak RSS
(VmHWM, the kernel's high-water mark of the whole process), with the sampled peaks of its two
parts: anonymous memory, and file-backed pages (chDB's library code).

`--compare DIR` measures another version side by side on the same topic: DIR holds a copy of
`consumers/` (put first on the sink's path) and of `deploy/clickhouse/migrations` as
`DIR/migrations`. Each round then runs both, alternating, each in its own consumer group on a
fresh chDB (`--rounds`). `--batch-size`/`--batch-seconds` set the sink's insert window.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from confluent_kafka import Producer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eventschema import Event, EventCodec  # noqa: E402
from footfall.broker import LocalBroker, find_free_ports  # noqa: E402
from footfall.topics import ensure_topics  # noqa: E402

PREFIX = "bench_"
SOURCES = [("facebook", "paid_social", "fbclid"), ("google", "cpc", "gclid"),
           ("newsletter", "email", ""), ("tiktok", "paid_social", "ttclid")]  # fmt: skip
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


READ_KEY = "bench-read-key"  # the sink's /query needs a read key


def make_event(i: int, now: datetime) -> Event:
    source, medium, click = SOURCES[i % len(SOURCES)]
    query = f"utm_source={source}&utm_medium={medium}&utm_campaign=spring"
    if click:
        query += f"&{click}=Cl1ck{i}"
    url = f"https://shop.example/p/cam-{i % 300}?{query}"
    page = {"url": url, "path": f"/p/cam-{i % 300}", "referrer": "https://www.google.com/",
            "title": "Camera"}  # fmt: skip
    context = {
        "page": page, "userAgent": AGENT, "ip": f"203.0.113.{i % 250}", "locale": "de-DE",
        "library": {"name": "analytics.js", "version": "5.2.0"},
        "screen": {"width": 1920, "height": 1080},
    }  # fmt: skip
    if i % 3 == 0:
        context["campaign"] = {"source": source, "medium": medium, "name": "spring"}
    kind = "page" if i % 5 == 0 else "track"
    stamp = now - timedelta(milliseconds=random.randint(0, 5_000))
    return Event(
        message_id=str(uuid.uuid4()), type=kind, timestamp=stamp, received_at=now,
        event=None if kind == "page" else "Product Viewed",
        name="Camera" if kind == "page" else None,
        anonymous_id=f"anon-{i % 5000}", user_id=f"user-{i % 900}" if i % 4 == 0 else None,
        original_timestamp=stamp, sent_at=now,
        properties={"product_id": f"cam-{i % 300}", "price": 499.0, "currency": "EUR",
                    "section": "similar-products"},
        context=context, integrations={}, source="http",
    )  # fmt: skip


def produce(bootstrap: str, topic: str, count: int) -> None:
    codec = EventCodec()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50,
                         "compression.type": "lz4", "batch.size": 1_000_000})  # fmt: skip
    now = datetime.now(UTC)
    for i in range(count):
        event = make_event(i, now)
        payload = codec.encode(event.to_record())
        while True:
            try:
                producer.produce(topic, payload, event.key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_split_mb(pid: int) -> tuple[float, float]:
    """Resident MB now: anonymous (heap: chDB's and Python's working memory) and file-backed
    (mostly the pages of chDB's 550 MB library that have been touched, shared and reclaimable)."""
    found = {"RssAnon:": 0.0, "RssFile:": 0.0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name = line.split(":", 1)[0] + ":"
        if name in found:
            found[name] = int(line.split()[1]) / 1024
    return found["RssAnon:"], found["RssFile:"]


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (Python's main thread, chDB's merge and insert pools, ...)."""
    by_name: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            name = "main" if task.name == str(pid) else name  # Python, and chDB's queries
            by_name[name] = by_name.get(name, 0.0) + cpu_seconds_of(task / "stat")
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
    return by_name


def cpu_seconds_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busiest(before: dict[str, float], after: dict[str, float], top: int = 5) -> str:
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    ranked = sorted(spent.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in ranked)


def count_rows(url: str) -> int:
    answer = httpx.post(
        f"{url}/query",
        params={"format": "TabSeparated"},
        content="SELECT count() FROM events",
        timeout=60,
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    answer.raise_for_status()
    return int(answer.text.strip())


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "sink exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError("sink did not become healthy")


@dataclass(frozen=True)
class Variant:
    name: str
    folder: Path | None  # holds consumers/ and migrations/; None: this checkout


@dataclass(frozen=True)
class Run:
    bootstrap: str
    total: int
    args: argparse.Namespace


def sink_env(run: Run, variant: Variant, work: Path, http_port: int, tag: str) -> dict[str, str]:
    path = [str(variant.folder)] if variant.folder else []
    env = {
        **os.environ, "PYTHONPATH": os.pathsep.join([*path, str(REPO)]),
        "FOOTFALL_DATA_DIR": str(work), "FOOTFALL_KAFKA_BOOTSTRAP": run.bootstrap,
        "FOOTFALL_TOPIC_PREFIX": PREFIX, "FOOTFALL_SINK_GROUP": f"{PREFIX}sink-{tag}",
        "FOOTFALL_CLICKHOUSE_DSN": f"chdb://{work / 'clickhouse'}",
        "FOOTFALL_SINK_HTTP_PORT": str(http_port), "FOOTFALL_READ_KEYS": READ_KEY,
        "FOOTFALL_SINK_BATCH_SIZE": str(run.args.batch_size),
        "FOOTFALL_SINK_BATCH_SECONDS": str(run.args.batch_seconds),
    }  # fmt: skip
    if variant.folder:
        env["FOOTFALL_MIGRATIONS_DIR"] = str(variant.folder / "migrations")
    return env


def drain(run: Run, variant: Variant, work: Path, tag: str) -> str:
    """One fresh sink of `variant` drains the topic into a fresh chDB; the result line."""
    (http_port,) = find_free_ports(1)
    env = sink_env(run, variant, work, http_port, tag)
    log = (work / "sink.log").open("wb")
    command = [sys.executable, "-m", "consumers.clickhouse_sink"]
    sink = subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{http_port}"
        wait_healthy(url, sink)
        cpu_before, t0 = cpu_seconds(sink.pid), time.monotonic()
        threads_before = thread_cpu(sink.pid)
        rows, anon, file_backed = 0, 0.0, 0.0
        while rows < run.total:
            assert sink.poll() is None, (work / "sink.log").read_text()[-3000:]
            time.sleep(0.2)
            rows = count_rows(url)
            now_anon, now_file = rss_split_mb(sink.pid)  # sampled: VmHWM is the exact peak
            anon, file_backed = max(anon, now_anon), max(file_backed, now_file)
            if time.monotonic() - t0 > 900:
                raise TimeoutError(f"only {rows} rows after 900 s")
        wall, cpu = time.monotonic() - t0, cpu_seconds(sink.pid) - cpu_before
        rss = peak_rss_mb(sink.pid)
        threads = busiest(threads_before, thread_cpu(sink.pid))
    finally:
        sink.terminate()
        sink.wait(60)
    return (f"{variant.name:>8}: {rows:,} rows in {wall:.2f} s wall, {cpu:.2f} CPU-s: "
            f"{rows / wall:,.0f} rows/s wall, {rows / cpu:,.0f} rows per CPU-second, "
            f"peak RSS {rss:,.0f} MB (sampled peaks: anonymous {anon:,.0f} MB, "
            f"file-backed {file_backed:,.0f} MB)\n"
            f"          CPU-s by thread: {threads}")  # fmt: skip


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("total", nargs="?", type=int, default=300_000, help="events to produce")
    parser.add_argument("--compare", type=Path, help="folder with consumers/ and migrations/")
    parser.add_argument("--rounds", type=int, default=1, help="drains per variant, alternating")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--batch-seconds", type=float, default=1.0)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    variants = [Variant("this", None)]
    if args.compare:
        variants.insert(0, Variant("compare", args.compare.resolve()))
    with tempfile.TemporaryDirectory(prefix="sink-bench-") as tmp:
        work = Path(tmp)
        port, controller = find_free_ports(2)
        broker = LocalBroker(work / "kafka", port, controller)
        broker.start()
        try:
            broker.wait_ready()
            ensure_topics(broker.bootstrap, PREFIX)
            started = time.monotonic()
            produce(broker.bootstrap, f"{PREFIX}events", args.total)
            print(f"produced {args.total:,} events in {time.monotonic() - started:.1f} s; "
                  f"{os.cpu_count()} cores", flush=True)  # fmt: skip
            run = Run(broker.bootstrap, args.total, args)
            for round_ in range(args.rounds):
                for variant in variants:
                    folder = work / f"{variant.name}-{round_}"
                    folder.mkdir()
                    print(drain(run, variant, folder, f"{variant.name}-{round_}"), flush=True)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
