"""Issue 12, point 2: a 3-node cluster (replication factor 3, min.insync.replicas=2) under steady
load through the real API (acks=all) and sink. SIGKILL the leader of a partition: with two
copies left, every request is still answered 2xx. SIGKILL a second node: with one copy left, every
request is answered 503 with Retry-After. Start both again: the same API process accepts again,
and no event answered 2xx is lost or stored twice."""

import os
import signal
import time
from pathlib import Path

from footfall.cluster import LocalCluster
from footfall.topics import ensure_topics
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.consumed import wait_group_caught_up
from tests.support.load import Load, SendLog, wait_until
from tests.support.local_cluster import in_sync, partition_leader
from tests.support.sink import Sink

PREFIX = "cluster_"
EVENTS = f"{PREFIX}events"


def answered_between(log: SendLog, start: float, end: float) -> list[int]:
    """Statuses of the requests sent after `start` and answered before `end`."""
    return [got for sent, got, secs in list(log.statuses) if start < sent and sent + secs < end]


def without(cluster: LocalCluster, dead: set[int]) -> bool:
    """True once the metadata has dropped the dead nodes from every leader and ISR."""
    try:
        isrs = in_sync(cluster.bootstrap, EVENTS)
        leaders = {p: partition_leader(cluster.bootstrap, EVENTS, p) for p in isrs}
    except Exception:  # a metadata request can fail while the controller moves
        return False
    return all(not dead & set(isr) and leaders[p] not in dead for p, isr in isrs.items())


def kill(cluster: LocalCluster, node_id: int) -> float:
    pid = cluster.node(node_id).pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def test_leader_then_second_node_killed_under_load(
    kafka_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = kafka_cluster
    ensure_topics(cluster.bootstrap, PREFIX, replication=3)
    assert all(len(isr) == 3 for isr in in_sync(cluster.bootstrap, EVENTS).values())
    api = ApiServer(cluster.bootstrap, PREFIX, tmp_path)  # delivery timeout 10 s
    sink = Sink(cluster.bootstrap, PREFIX, tmp_path, batch_size=500)
    api.start()
    sink.start()
    load = Load(api.url, WRITE_KEY).start()
    try:
        wait_until(lambda: load.log.count(200, after=0) >= 10, "no 2xx with three nodes")

        leader = partition_leader(cluster.bootstrap, EVENTS, 0)
        first_at = kill(cluster, leader)
        wait_until(lambda: without(cluster, {leader}), "the dead leader was not replaced", 60)
        settled_at = time.monotonic()
        wait_until(lambda: load.log.count(200, after=settled_at) >= 20, "no 2xx on two nodes")
        slowest = max(secs for sent, _, secs in list(load.log.statuses) if sent > first_at)
        took = settled_at - first_at
        print(f"leader {leader} killed: new leaders and ISRs after {took:.1f}s; "
              f"slowest answer since {slowest:.1f}s", flush=True)  # fmt: skip

        second = next(n.quorum.node_id for n in cluster.nodes if n.quorum.node_id != leader)
        second_at = kill(cluster, second)
        # Two copies were in sync until now: every request sent since the first kill (during
        # the leader change too) was accepted, only slower while the dead one was fenced.
        on_two = answered_between(load.log, first_at, second_at)
        assert on_two and set(on_two) == {200}, on_two
        wait_until(lambda: load.log.count(503, after=second_at) >= 2, "no 503 on one node", 90)
        back_at = time.monotonic()
        on_one = answered_between(load.log, second_at, back_at)
        assert on_one and set(on_one) == {503}, on_one
        assert all(after.isdigit() for after in load.log.retry_after)

        for node_id in (leader, second):
            cluster.node(node_id).start()
        wait_until(lambda: load.log.first_ok_after(back_at) is not None, "no recovery", 180)
        recovered = (load.log.first_ok_after(back_at) or back_at) - back_at
        print(f"two nodes back: first 2xx for a request sent {recovered:.1f}s after the "
              f"restart (same API process)", flush=True)  # fmt: skip
        wait_until(lambda: all(len(i) == 3 for i in in_sync(cluster.bootstrap, EVENTS).values()),
                   "the ISRs did not grow back to 3", 120)  # fmt: skip
        mark = time.monotonic()
        wait_until(lambda: load.log.count(200, after=mark) >= 10, "no 2xx on three nodes")
        log = load.finish()
        assert api.proc is not None and api.proc.poll() is None, "the API process died"

        assert {status for _, status, _ in log.statuses} <= {200, 503}
        wait_group_caught_up(cluster.bootstrap, f"{PREFIX}sink", EVENTS, timeout=180)
        stored = sink.query("SELECT message_id FROM events FINAL").text.split()
        assert len(stored) == len(set(stored)), "an event is stored twice"
        missing = log.acked - set(stored)
        assert not missing, f"{len(missing)} events answered 2xx are lost"
        print(f"{len(log.acked)} events acked, all stored once; "
              f"{log.count(503, 0)} requests answered 503", flush=True)  # fmt: skip
    finally:
        load.finish()
        api.stop()
        if sink.proc is not None:
            sink.stop()
