"""Settings the runner and CLI read from the environment (see docs/contract-for-helpers.md)."""

import os
from dataclasses import dataclass
from pathlib import Path

from eventschema.kafka_contract import DEFAULT_KAFKA_PORT
from footfall import paths

DEMO_BROWSER_KEY = "pk_demo"  # public: shipped in the demo's pages, allowed for its origin only


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


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

    @classmethod
    def from_env(
        cls, kafka_port: int = DEFAULT_KAFKA_PORT, controller_port: int = 9093
    ) -> "RunConfig":
        return cls(
            data_dir=paths.data_dir(),
            kafka_port=kafka_port,
            controller_port=controller_port,
            topic_prefix=os.environ.get("FOOTFALL_TOPIC_PREFIX", ""),
            api_host=_env("FOOTFALL_API_HOST", "127.0.0.1"),
            api_port=int(_env("FOOTFALL_API_PORT", "8080")),
            sink_host=_env("FOOTFALL_SINK_HTTP_HOST", "127.0.0.1"),
            sink_port=int(_env("FOOTFALL_SINK_HTTP_PORT", "8124")),
            demo_host=_env("FOOTFALL_DEMO_HOST", "127.0.0.1"),
            demo_port=int(_env("FOOTFALL_DEMO_PORT", "8090")),
            demo_enabled=_env("FOOTFALL_DEMO", "1").lower() not in ("0", "false", "no", "off"),
            analytics_host=_env("FOOTFALL_ANALYTICS_HOST", "127.0.0.1"),
            analytics_port=int(_env("FOOTFALL_ANALYTICS_PORT", "8125")),
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

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
    def conversions_enabled(self) -> bool:
        """The uploader runs when Meta or Google Ads credentials are configured."""
        env = os.environ
        meta = env.get("FOOTFALL_META_PIXEL_ID") and env.get("FOOTFALL_META_ACCESS_TOKEN")
        google = all(env.get(f"FOOTFALL_GOOGLE_ADS_{name}") for name in (
            "CUSTOMER_ID", "CONVERSION_ACTION_ID", "DEVELOPER_TOKEN", "ACCESS_TOKEN"))  # fmt: skip
        return bool(meta or google)

    @property
    def conversions_url(self) -> str:
        host = _env("FOOTFALL_CONVERSIONS_HTTP_HOST", "127.0.0.1")
        return f"http://{_connect_host(host)}:{_env('FOOTFALL_CONVERSIONS_HTTP_PORT', '8126')}"

    @property
    def kafka_dir(self) -> Path:
        return self.data_dir / "kafka"

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
        key = os.environ.get("FOOTFALL_DEMO_WRITE_KEY") or DEMO_BROWSER_KEY
        entries = [e for e in configured.split(";") if e.strip()]
        if any(e.partition("=")[0].strip() == key for e in entries):
            return configured  # the operator configured it: their origins win
        return ";".join([*entries, f"{key}={self.demo_url}"])


def _connect_host(host: str) -> str:
    # A server bound to all interfaces is reached on loopback.
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
