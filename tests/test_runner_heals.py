"""Issue 12, point 1: the main job heals. Under steady load, each kind of process `footfall up`
runs (analytics server, uploader, sink, API, broker) is SIGKILLed in turn; the main job restarts
it with backoff and keeps running, and every event answered 2xx is stored exactly once. The time
to recover from each kill is printed (run with -s to see it), not asserted."""

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adfakes.harness import META_PIXEL, META_TOKEN
from adfakes.meta import FakeMeta
from footfall.procs import pid_alive
from tests.support.consumed import wait_group_caught_up
from tests.support.load import Load, wait_until
from tests.support.main_job import WRITE_KEY, MainJob

SINK_GROUP = "footfall-clickhouse-sink"
HEALTH = {"api": "/readyz", "sink": "/healthz", "analytics": "/healthz", "conversions": "/healthz"}


@pytest.fixture
def meta() -> Iterator[FakeMeta]:
    fake = FakeMeta({META_PIXEL: META_TOKEN})
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def healthy(job: MainJob, name: str) -> bool:
    port = job.ports[name]
    try:
        return httpx.get(f"http://127.0.0.1:{port}{HEALTH[name]}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def kill_and_time(job: MainJob, load: Load, name: str) -> float:
    """SIGKILL one process; seconds until its replacement serves and, for the ingest path
    (API, broker), until an event sent after the kill was answered 2xx again."""
    old = job.pid(name)
    assert old and pid_alive(old), f"{name} is not running"
    killed_at = time.monotonic()
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: job.pid(name) not in (0, old), f"{name} was not restarted", 120)
    if name in HEALTH:
        wait_until(lambda: healthy(job, name), f"{name} did not become healthy again", 120)
    ingest = name in ("api",) or name.startswith("broker")
    if ingest:
        wait_until(lambda: load.log.first_ok_after(killed_at) is not None, "no 2xx again", 120)
    return time.monotonic() - killed_at


def test_main_job_restarts_every_kind_of_process_and_loses_nothing(
    tmp_path: Path, meta: FakeMeta
) -> None:
    uploader = {"FOOTFALL_META_PIXEL_ID": META_PIXEL, "FOOTFALL_META_ACCESS_TOKEN": META_TOKEN,
                "FOOTFALL_META_BASE_URL": meta.base_url}  # fmt: skip
    job = MainJob(tmp_path, extra=uploader)
    load = Load("", WRITE_KEY)
    recovered: dict[str, float] = {}
    try:
        job.start()
        load.url = job.api_url
        load.start()
        wait_until(lambda: load.log.count(200, after=0) >= 10, "no 2xx before the kills")
        for name in ("analytics", "conversions", "sink", "api", "broker1"):
            recovered[name] = kill_and_time(job, load, name)
            print(f"recovered from SIGKILL of {name} in {recovered[name]:.1f}s", flush=True)
            # The load goes on between kills; the next kill finds a settled stack.
            mark = time.monotonic()

            def flowing(after: float = mark) -> bool:
                return load.log.count(200, after=after) >= 5

            wait_until(flowing, "load stalled", 120)
        assert job.proc is not None and job.proc.poll() is None, "the main job exited"
        log = load.finish()

        # 503 (Kafka away, with Retry-After) and no answer at all (the API restarting) are the
        # only failures a client may see.
        statuses = {status for _, status, _ in log.statuses}
        assert statuses <= {200, 503, -1}, statuses
        assert all(after.isdigit() for after in log.retry_after), log.retry_after[:3]
        print(f"answers: {len(log.statuses)} requests, {len(log.acked)} events acked, "
              f"{log.count(503, 0)} x 503, {log.count(-1, 0)} unanswered", flush=True)  # fmt: skip

        wait_group_caught_up(job.state()["bootstrap"], SINK_GROUP, "events", timeout=180)
        stored = job.query("SELECT message_id FROM events FINAL").split()
        assert len(stored) == len(set(stored)), "an event is stored twice"
        missing = log.acked - set(stored)
        assert not missing, f"{len(missing)} events answered 2xx are not stored"
        raw = job.query("SELECT count() FROM events").split()[0]
        print(f"stored {len(stored)} events (raw rows before merges: {raw})", flush=True)
        pids = job.all_pids()
        assert job.stop() == 0, job.output.read_text()[-3000:]
        assert [p for p in pids if pid_alive(p)] == []
    finally:
        load.finish()
        job.stop()
    for line in job.output.read_text().splitlines():
        if "ready again" in line or "exited" in line:
            print(line)
