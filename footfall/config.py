"""Settings the runner and CLI read from the environment (see docs/contract-for-helpers.md).

They are read here only, once per command, with starlette's Config: a value that does not parse
(a port that is not a number) stops the command, naming the variable. The environment handed to
the children is built from os.environ on purpose (`child_env`): they read their own settings."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from starlette.config import Config

from eventschema.env_settings import setting
from eventschema.kafka_contract import DEFAULT_BOOTSTRAP, DEFAULT_KAFKA_PORT
from footfall import paths

DEMO_BROWSER_KEY = "pk_demo"  # public: shipped in the demo's pages, allowed for its origin only
# The children whose command FOOTFALL_<NAME>_CMD may replace (for trying the runner alone).
CHILD_NAMES = ("api", "sink", "analytics", "conversions", "demo")


def java_executable(environ: Mapping[str, str] = os.environ) -> str:
    """$JAVA_HOME/bin/java, else `java` on the PATH."""
    java_home = Config(environ=environ)("JAVA_HOME", default="")
    return str(Path(java_home) / "bin" / "java") if java_home else "java"


def _conversions_configured(config: Config) -> bool:
    """The uploader runs when Meta or Google Ads credentials are configured."""
    meta = config("FOOTFALL_META_PIXEL_ID", default="") and config(
        "FOOTFALL_META_ACCESS_TOKEN", default=""
    )
    google = all(config(f"FOOTFALL_GOOGLE_ADS_{name}", default="") for name in (
        "CUSTOMER_ID", "CONVERSION_ACTION_ID", "DEVELOPER_TOKEN", "ACCESS_TOKEN"))  # fmt: skip
    return bool(meta or google)


@dataclass(frozen=True)
class RunConfig:
    data_dir: Path
    kafka_port: int
    controller_port: int
    topic_prefix: str
    api_host: str
    api_port: int
    sink_host: str
    sink_port: int
    demo_host: str = "127.0.0.1"
    demo_port: int = 8090
    demo_enabled: bool = True  # FOOTFALL_DEMO=0 leaves the demo shop out
    analytics_host: str = "127.0.0.1"
    analytics_port: int = 8125
    kafka_sasl: bool = False  # `up --kafka-sasl`: SCRAM logins and ACLs (footfall.kafka_local)
    conversions_enabled: bool = False  # with Meta or Google Ads credentials
    conversions_host: str = "127.0.0.1"
    conversions_port: int = 8126
    demo_write_key: str = DEMO_BROWSER_KEY
    users_file: Path | None = None  # FOOTFALL_USERS_FILE; None: <data_dir>/secrets/users.json
    commands: Mapping[str, str] = field(default_factory=dict)  # child name -> FOOTFALL_*_CMD
    java: str = "java"  # the broker's JVM ($JAVA_HOME/bin/java)
    read_key: str | None = None  # FOOTFALL_READ_KEY, for `footfall query`
    topics_bootstrap: str = DEFAULT_BOOTSTRAP  # FOOTFALL_KAFKA_BOOTSTRAP, for `footfall topics`
    brokers: int = 1  # `up --brokers 3`: a replicated local cluster (footfall.cluster)
    # (client, controller) port per node when given explicitly (`--kafka-port 1,2,3`).
    ports: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_env(
        cls,
        kafka_port: int = DEFAULT_KAFKA_PORT,
        controller_port: int = 9093,
        environ: Mapping[str, str] = os.environ,
    ) -> "RunConfig":
        config = Config(environ=environ)
        users_file = config("FOOTFALL_USERS_FILE", default="")
        commands = {n: config(f"FOOTFALL_{n.upper()}_CMD", default="") for n in CHILD_NAMES}
        return cls(
            data_dir=paths.data_dir(environ),
            kafka_port=kafka_port,
            controller_port=controller_port,
            topic_prefix=config("FOOTFALL_TOPIC_PREFIX", default=""),
            api_host=setting(config, "FOOTFALL_API_HOST", str, "127.0.0.1"),
            api_port=setting(config, "FOOTFALL_API_PORT", int, 8080),
            sink_host=setting(config, "FOOTFALL_SINK_HTTP_HOST", str, "127.0.0.1"),
            sink_port=setting(config, "FOOTFALL_SINK_HTTP_PORT", int, 8124),
            demo_host=setting(config, "FOOTFALL_DEMO_HOST", str, "127.0.0.1"),
            demo_port=setting(config, "FOOTFALL_DEMO_PORT", int, 8090),
            demo_enabled=setting(config, "FOOTFALL_DEMO", str, "1").lower()
            not in ("0", "false", "no", "off"),
            analytics_host=setting(config, "FOOTFALL_ANALYTICS_HOST", str, "127.0.0.1"),
            analytics_port=setting(config, "FOOTFALL_ANALYTICS_PORT", int, 8125),
            conversions_enabled=_conversions_configured(config),
            conversions_host=setting(config, "FOOTFALL_CONVERSIONS_HTTP_HOST", str, "127.0.0.1"),
            conversions_port=setting(config, "FOOTFALL_CONVERSIONS_HTTP_PORT", int, 8126),
            demo_write_key=setting(config, "FOOTFALL_DEMO_WRITE_KEY", str, DEMO_BROWSER_KEY),
            users_file=Path(users_file) if users_file else None,
            commands={name: command for name, command in commands.items() if command},
            java=java_executable(environ),
            read_key=config("FOOTFALL_READ_KEY", default="").strip() or None,
            topics_bootstrap=config("FOOTFALL_KAFKA_BOOTSTRAP", default=DEFAULT_BOOTSTRAP),
        )

    @property
    def node_ports(self) -> list[tuple[int, int]]:
        """(client, controller) port of each Kafka node: the explicit ones, else every second
        port from --kafka-port/--controller-port (9092/9093, 9094/9095, ...)."""
        if len(self.ports) == self.brokers:
            return list(self.ports)
        step = range(0, 2 * self.brokers, 2)
        return [(self.kafka_port + i, self.controller_port + i) for i in step]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port, _ in self.node_ports)

    @property
    def api_url(self) -> str:
        return f"http://{_connect_host(self.api_host)}:{self.api_port}"

    @property
    def sink_url(self) -> str:
        return f"http://{_connect_host(self.sink_host)}:{self.sink_port}"

    @property
    def demo_url(self) -> str:
        return f"http://{_connect_host(self.demo_host)}:{self.demo_port}"

    @property
    def analytics_url(self) -> str:
        return f"http://{_connect_host(self.analytics_host)}:{self.analytics_port}"

    @property
    def conversions_url(self) -> str:
        return f"http://{_connect_host(self.conversions_host)}:{self.conversions_port}"

    @property
    def kafka_dir(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def cluster_dir(self) -> Path:
        """The nodes of `up --brokers N` (N > 1): node-1, node-2, ... (a separate cluster, not
        the single broker's data grown)."""
        return self.data_dir / "kafka-cluster"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def child_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment contract for the children, on top of the caller's env; `extra` is
        what only some children get (read-key digests, the analytics server's sink key)."""
        env = dict(os.environ)
        env.pop("FOOTFALL_SINK_READ_KEY", None)  # a secret: only the analytics server gets it
        env.update(
            FOOTFALL_DATA_DIR=str(self.data_dir),
            FOOTFALL_KAFKA_BOOTSTRAP=self.bootstrap,
            FOOTFALL_TOPIC_PREFIX=self.topic_prefix,
            FOOTFALL_API_HOST=self.api_host,
            FOOTFALL_API_PORT=str(self.api_port),
            FOOTFALL_SINK_HTTP_HOST=self.sink_host,
            FOOTFALL_SINK_HTTP_PORT=str(self.sink_port),
            FOOTFALL_ANALYTICS_HOST=self.analytics_host,
            FOOTFALL_ANALYTICS_PORT=str(self.analytics_port),
            FOOTFALL_CONVERSIONS_URL=self.conversions_url,  # the dashboard reads its /metrics
            PYTHONUNBUFFERED="1",  # logs reach the files as they are written
        )
        env.update(extra or {})
        if self.demo_enabled:
            env.update(
                FOOTFALL_DEMO_HOST=self.demo_host,
                FOOTFALL_DEMO_PORT=str(self.demo_port),
                FOOTFALL_DEMO_API_URL=self.api_url,
                FOOTFALL_BROWSER_KEYS=self._browser_keys(env.get("FOOTFALL_BROWSER_KEYS", "")),
            )
        return env

    def _browser_keys(self, configured: str) -> str:
        """The configured browser keys plus the demo shop's public key for its own origin."""
        key = self.demo_write_key
        entries = [e for e in configured.split(";") if e.strip()]
        if any(e.partition("=")[0].strip() == key for e in entries):
            return configured  # the operator configured it: their origins win
        return ";".join([*entries, f"{key}={self.demo_url}"])


def _connect_host(host: str) -> str:
    # A server bound to all interfaces is reached on loopback.
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
