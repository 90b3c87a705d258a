"""A local Kafka cluster: N combined broker+controller nodes from the same jars (`up --brokers 3`).

Each node has its own data dir (node-1, node-2, ...) formatted with one shared cluster id, a
static voter set naming every node's controller port, and topics replicated to every node with
min.insync.replicas=2: one node may die without an acknowledged event being lost or refused.
With three voters the metadata quorum also needs two live nodes; with one left the survivor
can neither take writes (fewer than two in-sync copies) nor change leaders until a peer returns.
"""

import contextlib
import os
import signal
from collections.abc import Sequence
from pathlib import Path

from footfall.broker import LocalBroker
from footfall.broker_setup import CLUSTER_HEAP, DEFAULT_HEAP, Quorum, new_cluster_id
from footfall.procs import wait_exit

HOST = "127.0.0.1"


class LocalCluster:
    """The nodes of one cluster; data survives stop/start on the same data_dir."""

    def __init__(
        self,
        data_dir: Path,
        ports: Sequence[tuple[int, int]],
        *,
        java: str | None = None,
        lib_dir: Path | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        voters = ",".join(f"{i}@{HOST}:{cport}" for i, (_, cport) in enumerate(ports, start=1))
        replication = min(3, len(ports))
        heap = CLUSTER_HEAP if len(ports) > 1 else DEFAULT_HEAP
        self.nodes = [
            LocalBroker(
                self.node_dir(i), port, cport, java=java, lib_dir=lib_dir, heap=heap,
                quorum=Quorum(node_id=i, voters=voters, replication=replication),
            )
            for i, (port, cport) in enumerate(ports, start=1)
        ]  # fmt: skip

    def node_dir(self, node_id: int) -> Path:
        return self.data_dir / f"node-{node_id}"

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def replication(self) -> int:
        return self.nodes[0].quorum.replication

    def node(self, node_id: int) -> LocalBroker:
        return self.nodes[node_id - 1]

    def share_cluster_id(self) -> None:
        """Every node must be formatted with the same id; kept in each node's dir."""
        files = [node.data_dir / "cluster.id" for node in self.nodes]
        existing = [path for path in files if path.exists()]
        cid = existing[0].read_text().strip() if existing else new_cluster_id()
        for node in self.nodes:
            node.data_dir.mkdir(parents=True, exist_ok=True)
            path = node.data_dir / "cluster.id"
            if not path.exists():
                path.write_text(cid + "\n")

    def start(self) -> None:
        """Launch every node (they elect a controller among themselves); wait_ready() next."""
        self.share_cluster_id()
        for node in self.nodes:
            node.start()

    def wait_ready(self, timeout: float = 120.0) -> float:
        return max(node.wait_ready(timeout) for node in self.nodes)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every node at once: stopped one by one, the last ones would wait for a
        quorum that is already gone before they give up."""
        pids = [(node, node.pid()) for node in self.nodes]
        for _, pid in pids:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        for node, pid in pids:
            if pid is not None:
                wait_exit(pid, None, timeout)
            node.stop(timeout=1.0)  # reaps our child; SIGKILLs one that did not stop
