"""CPU per request of the API's ASGI app alone: `python bench/api_inprocess.py KIND [TREE ...]`.

KIND is `single` (POST /v1/track, one event) or `batch` (POST /v1/batch, the benchmark's 50
events). The app handles the request in process, with no HTTP server and no Kafka: the
publisher is replaced by one that returns at once, so what is measured is our code from the
ASGI call to the response (auth, body, validation, privacy rules, Avro, answer). Each TREE
(a folder holding `producer_api/`, `eventschema/` and `avro/`, default this checkout) runs
in a fresh process, the trees taking turns for `--rounds` rounds, so run a copy of the old code
against the checkout to see what a change did. Prints µs of process CPU per request.
"""

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
KEY = "bench-write-key"
ENV = {
    "FOOTFALL_KAFKA_BOOTSTRAP": "127.0.0.1:1",  # never reached: nothing is produced
    "FOOTFALL_TOPIC_PREFIX": "bench_",
    "FOOTFALL_WRITE_KEYS": KEY,
    "FOOTFALL_READ_KEYS": "bench-read-key",
    "FOOTFALL_API_KEY_RATE": "1e9",
    "FOOTFALL_API_KEY_BURST": "1e9",
    "FOOTFALL_API_IP_RATE": "1e9",
    "FOOTFALL_API_IP_BURST": "1e9",
}


def body_of(kind: str) -> tuple[str, bytes]:
    sys.path.insert(1, str(REPO))  # after the tree: bench.make_payloads only
    import orjson

    from bench.make_payloads import event

    if kind == "single":
        return "/v1/track", orjson.dumps(event(1)).replace(b"{{REQ}}", b"1")
    batch = {"batch": [event(i) for i in range(50)], "sentAt": "2026-11-27T12:00:00.100Z"}
    return "/v1/batch", orjson.dumps(batch).replace(b"{{REQ}}", b"1")


def measure(tree: Path, kind: str, requests: int) -> float:
    """In this process: µs of CPU per request of the app from `tree`."""
    sys.path.insert(0, str(tree))
    os.environ.update(ENV)
    from producer_api.app import create_app
    from producer_api.config import Settings
    from producer_api.serve import tune_gc
    from producer_api.services import build_services

    path, body = body_of(kind)
    settings = Settings.from_env()
    app = create_app(settings)
    services = build_services(settings)
    app.state.services = services

    async def acknowledged(_messages: Any) -> None:
        return None

    services.publisher.publish = acknowledged  # type: ignore[method-assign,assignment]
    auth = b"Basic " + base64.b64encode(f"{KEY}:".encode())
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
               (b"authorization", auth), (b"content-length", str(len(body)).encode())]  # fmt: skip
    answers: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        answers.append(message)

    async def run(count: int) -> None:
        for _ in range(count):
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                     "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 40000),
                     "scheme": "http", "method": "POST", "root_path": "", "path": path,
                     "raw_path": path.encode(), "query_string": b"",
                     "headers": headers}  # fmt: skip
            await app(scope, receive, send)

    tune_gc()  # as the server does
    asyncio.run(run(max(requests // 10, 100)))  # warm up
    if answers[-2].get("status") != 200:
        raise SystemExit(f"{tree}: the app answered {answers[-2:]}")
    started = time.process_time()
    asyncio.run(run(requests))
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["single", "batch"])
    parser.add_argument("trees", nargs="*", type=Path, default=[REPO])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=0, help="default 20,000 / 3,000")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    requests = args.requests or (20_000 if args.kind == "single" else 3_000)
    if args.child:
        print(f"{measure(args.trees[0], args.kind, requests):.1f}")
        return
    results: dict[Path, list[float]] = {tree: [] for tree in args.trees}
    for _ in range(args.rounds):
        for tree in args.trees:
            out = subprocess.run(
                [sys.executable, __file__, args.kind, str(tree), "--child",
                 "--requests", str(requests)],
                capture_output=True, text=True, check=True, env={**os.environ, **ENV},
            ).stdout  # fmt: skip
            results[tree].append(float(out.strip().splitlines()[-1]))
            print(f"{tree}: {results[tree][-1]:.1f} µs per request", flush=True)
    for tree, values in results.items():
        print(f"{tree}: best {min(values):.1f}, all {', '.join(f'{v:.1f}' for v in values)}")


if __name__ == "__main__":
    main()
