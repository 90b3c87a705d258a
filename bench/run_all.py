"""Footfall benchmark, run by hand: `.venv/bin/python bench/run_all.py` (about 6 minutes).

Everything runs on this machine, side by side in one run, against a fresh local broker:
1. single-event requests: req/s of our API with one process per core and with one process, of a
   bare uvicorn echo app and of PostHog's capture (bench/peer.py; skipped, with a message, when
   its binary is absent), taking turns under the same wrk load (bench/ingest_race.py);
2. 50 events per request: events/s and events per CPU-second of the server's processes, our API
   (N and 1 processes) and capture taking turns; the ratios to capture;
3. sink throughput: a fresh sink drains the topic into a fresh chDB; rows/s (wall) and rows per
   CPU-second of the sink process;
4. end to end: a paced load of 5,000 events/s for 30 s; latency from the client's 2xx to the row's
   inserted_at (ClickHouse's clock at insert, same machine), p50/p99;
5. resident memory (RSS) of each process (the API's workers summed), sampled during 3-4.
All load comes from one write key on one IP, so the API's rate limits are set far above it.
Results go to stdout and bench/results/<UTC date>.md. BENCH_SECONDS sets the length of a run.
The helpers (load tools, process and topic probes, settings) are in bench/support.py.
"""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import peer  # noqa: E402
from bench.ingest_race import race, report_batch, report_single, start_api, start_echo, start_peer  # noqa: E402,E501
from bench.support import (  # noqa: E402
    CONNECTIONS,
    DURATION,
    PREFIX,
    REPO,
    Procs,
    Results,
    consumed,
    cpu_seconds,
    paced_load,
    query,
    sample_rss,
    topic_size,
    wait_http,
)
from footfall.broker import LocalBroker, find_free_ports  # noqa: E402
from footfall.topics import ensure_topics  # noqa: E402

Proc = subprocess.Popen[bytes]


def start_broker() -> tuple[Path, LocalBroker]:
    """A fresh work folder with the request bodies, and a fresh broker with the topics."""
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
    return work, broker


def ingestion(procs: Procs, ports: list[int], results: Results) -> Proc:
    """Phases 1-2: single events and 50-event batches, our API (N and 1 processes) taking turns
    with the echo app and PostHog's capture; returns the N-process API (left running)."""
    payloads = procs.work / "payloads"
    workers = os.cpu_count() or 1
    api, api_proc = start_api(procs, ports[0], payloads, workers)
    one, one_proc = start_api(procs, ports[1], payloads, 1)
    echo = start_echo(procs, ports[2], payloads)
    capture = start_peer(procs, ports[3], payloads)
    peers = [capture] if capture is not None else []
    race([echo, api, one, *peers], "single")
    race([api, one, *peers], "batch")
    for target in (api, one):
        report_single(target, echo, capture, results)
    for target in (api, one):
        report_batch(target, capture, DURATION, results)
    if capture is None:
        results.append(("PostHog capture", f"skipped: no executable at {peer.BINARY}"))
    procs.stop(one_proc)
    for child in procs.children:
        if child.pid in (echo.pid, capture.pid if capture else -1):
            procs.stop(child)
    return api_proc


def sink_drain(
    procs: Procs, bootstrap: str, sink_port: int, pids: dict[str, int], results: Results
) -> tuple[Proc, str]:
    """Phase 3: a fresh sink drains the backlog into chDB; returns the sink (left running)."""
    backlog = topic_size(bootstrap)
    sink = procs.spawn(
        "sink",
        [sys.executable, "-m", "consumers.clickhouse_sink"],
        procs.env(
            FOOTFALL_DATA_DIR=str(procs.work / "data"),
            FOOTFALL_SINK_HTTP_PORT=str(sink_port),
            FOOTFALL_CLICKHOUSE_DSN=f"chdb://{procs.work / 'data' / 'clickhouse'}",
            FOOTFALL_SINK_BATCH_SIZE="50000",
            # The insert window bounds the end-to-end latency (phase 5): a quarter second.
            FOOTFALL_SINK_BATCH_SECONDS=os.environ.get("BENCH_SINK_BATCH_SECONDS", "0.25"),
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
        rows = consumed(bootstrap)
    wall = time.monotonic() - started
    cpu = cpu_seconds(sink.pid) - cpu_before
    results.append(
        (
            "sink into chDB: backlog drained",
            f"{rows:,} rows in {wall:.1f} s = "
            f"**{rows / wall:,.0f} rows/s wall**, {rows / cpu:,.0f} rows per CPU-second "
            f"of the sink (target >= 150,000)",
        )
    )
    return sink, sink_url


def end_to_end_latency(api_url: str, sink_url: str, results: Results) -> None:
    """Phase 4: a paced load of 5,000 events/s for 30 s; 2xx -> row inserted, p50/p99."""
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
            f"p99 **{p99:.2f} s** (target p99 <= 1 s)",
        )
    )


def peak_rss(peaks: dict[str, float], results: Results) -> None:
    """Phase 5: the peak RSS of each process, sampled from phase 2 to the end of phase 4."""
    results.append(
        (
            "peak RSS during the runs",
            ", ".join(f"{name} {mb:,.0f} MB" for name, mb in sorted(peaks.items())),
        )
    )


def run_phases(broker: LocalBroker, procs: Procs, ports: list[int], results: Results) -> None:
    """The measured phases in order, with the RSS sampler running from phase 3 to phase 5."""
    api = ingestion(procs, ports, results)
    peaks: dict[str, float] = {}
    stop = threading.Event()
    pids = {"api": api.pid, "broker": broker.pid() or 0}
    sampler = threading.Thread(target=sample_rss, args=(pids, stop, peaks))
    sampler.start()
    sink, sink_url = sink_drain(procs, broker.bootstrap, ports[4], pids, results)
    if os.environ.get("BENCH_SKIP_E2E") != "1":
        end_to_end_latency(f"http://127.0.0.1:{ports[0]}", sink_url, results)
    stop.set()
    sampler.join()
    peak_rss(peaks, results)
    for proc in (api, sink):
        procs.stop(proc)


def write_report(results: Results) -> None:
    """The result table, to stdout and bench/results/<UTC date>.md."""
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


def main() -> None:
    work, broker = start_broker()
    procs = Procs(work, broker.bootstrap)
    results = Results()
    try:
        run_phases(broker, procs, list(find_free_ports(5)), results)
    finally:
        for proc in procs.children:
            if proc.poll() is None:
                proc.kill()
        broker.stop()
    write_report(results)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
