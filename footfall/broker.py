"""A single-node KRaft Kafka broker run from the Maven jars in .kafka/lib (deploy/kafka/pom.xml).

Layout under data_dir: server.properties, cluster.id, kafka.pid, data/ (log.dirs) and logs/
(server.log from log4j, kafkaServer.out for the JVM's own stdout/stderr).
"""

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from eventschema.kafka_contract import DEFAULT_KAFKA_PORT
from footfall import paths
from footfall.broker_setup import (
    DEFAULT_HEAP,
    JVM_FLAGS,
    BrokerError,
    Quorum,
    ensure_jars,
    find_free_ports,
    new_cluster_id,
    port_in_use,
    server_properties,
)
from footfall.config import java_executable
from footfall.kafka_auth import ADMIN, BrokerAuth, admin_config
from footfall.procs import cmdline, pid_alive, read_pid, terminate

__all__ = ["BrokerError", "LocalBroker", "find_free_ports", "metadata_ok", "port_in_use"]

READY_LINE = "Kafka Server started"
SINGLE_NODE = Quorum()


class LocalBroker:
    """One broker+controller process; data survives stop/start on the same data_dir."""

    def __init__(
        self,
        data_dir: Path,
        port: int = DEFAULT_KAFKA_PORT,
        controller_port: int = 9093,
        *,
        lib_dir: Path | None = None,
        auth: BrokerAuth | None = None,
        java: str | None = None,
        quorum: Quorum = SINGLE_NODE,
        heap: str = DEFAULT_HEAP,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.auth = auth  # None: a PLAINTEXT listener, no ACLs
        self.port = port
        self.controller_port = controller_port
        self.lib_dir = lib_dir or paths.kafka_lib_dir()
        self.java = java or java_executable()  # $JAVA_HOME/bin/java, else java on the PATH
        self.quorum = quorum  # the default: a single node
        self.heap = heap
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def client_env(self) -> dict[str, str]:
        """FOOTFALL_KAFKA_* for a client of this broker: the admin's on a SASL broker."""
        return self.auth.env(ADMIN) if self.auth else {}

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def server_log(self) -> Path:
        return self.log_dir / "server.log"

    @property
    def stdout_log(self) -> Path:
        return self.log_dir / "kafkaServer.out"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "data"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    def ensure_jars(self) -> None:
        ensure_jars(self.lib_dir)

    def write_properties(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.touch(mode=0o600)
        self.properties_file.chmod(0o600)  # may hold the admin password (SASL)
        self.properties_file.write_text(self._properties())
        return self.properties_file

    def _properties(self) -> str:
        return server_properties(
            self.port, self.controller_port, self.storage_dir, self.auth, self.quorum
        )

    def cluster_id(self) -> str:
        """The id this data dir was (or will be) formatted with, kept next to the data."""
        path = self.data_dir / "cluster.id"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cid = new_cluster_id()
        path.write_text(cid + "\n")
        return cid

    def is_formatted(self) -> bool:
        return (self.storage_dir / "meta.properties").exists()

    def format(self) -> None:
        """Format the storage once; an already formatted dir is left alone so no data is lost."""
        if self.is_formatted():
            return
        tools_log = paths.kafka_deploy_dir() / "log4j2-tools.properties"
        cmd = [self.java, "-Xmx256m", "-cp", f"{self.lib_dir}/*"]
        cmd += [f"-Dlog4j2.configurationFile={tools_log}", "kafka.tools.StorageTool", "format"]
        cmd += ["-t", self.cluster_id(), "-c", str(self.write_properties())]
        if self.auth:  # SCRAM users are metadata records, written by the format
            cmd += self.auth.format_args()
        done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise BrokerError(f"kafka storage format failed:\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        """Prepare (jars, config, format) and launch the JVM; call wait_ready() next."""
        if self.is_running():
            raise BrokerError(f"a broker is already running for {self.data_dir}")
        for port in (self.port, self.controller_port):
            if port_in_use(port):
                raise BrokerError(f"port {port} is already in use on 127.0.0.1")
        self.ensure_jars()
        self.write_properties()
        self.format()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # server.log is appended to across restarts; only lines after this offset count.
        self._log_offset = self.server_log.stat().st_size if self.server_log.exists() else 0
        with self.stdout_log.open("ab") as out:
            # Own session: Ctrl-C in the terminal reaches the supervisor only, which stops us last.
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")

    def _command(self) -> list[str]:
        log4j = paths.kafka_deploy_dir() / "log4j2.properties"
        cmd = [self.java, f"-Xmx{self.heap}", *JVM_FLAGS, f"-Dkafka.logs.dir={self.log_dir}"]
        cmd += [f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{self.lib_dir}/*"]
        return [*cmd, "kafka.Kafka", str(self.properties_file)]

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Block until the broker serves requests; returns the seconds waited."""
        started = time.monotonic()
        next_probe = started
        while True:
            self._raise_if_died()
            if self._ready_line_seen():
                return time.monotonic() - started
            now = time.monotonic()
            if now >= next_probe:  # fallback in case the log config changes
                next_probe = now + 2.0
                if port_in_use(self.port) and metadata_ok(self.bootstrap, env=self.client_env):
                    return time.monotonic() - started
            if now - started > timeout:
                raise BrokerError(f"Kafka not ready after {timeout:.0f}s; see {self.server_log}")
            time.sleep(0.1)

    def ready_now(self) -> bool:
        """Has the JVM started since start() logged its readiness line? (No waiting.)"""
        return self._ready_line_seen()

    def _raise_if_died(self) -> None:
        if self._proc is None or self._proc.poll() is None:
            return
        code = self._proc.returncode
        self.pid_file.unlink(missing_ok=True)
        raise BrokerError(
            f"Kafka exited with code {code} during start-up; see {self.server_log} "
            f"and {self.stdout_log}"
        )

    def _ready_line_seen(self) -> bool:
        try:
            with self.server_log.open("rb") as log:
                log.seek(self._log_offset)
                return READY_LINE.encode() in log.read()
        except FileNotFoundError:
            return False

    def pid(self) -> int | None:
        """The broker's pid, from our own child or the pid file (checked to be a Kafka JVM)."""
        if self._proc is not None:
            return self._proc.pid if self._proc.poll() is None else None
        pid = read_pid(self.pid_file)
        # Pids get reused: only trust one that is still a Kafka broker.
        if pid is None or not pid_alive(pid) or "kafka.Kafka" not in cmdline(pid):
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (controlled shutdown), then SIGKILL after `timeout` seconds."""
        pid = self.pid()
        if pid is not None:
            terminate(pid, self._proc, timeout)
        self._proc = None
        self.pid_file.unlink(missing_ok=True)


def metadata_ok(bootstrap: str, timeout: float = 5.0, env: Mapping[str, str] | None = None) -> bool:
    """True when a client metadata request succeeds (a bare TCP accept is not enough)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**admin_config(bootstrap, env), "log_level": 0})
    try:
        admin.list_topics(timeout=timeout)
    except Exception:  # KafkaException on timeout or transport errors
        return False
    return True
