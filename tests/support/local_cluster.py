"""Start a real local 3-node Kafka cluster for tests (footfall.cluster on free ports)."""

from pathlib import Path

from confluent_kafka.admin import AdminClient

from footfall.broker import find_free_ports
from footfall.cluster import LocalCluster


def start_cluster(data_dir: Path, nodes: int = 3) -> LocalCluster:
    """A ready cluster on fresh ports; the caller stops it (cluster.stop())."""
    free = find_free_ports(2 * nodes)
    cluster = LocalCluster(data_dir, list(zip(free[::2], free[1::2], strict=True)))
    try:
        cluster.start()
        cluster.wait_ready()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def partition_leader(bootstrap: str, topic: str, partition: int = 0) -> int:
    """The node id that leads the partition now (-1 while it has none)."""
    meta = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(
        topic, timeout=10
    )
    return int(meta.topics[topic].partitions[partition].leader)


def in_sync(bootstrap: str, topic: str) -> dict[int, list[int]]:
    """Partition -> its in-sync replicas, as the cluster's metadata reports them."""
    meta = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(
        topic, timeout=10
    )
    return {p: list(m.isrs) for p, m in meta.topics[topic].partitions.items()}
