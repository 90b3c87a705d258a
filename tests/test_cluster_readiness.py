"""Issue 12: with too few in-sync replicas the API answers 503 at once (producer_api.replica_watch),
not after the producer's ~11 s of NOT_ENOUGH_REPLICAS retries; /readyz says so too, and both
recover on their own. Single-broker mode (replication 1, min.insync.replicas 1) is unchanged."""

import json
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from footfall.cluster import LocalCluster
from footfall.topics import ensure_topics
from producer_api.replica_watch import Partition, ReplicaWatch, Shortfall, shortfalls
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.consumed import wait_group_caught_up
from tests.support.load import Load, wait_until
from tests.support.local_cluster import partition_leader
from tests.support.sink import Sink

PREFIX = "ready_"
EVENTS = f"{PREFIX}events"
# A correctness bound, well under the producer's 10 s delivery timeout (+1 s): not a benchmark.
FAST = 5.0
CSV_MAPPING = {"event": "Store Visit", "user_id_column": "customer",
               "timestamp_column": "at", "timezone": "UTC"}  # fmt: skip
CSV_ROWS = b"at,customer\n2026-11-01 10:00:00,c-1\n"


def test_shortfalls_count_only_live_in_sync_replicas() -> None:
    parts = {0: Partition(3, (3, 1, 2)), 1: Partition(1, (1, 2, 3)), 2: Partition(-1, (2,))}
    assert shortfalls(parts, {1, 2, 3}, 2) == (Shortfall(2, 1, 2),)  # no leader
    # Dead node 1 still named in sync (metadata frozen, or not fenced yet) does not count; as
    # leader of partition 1 it is replaced from the two live copies: no shortfall for that.
    assert shortfalls(parts, {2, 3}, 2) == (Shortfall(2, 1, 2),)
    assert shortfalls({0: Partition(1, (1, 2, 3))}, {3}, 2) == (Shortfall(0, 1, 2),)
    assert [s.partition for s in shortfalls(parts, {3}, 2)] == [0, 1, 2]
    assert shortfalls({0: Partition(1, (1,))}, {1}, 1) == ()  # single broker: as before


def test_single_broker_topic_is_never_short(kafka_bootstrap: str, topic_prefix: str) -> None:
    watch = ReplicaWatch({"bootstrap.servers": kafka_bootstrap}, f"{topic_prefix}events", 1.0)
    watch.refresh()
    assert watch.short == ()
    watch.check()  # no PublishError


@dataclass
class Probes:
    """One request every 0.2 s, each on its own thread, so a request stuck in the producer's
    retries does not hide the quick answers of the requests sent after it."""

    url: str
    answers: list[tuple[float, int, float, str]] = field(default_factory=list)  # sent, status,
    acked: set[str] = field(default_factory=set)  # answered at, Retry-After
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Probes":
        threading.Thread(target=self._spawn, daemon=True).start()
        return self

    def _spawn(self) -> None:
        while not self.stop.wait(0.2):
            threading.Thread(target=self._send, daemon=True).start()

    def _send(self) -> None:
        ids = [str(uuid.uuid4()) for _ in range(2)]
        body = {"batch": [{"type": "track", "event": "Probe", "messageId": m,
                           "anonymousId": m[:6]} for m in ids]}  # fmt: skip
        sent = time.monotonic()
        try:
            answer = httpx.post(f"{self.url}/v1/batch", json=body, auth=(WRITE_KEY, ""), timeout=30)
        except httpx.HTTPError:
            return
        if answer.status_code == 200:
            self.acked.update(ids)
        retry = answer.headers.get("retry-after", "")
        self.answers.append((sent, answer.status_code, time.monotonic(), retry))

    def first(self, status: int, sent_after: float) -> tuple[float, int, float, str] | None:
        found = [a for a in list(self.answers) if a[0] > sent_after and a[1] == status]
        return min(found, key=lambda a: a[2], default=None)


def readyz(url: str) -> tuple[int, dict[str, object]]:
    try:
        answer = httpx.get(f"{url}/readyz", timeout=10)
    except httpx.HTTPError:
        return -1, {}
    return answer.status_code, answer.json()


