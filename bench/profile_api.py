"""Profile the API under wrk with py-spy: `.venv/bin/python bench/profile_api.py [single|batch]`.

Starts a fresh broker and one API process, records it with py-spy (pip install py-spy) while
wrk sends single events or 50-event batches, and prints where the samples fall: by stage (the
first frame of ours or of a library that matches a STAGES prefix, innermost first) and the top
functions by own time. The raw folded stacks stay in the work folder for a flame graph.
"""

import collections
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import REPO, Procs, wait_http, wrk  # noqa: E402
from footfall.broker import LocalBroker, find_free_ports  # noqa: E402
from footfall.topics import ensure_topics  # noqa: E402

# Stage of a sample: the innermost frame whose "function (file)" contains one of these.
STAGES = [
    ("kafka produce (librdkafka call)", "publish (producer_api/publisher.py"),
    ("kafka delivery callback", "on_delivery"),
    ("avro encode", "codec.py"),
    ("avro encode", "fast_writer.py"),
    ("avro encode", "<avro writer"),
    ("event record (orjson of objects)", "to_record"),
    ("validation", "validation.py"),
    ("collection policy (IP, PII, URLs)", "collection_policy.py"),
    ("collection policy (IP, PII, URLs)", "pii_rules.py"),
    ("collection policy (IP, PII, URLs)", "ip_policy.py"),
    ("cookieless ids", "cookieless.py"),
    ("judge / shared fields", "ingest.py"),
    ("JSON parse + body read", "body.py"),
    ("auth + rate limit", "auth.py"),
    ("auth + rate limit", "ratelimit.py"),
    ("metrics", "prometheus_client"),
    ("starlette routing/request/response", "starlette"),
    ("HTTP parsing (uvicorn)", "uvicorn"),
    ("asyncio loop", "asyncio"),
]


def stage(stack: str) -> str:
    frames = stack.split(";")
    if "_poll_loop" in stack:  # py-spy counts its waits inside librdkafka as busy
        return "kafka poll thread (mostly waiting)"
    for frame in reversed(frames):
        for name, needle in STAGES:
            if needle in frame:
                return name
    return "other"


def summarize(folded: Path) -> str:
    stages: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        stages[stage(stack)] += int(count)
        own[stack.split(";")[-1]] += int(count)
    total = sum(stages.values())
    lines = [f"{total} samples", "| stage | share |", "|---|---|"]
    lines += [f"| {name} | {100 * n / total:.1f}% |" for name, n in stages.most_common()]
    lines += ["", "top functions (own time):"]
    lines += [f"  {100 * n / total:5.1f}% {name}" for name, n in own.most_common(25)]
    return "\n".join(lines)


def main(kind: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="footfall-profile-"))
    subprocess.run([sys.executable, str(REPO / "bench/make_payloads.py"), str(work)], check=True)
    port, controller, api_port = find_free_ports(3)
    broker = LocalBroker(work / "kafka", port, controller)
    broker.start()
    procs = Procs(work, broker.bootstrap)
    try:
        broker.wait_ready()
        ensure_topics(broker.bootstrap, "bench_")
        env = procs.env(FOOTFALL_API_PORT=str(api_port), FOOTFALL_API_WORKERS="1")
        api = procs.spawn("api", [sys.executable, "-m", "producer_api"], env)
        url = f"http://127.0.0.1:{api_port}"
        wait_http(f"{url}/readyz")
        path, body = (
            ("/v1/track", "single.json") if kind == "single" else ("/v1/batch", "batch50.json")
        )
        wrk(url + path, work / body, 3)
        folded = work / f"{kind}.folded"
        spy = subprocess.Popen(["py-spy", "record", "-p", str(api.pid), "-r", "250", "-d", "15",
                                "-f", "raw", "-o", str(folded), "--threads",
                                "--nonblocking"])  # fmt: skip
        rps = wrk(url + path, work / body, 15)
        spy.wait()
        print(f"{kind}: {rps:,.0f} req/s under py-spy; folded stacks in {folded}")
        print(summarize(folded))
    finally:
        for proc in procs.children:
            proc.terminate()
        broker.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "batch")
