"""Uploader settings from the environment. A platform without credentials is off.

Things ad-platforms.md marks uncertain are settings: API versions, Meta's maximum event age
(7 d vs 62 d for physical stores), the Meta event_id source, the action_source per event source.
"""

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from starlette.config import Config

from eventschema import paths
from eventschema.entry import DEFAULT_TRUSTED_ENTRIES, parse_entries
from eventschema.env_settings import setting
from eventschema.event_names import conversion_event_names, conversion_events
from eventschema.kafka_contract import DEFAULT_BOOTSTRAP, KafkaCluster, Topics, security_config
from eventschema.read_key_file import local_read_key

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# FOOTFALL_CONVERSIONS_CLIENT_SIGNALS: what of the visitor's browser Meta may receive.
IP, USER_AGENT = "ip", "user_agent"
CLIENT_SIGNALS = (IP, USER_AGENT)


@dataclass(frozen=True)
class MetaConfig:
    pixel_id: str
    access_token: str
    base_url: str = "https://graph.facebook.com"
    api_version: str = "v24.0"
    event_name: str = "Purchase"
    max_age_days: float = 7.0  # uncertain for physical_store (7 vs 62 d): a setting
    age_margin_seconds: float = 3600.0
    batch_size: int = 50  # Meta's SDK: 50 (the API allows 1,000)
    event_id_from: str = "message_id"  # or "order_id"
    test_event_code: str = ""
    action_sources: dict[str, str] = field(default_factory=lambda: {"csv": "physical_store"})
    # Empty by default: no IP address or user agent leaves (docs/privacy.md, the trade-off).
    client_signals: frozenset[str] = frozenset()

    @property
    def account(self) -> str:
        return self.pixel_id

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.api_version}/{self.pixel_id}/events"


@dataclass(frozen=True)
class GoogleConfig:
    customer_id: str
    conversion_action_id: str
    developer_token: str
    access_token: str
    login_customer_id: str = ""
    base_url: str = "https://googleads.googleapis.com"
    api_version: str = "v22"
    batch_size: int = 2000
    max_identifiers: int = 5
    consent_ad_user_data: str = ""  # GRANTED / DENIED; empty: not sent

    @property
    def account(self) -> str:
        return self.customer_id

    @property
    def conversion_action(self) -> str:
        return f"customers/{self.customer_id}/conversionActions/{self.conversion_action_id}"

    @property
    def url(self) -> str:
        base = self.base_url.rstrip("/")
        return f"{base}/{self.api_version}/customers/{self.customer_id}:uploadClickConversions"


