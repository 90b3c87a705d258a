"""Several API processes on one port (FOOTFALL_API_WORKERS, producer_api.workers): every worker
answers with its own producer, the rate limits hold for the whole API, /metrics sums all
workers, and no worker outlives its parent."""

import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from producer_api.config import Settings
from producer_api.ratelimit import Rate
from tests.support.api import WRITE_KEY, ApiServer

WORKERS = 2
BURST = 10  # for the whole API: each of the 2 workers enforces 5


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def api_env() -> dict[str, str]:
    return {
        "FOOTFALL_API_WORKERS": str(WORKERS),
        "FOOTFALL_API_KEY_RATE": "0.001",  # no refill during the test
        "FOOTFALL_API_KEY_BURST": str(BURST),
    }


def post_on_new_connection(url: str) -> int:
    body = {"batch": [{"type": "track", "event": "Worker", "anonymousId": "w",
                       "messageId": str(uuid.uuid4())}]}  # fmt: skip
    with httpx.Client(auth=(WRITE_KEY, ""), timeout=30) as client:
        return client.post(f"{url}/v1/batch", json=body).status_code


def accepted_events(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith('footfall_api_events_total{outcome="accepted"}'):
            return float(line.split()[-1])
    return 0.0


def test_workers_default_to_one_per_core_and_must_be_positive() -> None:
    assert Settings.from_env({}).workers == len(os.sched_getaffinity(0))
    assert Settings.from_env({"FOOTFALL_API_WORKERS": "3"}).workers == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(ValueError, match="FOOTFALL_API_WORKERS"):
            Settings.from_env({"FOOTFALL_API_WORKERS": bad})


def test_a_rate_divided_among_workers() -> None:
    assert Rate(1000, 5000).divided(4) == Rate(250, 1250)


def test_the_key_limit_holds_for_all_workers_together_and_metrics_sum_them(
    api: ApiServer,
) -> None:
    assert api.proc is not None
    assert len(children(api.proc.pid)) == WORKERS
    # Many connections at once, so both workers take some of them.
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(post_on_new_connection, [api.url] * 64))
    accepted = statuses.count(200)
    assert set(statuses) <= {200, 429}, statuses
    # Each worker lets its share of the burst through: never more than BURST in all.
    assert BURST // WORKERS <= accepted <= BURST, statuses
    # Whichever worker answers /metrics, it counts the events of every worker.
    assert {accepted_events(api.url) for _ in range(8)} == {float(accepted)}


def test_sigterm_stops_every_worker_cleanly(api: ApiServer) -> None:
    assert api.proc is not None
    workers = children(api.proc.pid)
    api.proc.send_signal(signal.SIGTERM)
    assert api.proc.wait(40) == 0
    assert not any(alive(pid) for pid in workers)


def test_a_killed_parent_takes_its_workers_down(api: ApiServer) -> None:
    assert api.proc is not None
    workers = children(api.proc.pid)
    api.proc.kill()
    api.proc.wait(10)
    deadline = time.monotonic() + 40
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its killed parent"
        time.sleep(0.1)


def test_a_dead_worker_stops_the_api_so_its_supervisor_sees_it(api: ApiServer) -> None:
    assert api.proc is not None
    first, *others = children(api.proc.pid)
    os.kill(first, signal.SIGKILL)
    assert api.proc.wait(40) != 0
    assert not any(alive(pid) for pid in others)
