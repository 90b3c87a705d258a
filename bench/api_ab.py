"""A/B of two API code trees on one broker: `python bench/api_ab.py BEFORE_DIR [rounds] [kind]`.

BEFORE_DIR holds a copy of `producer_api/` and `eventschema/` (the "before"); the "after" is
this checkout. Both run as one process on a fresh broker and take turns under the same wrk load
(`single` or `batch`, 10 s each; who goes first alternates too), so the machine's other load
hits both alike.
Prints requests/s and requests per API CPU-second of each run.
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import REPO, Procs, cpu_seconds, wait_http, wrk  # noqa: E402
from footfall.broker import LocalBroker, find_free_ports  # noqa: E402
from footfall.topics import ensure_topics  # noqa: E402

RUN = "runpy.run_module('producer_api', run_name='__main__')"


def main(before: Path, rounds: int, kind: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="footfall-ab-"))
    os.system(f"{sys.executable} {REPO / 'bench/make_payloads.py'} {work}")  # noqa: S605
    port, controller, port_a, port_b = find_free_ports(4)
    broker = LocalBroker(work / "kafka", port, controller)
    broker.start()
    procs = Procs(work, broker.bootstrap)
    path, body = ("/v1/track", "single.json") if kind == "single" else ("/v1/batch", "batch50.json")
    try:
        broker.wait_ready()
        ensure_topics(broker.bootstrap, "bench_")
        apis = {}
        for name, api_port, tree in (("before", port_a, before), ("after", port_b, REPO)):
            env = procs.env(FOOTFALL_API_PORT=str(api_port), FOOTFALL_API_WORKERS="1")
            # The tree first on sys.path (-m would put the checkout, the cwd, first).
            start = f"import sys, runpy; sys.path.insert(0, {str(tree)!r}); " + RUN
            proc = procs.spawn(name, [sys.executable, "-c", start], env)
            url = f"http://127.0.0.1:{api_port}"
            wait_http(f"{url}/readyz")
            wrk(url + path, work / body, 3)
            apis[name] = (proc, url)
        for round_ in range(rounds):
            order = list(apis.items())
            for name, (proc, url) in order[::-1] if round_ % 2 else order:  # who goes first
                cpu = cpu_seconds(proc.pid)
                rps = wrk(url + path, work / body, 10)
                used = cpu_seconds(proc.pid) - cpu
                print(f"{name}: {rps:,.0f} req/s, {rps * 10 / used:,.0f} req per CPU-s", flush=True)
    finally:
        for child in procs.children:
            child.terminate()
        broker.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]), int(args[1]) if len(args) > 1 else 3, args[2] if len(args) > 2 else "batch")
