"""The API's long-lived services, built once at start and fetched by handlers with `services_of`."""

from dataclasses import dataclass

from starlette.requests import Request

from eventschema import EventCodec
from eventschema.event_names import conversion_events
from eventschema.kafka_contract import client_config
from eventschema.paths import data_dir
from producer_api.auth import Gate, KeyRing
from producer_api.clientip import ClientIpResolver
from producer_api.config import Settings
from producer_api.publisher import Publisher, producer_config
from producer_api.ratelimit import RateLimiter
from producer_api.replica_watch import ReplicaWatch
from producer_api.salts import DailySalts


@dataclass
class Lifecycle:
    draining: bool = False  # set at shutdown: /readyz answers 503 so the balancer moves on


@dataclass(frozen=True)
class Services:
    settings: Settings
    keyring: KeyRing
    limiter: RateLimiter
    gate: Gate  # the keyring and the per-key limit: who is calling
    client_ip: ClientIpResolver
    codec: EventCodec
    publisher: Publisher
    lifecycle: Lifecycle
    replicas: ReplicaWatch  # 503 at once while too few replicas are in sync
    salts: DailySalts  # cookieless visitor ids (producer_api.cookieless)


def build_services(settings: Settings) -> Services:
    """Everything a request needs; starts the Kafka producer (close it with the publisher)."""
    keyring = KeyRing(
        settings.browser_keys,
        settings.write_keys,
        browser_refused_events=conversion_events(settings.server_only_events),
    )
    limiter = RateLimiter(settings.key_rate, settings.ip_rate)
    return Services(
        settings=settings,
        keyring=keyring,
        limiter=limiter,
        gate=Gate(keyring, limiter),
        client_ip=ClientIpResolver(settings.trusted_proxies, settings.client_ip_header),
        codec=EventCodec(),
        salts=DailySalts(settings.cookieless_salt_dir or data_dir() / "secrets" / "cookieless"),
        # Its thread is started and stopped by the app's lifespan.
        replicas=ReplicaWatch(
            client_config(settings.kafka), settings.topics.events, settings.replica_check_seconds
        ),
        # Last: nothing after it may fail and leave its producer running.
        publisher=Publisher(
            producer_config(
                settings.kafka,
                settings.delivery_timeout_seconds,
                settings.queue_max_messages,
            ),
            settings.delivery_timeout_seconds,
        ),
        lifecycle=Lifecycle(),
    )


def services_of(request: Request) -> Services:
    """The services of the app serving `request` (stored by the app's lifespan)."""
    found = request.app.state.services
    if not isinstance(found, Services):
        raise TypeError("the app's lifespan did not run: no services")
    return found
