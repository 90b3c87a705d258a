"""What a local broker needs before its JVM starts: the jars (fetched with Maven), free ports,
a cluster id and its server.properties."""

import base64
import random
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from footfall import paths
from footfall.kafka_auth import BrokerAuth


class BrokerError(RuntimeError):
    """The broker could not be prepared, started or reached."""


# The G1 flags are the ones bin/kafka-run-class.sh sets; 1 GB is the scripts' default heap
# (a cluster node gets CLUSTER_HEAP instead: three JVMs share a small machine).
DEFAULT_HEAP = "1g"
CLUSTER_HEAP = "512m"
JVM_FLAGS = (
    "-Xms256m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
)


def find_free_ports(count: int) -> list[int]:
    """Ports free right now on 127.0.0.1; all sockets stay bound until each port is picked.

    Picked below the kernel's ephemeral range: a port handed out by bind(0) is one the kernel
    also gives to outgoing connections, which could take it between this pick and the moment the
    child process binds it (seconds later, after its imports)."""
    socks: list[socket.socket] = []
    low, high = _pick_range()
    try:
        while len(socks) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind(("127.0.0.1", random.randrange(low, high) if high > low else 0))
            except OSError:
                sock.close()  # taken: draw again
                continue
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _pick_range() -> tuple[int, int]:
    """[10000, first ephemeral port); empty (so bind(0)) if the ephemeral range starts lower."""
    try:
        first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first = 32768  # Linux's default; elsewhere a guess
    return 10000, first


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def ensure_jars(lib_dir: Path | None = None) -> Path:
    """Fetch the broker jars with Maven unless the lib dir already holds some."""
    lib = lib_dir or paths.kafka_lib_dir()
    if lib.is_dir() and any(lib.glob("*.jar")):
        return lib
    lib.mkdir(parents=True, exist_ok=True)
    pom = paths.kafka_deploy_dir() / "pom.xml"
    # The output path must be absolute: the plugin resolves relative paths against the POM's dir.
    cmd = ["mvn", "-B", "-q", "-f", str(pom), "dependency:copy-dependencies"]
    cmd += ["-DincludeScope=runtime", f"-DoutputDirectory={lib.resolve()}"]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    if not any(lib.glob("*.jar")):
        raise BrokerError(f"mvn copied no jars into {lib}")
    return lib


def new_cluster_id() -> str:
    """A Kafka Uuid: 16 random bytes, URL-safe Base64 without padding, never starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


@dataclass(frozen=True)
class Quorum:
    """This node's place in a cluster of combined broker+controller nodes: its id, the static
    voter set ("1@127.0.0.1:9093,2@...") and the replication the cluster's topics get."""

    node_id: int = 1
    voters: str = ""  # empty: a single node, voting alone
    replication: int = 1

    @property
    def min_insync(self) -> int:
        # acks=all then needs two copies: one broker may die without losing or refusing data.
        return min(2, self.replication)


def cluster_properties(quorum: Quorum) -> dict[str, str]:
    """Internal topics as replicated as the data, and quick fencing of a dead broker so that a
    partition led by it gets a new leader within seconds (the default session is 9 s)."""
    rf, isr = str(quorum.replication), str(quorum.min_insync)
    props = {
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": isr,
    }
    if quorum.replication > 1:
        props |= {
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            "unclean.leader.election.enable": "false",
            "broker.heartbeat.interval.ms": "1000",
            "broker.session.timeout.ms": "6000",
        }
    return props


def server_properties(
    port: int,
    controller_port: int,
    storage_dir: Path,
    auth: BrokerAuth | None,
    quorum: Quorum | None = None,
) -> str:
    """server.properties of a broker+controller node on 127.0.0.1 (SASL with `auth`): a single
    node by default, or one node of a cluster (`quorum`)."""
    host = "127.0.0.1"  # advertise 127.0.0.1, not localhost (which may resolve to ::1)
    quorum = quorum or Quorum()
    props = {
        "process.roles": "broker,controller",
        "node.id": str(quorum.node_id),
        # A static voter set (format without --standalone) is not stored in the metadata
        # log, so a restart with a different controller port still works.
        "controller.quorum.voters": quorum.voters or f"1@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(storage_dir),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        # One node: internal topics need RF 1 / min ISR 1, or groups and transactions hang.
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        **cluster_properties(quorum),
    }
    if auth:
        props.update(auth.properties(host, port, controller_port))
    return "".join(f"{k}={v}\n" for k, v in props.items())