@dataclass(frozen=True)
class ConversionsConfig:
    bootstrap: str
    topics: Topics
    dlq_topic: str
    ledger_topic: str
    group_id: str
    sink_group: str
    events: frozenset[str]  # canonical names (eventschema.event_names)
    query_url: str  # the sink's /query (chDB) ...
    clickhouse_dsn: str  # ... or a ClickHouse server DSN (http://...), used when not chdb:
    database: str
    meta: MetaConfig | None
    google: GoogleConfig | None
    http_host: str = "127.0.0.1"
    http_port: int = 8126
    dry_run: bool = False
    click_window_days: float = 90.0
    sink_wait_seconds: float = 60.0
    default_region: str = ""  # phone region when neither the event nor traits give a country
    default_currency: str = "USD"
    batch_seconds: float = 1.0
    request_timeout: float = 10.0
    retry_base: float = 1.0
    retry_cap: float = 900.0
    throttle_base: float = 30.0
    give_up_seconds: float = 6 * 3600.0
    breaker_failures: int = 5
    breaker_reset_seconds: float = 60.0
    max_pending: int = 10_000
    commit_interval: float = 1.0  # seconds between offset commits (forced on revoke and stop)
    dead_letter_timeout: float = 10.0
    instance_id: str = ""  # static group membership: a restart gets its partitions back at once
    # Entries (eventschema.entry) whose conversions are uploaded; not browser keys: they are public.
    trusted_entries: frozenset[str] = DEFAULT_TRUSTED_ENTRIES
    # Entries whose traits (email, phone, country) are hashed into uploads (identity matching).
    identity_entries: frozenset[str] = DEFAULT_TRUSTED_ENTRIES
    # Purchases uploaded live: "enable" (from the first start with a platform's credentials,
    # kept in the ledger), "all" (every purchase read, within the platform's window) or a time.
    start_from: str = "enable"

    # FOOTFALL_KAFKA_SECURITY_PROTOCOL and the SASL/TLS settings, as librdkafka settings.
    kafka_security: Mapping[str, str] = field(default_factory=dict, repr=False)
    # The sink's /query key: FOOTFALL_SINK_READ_KEY, else the local key file of `footfall up`.
    sink_read_key: str | None = field(default=None, repr=False)

    @property
    def kafka(self) -> KafkaCluster:
        return KafkaCluster(self.bootstrap, self.kafka_security)

    @property
    def uses_sink_query(self) -> bool:
        return self.clickhouse_dsn.startswith("chdb:")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "ConversionsConfig":
        e = dict(os.environ if env is None else env)
        c = Config(environ=e)  # a bad number stops the start, naming it
        prefix = e.get("FOOTFALL_TOPIC_PREFIX", "")
        data_dir = paths.data_dir(e)
        sink_host = e.get("FOOTFALL_SINK_HTTP_HOST", "127.0.0.1")
        sink_host = "127.0.0.1" if sink_host in ("0.0.0.0", "", "::") else sink_host
        sink_port = e.get("FOOTFALL_SINK_HTTP_PORT", "8124")
        return cls(
            bootstrap=e.get("FOOTFALL_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP),
            topics=Topics.for_prefix(prefix),
            dlq_topic=f"{prefix}conversions_dlq",
            ledger_topic=f"{prefix}conversions_ledger",
            group_id=e.get("FOOTFALL_CONVERSIONS_GROUP", "footfall-conversions"),
            sink_group=e.get("FOOTFALL_SINK_GROUP", "footfall-clickhouse-sink"),
            events=conversion_events(conversion_event_names(e)),
            query_url=e.get(
                "FOOTFALL_CONVERSIONS_QUERY_URL", f"http://{sink_host}:{sink_port}/query"
            ),
            clickhouse_dsn=e.get("FOOTFALL_CLICKHOUSE_DSN", f"chdb://{data_dir / 'clickhouse'}"),
            database=e.get("FOOTFALL_CLICKHOUSE_DATABASE", "footfall"),
            meta=_meta(e),
            google=_google(e),
            http_host=e.get("FOOTFALL_CONVERSIONS_HTTP_HOST", "127.0.0.1"),
            http_port=setting(c, "FOOTFALL_CONVERSIONS_HTTP_PORT", int, 8126),
            dry_run=_flag(e.get("FOOTFALL_CONVERSIONS_DRY_RUN", "0")),
            click_window_days=setting(c, "FOOTFALL_CONVERSIONS_CLICK_WINDOW_DAYS", float, 90.0),
            sink_wait_seconds=setting(c, "FOOTFALL_CONVERSIONS_SINK_WAIT_SECONDS", float, 60.0),
            default_region=e.get("FOOTFALL_CONVERSIONS_DEFAULT_REGION", ""),
            default_currency=e.get("FOOTFALL_CONVERSIONS_DEFAULT_CURRENCY", "USD"),
            batch_seconds=setting(c, "FOOTFALL_CONVERSIONS_BATCH_SECONDS", float, 1.0),
            request_timeout=setting(c, "FOOTFALL_CONVERSIONS_REQUEST_TIMEOUT", float, 10.0),
            retry_base=setting(c, "FOOTFALL_CONVERSIONS_RETRY_BASE", float, 1.0),
            retry_cap=setting(c, "FOOTFALL_CONVERSIONS_RETRY_CAP", float, 900.0),
            throttle_base=setting(c, "FOOTFALL_CONVERSIONS_THROTTLE_BASE", float, 30.0),
            give_up_seconds=setting(c, "FOOTFALL_CONVERSIONS_GIVE_UP_SECONDS", float, 21600.0),
            breaker_failures=setting(c, "FOOTFALL_CONVERSIONS_BREAKER_FAILURES", int, 5),
            breaker_reset_seconds=setting(
                c, "FOOTFALL_CONVERSIONS_BREAKER_RESET_SECONDS", float, 60.0
            ),
            max_pending=setting(c, "FOOTFALL_CONVERSIONS_MAX_PENDING", int, 10000),
            instance_id=_instance_id(e),
            trusted_entries=_entries(e, "FOOTFALL_CONVERSIONS_TRUSTED_ENTRIES"),
            identity_entries=_entries(e, "FOOTFALL_CONVERSIONS_IDENTITY_ENTRIES"),
            start_from=_start_from(e.get("FOOTFALL_CONVERSIONS_START_FROM", "enable")),
            kafka_security=security_config(e),
            sink_read_key=e.get("FOOTFALL_SINK_READ_KEY", "").strip() or local_read_key(data_dir),
        )


def _entries(e: dict[str, str], name: str) -> frozenset[str]:
    text = e.get(name)
    return DEFAULT_TRUSTED_ENTRIES if text is None else parse_entries(text)


def _instance_id(e: dict[str, str]) -> str:
    """Static membership by default: the group and host name are stable across restarts, so a
    restarted uploader takes its partitions back at once instead of waiting for the dead
    member's session to expire. Set it empty for dynamic membership; give each uploader of one
    group on one host its own id."""
    group = e.get("FOOTFALL_CONVERSIONS_GROUP", "footfall-conversions")
    return e.get("FOOTFALL_CONVERSIONS_INSTANCE_ID", f"{group}-{socket.gethostname()}")


def _start_from(text: str) -> str:
    value = text.strip().lower()
    if value in ("enable", "all"):
        return value
    try:
        datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"FOOTFALL_CONVERSIONS_START_FROM={text!r}: use enable, all or an ISO-8601 time"
        ) from None
    return text.strip()


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _meta(e: dict[str, str]) -> MetaConfig | None:
    c = Config(environ=e)  # a bad number stops the start, naming it
    pixel, token = e.get("FOOTFALL_META_PIXEL_ID", ""), e.get("FOOTFALL_META_ACCESS_TOKEN", "")
    if not pixel or not token:
        return None
    sources = dict(
        pair.split("=", 1)
        for pair in e.get("FOOTFALL_META_ACTION_SOURCES", "csv=physical_store").split(",")
        if "=" in pair
    )
    return MetaConfig(
        pixel_id=pixel,
        access_token=token,
        base_url=e.get("FOOTFALL_META_BASE_URL", "https://graph.facebook.com"),
        api_version=e.get("FOOTFALL_META_API_VERSION", "v24.0"),
        event_name=e.get("FOOTFALL_META_EVENT_NAME", "Purchase"),
        max_age_days=setting(c, "FOOTFALL_META_MAX_AGE_DAYS", float, 7.0),
        batch_size=min(1000, setting(c, "FOOTFALL_META_BATCH_SIZE", int, 50)),
        event_id_from=e.get("FOOTFALL_META_EVENT_ID_FROM", "message_id"),
        test_event_code=e.get("FOOTFALL_META_TEST_EVENT_CODE", ""),
        action_sources={k.strip(): v.strip() for k, v in sources.items()},
        client_signals=client_signals(e.get("FOOTFALL_CONVERSIONS_CLIENT_SIGNALS", "")),
    )