def _state(answer: tuple[int, dict[str, object]]) -> tuple[int, object]:
    return answer[0], answer[1].get("status")


def kill(cluster: LocalCluster, node_id: int) -> None:
    pid = cluster.node(node_id).pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


def test_two_brokers_killed_answers_503_at_once(
    kafka_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = kafka_cluster
    ensure_topics(cluster.bootstrap, PREFIX, replication=3)
    api = ApiServer(cluster.bootstrap, PREFIX, tmp_path)  # delivery timeout 10 s
    sink = Sink(cluster.bootstrap, PREFIX, tmp_path, batch_size=500)
    api.start()
    sink.start()
    try:  # the sink holds a chDB path: stopped whatever fails first
        load = Load(api.url, WRITE_KEY).start()
        probes = Probes(api.url).start()
        try:
            wait_until(lambda: load.log.count(200, after=0) >= 10, "no 2xx with three nodes")
            assert readyz(api.url)[0] == 200

            leader = partition_leader(cluster.bootstrap, EVENTS, 0)
            other = next(n.quorum.node_id for n in cluster.nodes if n.quorum.node_id != leader)
            killed_at = time.monotonic()
            kill(cluster, leader)
            kill(cluster, other)
            # Wait for the replica watch's answer itself: a /readyz whose metadata request went
            # to a dead broker answers 503 kafka_unreachable once, and the next one can still say
            # ready until the watch's next check (seen once in a full run).
            short = (503, "too_few_in_sync_replicas")
            wait_until(lambda: _state(readyz(api.url)) == short, "/readyz never said too few", 30)
            ready_503 = time.monotonic() - killed_at
            status, body = readyz(api.url)
            assert (status, body["status"]) == short, body
            wait_until(lambda: probes.first(503, killed_at) is not None, "no 503", 30)
            first = probes.first(503, killed_at)
            assert first is not None and first[3].isdigit(), first  # with Retry-After
            first_503 = first[2] - killed_at
            print(f"two nodes killed: /readyz 503 after {ready_503:.1f}s, first ingest 503 "
                  f"answered {first_503:.1f}s after the kill", flush=True)  # fmt: skip
            assert ready_503 < FAST and first_503 < FAST
            # A CSV import is refused as fast, saying why, not after the delivery timeout.
            asked_at = time.monotonic()
            csv = httpx.post(
                f"{api.url}/v1/import/csv?mapping=" + json.dumps(CSV_MAPPING),
                content=CSV_ROWS, auth=(WRITE_KEY, ""), headers={"content-type": "text/csv"},
                timeout=60,
            )  # fmt: skip
            assert csv.status_code == 503 and csv.headers.get("retry-after"), csv.text
            assert "too few in-sync replicas" in csv.json()["message"], csv.text
            assert time.monotonic() - asked_at < FAST

            back_at = time.monotonic()
            for node_id in (leader, other):
                cluster.node(node_id).start()
            wait_until(lambda: load.log.first_ok_after(back_at) is not None, "no recovery", 180)
            wait_until(lambda: probes.first(200, back_at) is not None, "probes not 2xx again", 60)
            wait_until(lambda: readyz(api.url)[0] == 200, "/readyz not 200 again", 60)
            recovered = (load.log.first_ok_after(back_at) or back_at) - back_at
            print(f"restarted: first 2xx for a request sent {recovered:.1f}s later", flush=True)
        finally:
            probes.stop.set()
            log = load.finish()
            api.stop()
        acked = log.acked | probes.acked
        wait_group_caught_up(cluster.bootstrap, f"{PREFIX}sink", EVENTS, timeout=180)
        stored = sink.query("SELECT message_id FROM events FINAL").text.split()
        assert len(stored) == len(set(stored)), "an event is stored twice"
        missing = acked - set(stored)
        assert not missing, f"{len(missing)} events answered 2xx are lost"
        print(f"{len(acked)} events acked, all stored once", flush=True)
    finally:
        sink.stop()
