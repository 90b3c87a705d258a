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
The helpers (load tools, process and topic probes, settings) are in bench/support.py.
"""

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
    wrk,
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


def single_event_vs_echo(
    procs: Procs, payloads: Path, api_port: int, echo_port: int, results: Results
) -> tuple[Proc, str]:
    """Phase 1: single-event req/s of the API vs. the echo app; returns the API (left running)."""
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
    return api, api_url


def batched_ingestion(api_url: str, payloads: Path, results: Results) -> None:
    """Phase 2: events/s at 50 events per request, one API process."""
    batch_rps = wrk(f"{api_url}/v1/batch", payloads / "batch50.json")
    results.append(
        (
            "batched ingestion (50/request), one API process",
            f"**{batch_rps * 50:,.0f} events/s** ({batch_rps:,.0f} req/s; target >= 30,000)",
        )
    )


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
        rows = consumed(bootstrap)
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
            f"p99 **{p99:.2f} s** (target p99 <= 2 s)",
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


def run_phases(broker: LocalBroker, procs: Procs, ports: tuple[int, int, int],
               results: Results) -> None:  # fmt: skip
    """The measured phases in order, with the RSS sampler running from phase 2 to phase 4."""
    api_port, echo_port, sink_port = ports
    payloads = procs.work / "payloads"
    api, api_url = single_event_vs_echo(procs, payloads, api_port, echo_port, results)
    peaks: dict[str, float] = {}
    stop = threading.Event()
    pids = {"api": api.pid, "broker": broker.pid() or 0}
    sampler = threading.Thread(target=sample_rss, args=(pids, stop, peaks))
    sampler.start()
    batched_ingestion(api_url, payloads, results)
    sink, sink_url = sink_drain(procs, broker.bootstrap, sink_port, pids, results)
    end_to_end_latency(api_url, sink_url, results)
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
    api_port, echo_port, sink_port = find_free_ports(3)
    results = Results()
    try:
        run_phases(broker, procs, (api_port, echo_port, sink_port), results)
    finally:
        for proc in procs.children:
            if proc.poll() is None:
                proc.kill()
        broker.stop()
    write_report(results)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
