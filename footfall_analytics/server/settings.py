"""The analytics server's settings, read from the environment once, at start, and passed down.

Names and defaults (docs/contract-for-helpers.md): FOOTFALL_ANALYTICS_HOST / _PORT [127.0.0.1 /
8125], FOOTFALL_ANALYTICS_DSN, FOOTFALL_CLICKHOUSE_DSN (used when it is http(s)://),
FOOTFALL_CLICKHOUSE_DATABASE [footfall], FOOTFALL_SINK_HTTP_HOST / _PORT [127.0.0.1 / 8124],
FOOTFALL_SINK_READ_KEY, FOOTFALL_READ_KEYS, FOOTFALL_ALLOWED_HOSTS, FOOTFALL_DATA_DIR,
FOOTFALL_USERS_FILE, FOOTFALL_SESSION_SECRET, FOOTFALL_ANALYTICS_HTTPS_ONLY (1 or true),
FOOTFALL_CONVERSIONS_URL [http://127.0.0.1:8126]; the terminal CLI reads FOOTFALL_ANALYTICS_URL,
else builds the URL from FOOTFALL_ANALYTICS_HOST / _PORT exactly as the server reads them, and
presents FOOTFALL_READ_KEY (else the local key file). An empty value means the default, except for
FOOTFALL_CONVERSIONS_URL. A value that does not parse stops the process, naming the variable."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.config import Config

from eventschema import paths
from eventschema.env_settings import setting
from eventschema.http_serving import HttpLimits
from eventschema.read_access import AllowedHosts
from eventschema.read_key_file import local_read_key
from eventschema.readonly_sql import QueryLimits

DEFAULT_DATABASE = "footfall"
DEFAULT_CONVERSIONS_URL = "http://127.0.0.1:8126"
DEFAULT_ANALYTICS_URL = "http://127.0.0.1:8125"


def _optional(config: Config, name: str) -> str | None:
    return config(name, default="") or None


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    analytics_dsn: str | None  # FOOTFALL_ANALYTICS_DSN: where queries go, before the sink
    server_dsn: str | None  # FOOTFALL_CLICKHOUSE_DSN when it is a ClickHouse server (http(s)://)
    database: str
    sink_host: str
    sink_port: int
    sink_read_key: str | None  # None: the local key file of `footfall up`
    read_keys: str  # FOOTFALL_READ_KEYS, comma-separated entries
    allowed_hosts: AllowedHosts
    data_dir: Path
    users_file: Path | None  # None: <data_dir>/secrets/users.json
    session_secret: str | None  # None: <data_dir>/secrets/session_key, made on first use
    https_only: bool
    conversions_url: str
    http: HttpLimits = HttpLimits()
    query_limits: QueryLimits = QueryLimits()  # for a direct DSN (the sink applies its own)

    @classmethod
    def load(cls, environ: Mapping[str, str] = os.environ) -> "ServerSettings":
        config = Config(environ=environ)
        clickhouse_dsn = config("FOOTFALL_CLICKHOUSE_DSN", default="")
        server = clickhouse_dsn.startswith(("http://", "https://"))
        users_file = _optional(config, "FOOTFALL_USERS_FILE")
        return cls(
            host=setting(config, "FOOTFALL_ANALYTICS_HOST", str, "127.0.0.1"),
            port=setting(config, "FOOTFALL_ANALYTICS_PORT", int, 8125),
            analytics_dsn=_optional(config, "FOOTFALL_ANALYTICS_DSN"),
            server_dsn=clickhouse_dsn if server else None,
            database=setting(config, "FOOTFALL_CLICKHOUSE_DATABASE", str, DEFAULT_DATABASE),
            sink_host=setting(config, "FOOTFALL_SINK_HTTP_HOST", str, "127.0.0.1"),
            sink_port=setting(config, "FOOTFALL_SINK_HTTP_PORT", int, 8124),
            sink_read_key=config("FOOTFALL_SINK_READ_KEY", default="").strip() or None,
            read_keys=config("FOOTFALL_READ_KEYS", default=""),
            allowed_hosts=AllowedHosts.from_env(environ),
            data_dir=paths.data_dir(environ),
            users_file=Path(users_file) if users_file else None,
            session_secret=_optional(config, "FOOTFALL_SESSION_SECRET"),
            https_only=config("FOOTFALL_ANALYTICS_HTTPS_ONLY", default="") in ("1", "true"),
            conversions_url=config("FOOTFALL_CONVERSIONS_URL", default=DEFAULT_CONVERSIONS_URL),
            http=HttpLimits.from_env(environ),
            query_limits=QueryLimits.from_env(environ),
        )

    @property
    def sink_url(self) -> str:
        # A sink bound to all interfaces is reached on loopback.
        host = "127.0.0.1" if self.sink_host in ("0.0.0.0", "::", "") else self.sink_host
        return f"http://{host}:{self.sink_port}"


@dataclass(frozen=True)
class CliSettings:
    """What `python -m footfall_analytics.cli` reads: where the server is, the database name."""

    server_url: str
    database: str
    query_limits: QueryLimits = QueryLimits()  # with --dsn
    read_key: str | None = None  # FOOTFALL_READ_KEY, else the local key file of `footfall up`

    @classmethod
    def load(cls, environ: Mapping[str, str] = os.environ) -> "CliSettings":
        config = Config(environ=environ)
        # The server's own host and port settings, so a CLI beside it finds it with no URL.
        host = setting(config, "FOOTFALL_ANALYTICS_HOST", str, "127.0.0.1")
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        host = f"[{host}]" if ":" in host else host
        port = setting(config, "FOOTFALL_ANALYTICS_PORT", int, 8125)
        return cls(
            server_url=setting(config, "FOOTFALL_ANALYTICS_URL", str, f"http://{host}:{port}"),
            database=setting(config, "FOOTFALL_CLICKHOUSE_DATABASE", str, DEFAULT_DATABASE),
            query_limits=QueryLimits.from_env(environ),
            read_key=config("FOOTFALL_READ_KEY", default="").strip()
            or local_read_key(paths.data_dir(environ)),
        )