def client_signals(text: str) -> frozenset[str]:
    """`ip,user_agent` -> the set; an unknown name stops the start."""
    names = frozenset(name.strip().lower() for name in text.split(",") if name.strip())
    if unknown := names - set(CLIENT_SIGNALS):
        raise ValueError(
            f"FOOTFALL_CONVERSIONS_CLIENT_SIGNALS: unknown {', '.join(sorted(unknown))}; "
            f"use a comma list of {', '.join(CLIENT_SIGNALS)} (or nothing)"
        )
    return names


def _google(e: dict[str, str]) -> GoogleConfig | None:
    c = Config(environ=e)  # a bad number stops the start, naming it
    needed = [
        e.get("FOOTFALL_GOOGLE_ADS_CUSTOMER_ID", "").replace("-", ""),
        e.get("FOOTFALL_GOOGLE_ADS_CONVERSION_ACTION_ID", ""),
        e.get("FOOTFALL_GOOGLE_ADS_DEVELOPER_TOKEN", ""),
        e.get("FOOTFALL_GOOGLE_ADS_ACCESS_TOKEN", ""),
    ]
    if not all(needed):
        return None
    return GoogleConfig(
        customer_id=needed[0],
        conversion_action_id=needed[1],
        developer_token=needed[2],
        access_token=needed[3],
        login_customer_id=e.get("FOOTFALL_GOOGLE_ADS_LOGIN_CUSTOMER_ID", "").replace("-", ""),
        base_url=e.get("FOOTFALL_GOOGLE_ADS_BASE_URL", "https://googleads.googleapis.com"),
        api_version=e.get("FOOTFALL_GOOGLE_ADS_API_VERSION", "v22"),
        batch_size=min(2000, setting(c, "FOOTFALL_GOOGLE_ADS_BATCH_SIZE", int, 2000)),
        consent_ad_user_data=e.get("FOOTFALL_GOOGLE_ADS_CONSENT_AD_USER_DATA", ""),
    )
