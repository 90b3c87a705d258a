"""The erasure suppression list (issue 13): its records and the rule of whose events it covers.

`footfall privacy delete` writes one record per identity of the person to the compacted topic
`{prefix}privacy_suppressions`, keyed "user_id:<id>" or "anonymous_id:<id>"; every record's value
is the whole request (request id, the person's ids, who asked, when, why), so a consumer can act
on the request from its first record and compaction keeps each id's latest request. A tombstone
(no value) lifts one id's suppression. The sink and the uploader read the whole topic at start.

Whose events: the same rule as the reports and `footfall privacy export` (footfall/privacy.py,
migration 0003): an event is the person's when its own valid user id is theirs, or when it has
no valid user id and its anonymous id is theirs. Another user's events on a device the person
also used keep their owner.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from eventschema.person import Person

if TYPE_CHECKING:  # imported when used: the `footfall` CLI loads this module for every command
    from eventschema.kafka_contract import KafkaCluster

USER, ANONYMOUS = "user_id", "anonymous_id"
# footfall_valid_id (migration 0002): ids that never identify anyone, compared trimmed, any case.
PLACEHOLDER_IDS = frozenset(
    {"", "null", "undefined", "0", "anonymous", "none", "nan", "nil", "-", "false", "true",
     "[object object]"}
)  # fmt: skip


def valid_id(value: str | None) -> bool:
    return value is not None and value.strip(" ").lower() not in PLACEHOLDER_IDS


@dataclass(frozen=True)
class Request:
    """One deletion request: the person (a user id and its anonymous ids, or one anonymous id)."""

    request_id: str
    user_id: str | None
    anonymous_ids: tuple[str, ...]
    requested_by: str
    requested_at: str  # ISO-8601 UTC
    reason: str = ""

    @classmethod
    def of(cls, person: Person, requested_by: str, reason: str) -> "Request":
        """A new request to erase `person`."""
        return cls(
            request_id=str(uuid.uuid4()),
            user_id=person.user_id,
            anonymous_ids=person.anonymous_ids,
            requested_by=requested_by,
            requested_at=datetime.now(UTC).isoformat(),
            reason=reason,
        )

    def record_keys(self) -> list[str]:
        """One record key per identity id."""
        users = [f"{USER}:{self.user_id}"] if self.user_id is not None else []
        return users + [f"{ANONYMOUS}:{anon}" for anon in self.anonymous_ids]

    def value(self) -> bytes:
        return orjson.dumps(self.__dict__ | {"anonymous_ids": list(self.anonymous_ids)})

    @classmethod
    def from_value(cls, raw: bytes) -> "Request":
        data = orjson.loads(raw)
        return cls(
            str(data["request_id"]),
            None if data.get("user_id") is None else str(data["user_id"]),
            tuple(str(anon) for anon in data.get("anonymous_ids") or ()),
            str(data.get("requested_by", "")),
            str(data.get("requested_at", "")),
            str(data.get("reason", "")),
        )

    def hashed_ids(self) -> list[str]:
        """SHA-256 of each record key: the audit log names ids only this way."""
        return [hashlib.sha256(key.encode()).hexdigest() for key in self.record_keys()]


def publish(kafka: "KafkaCluster", topic: str, request: Request, timeout: float) -> None:
    """Every record of the request, acked by all in-sync replicas (DeliveryFailed otherwise):
    once this returns, no sink or uploader start can miss it."""
    from confluent_kafka import Producer

    from eventschema.kafka_contract import client_config
    from eventschema.kafka_delivery import OutgoingMessage, produce_and_wait

    producer = Producer(
        {
            **client_config(kafka),
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": int(timeout * 1000),
        }
    )
    value = request.value()
    records = [OutgoingMessage(topic, key.encode(), value) for key in request.record_keys()]
    produce_and_wait(producer, records, timeout + 1)


class Suppressions:
    """The ids currently suppressed, from the topic's records (latest per key)."""

    def __init__(self) -> None:
        self.users: set[str] = set()
        self.anons: set[str] = set()

    def __len__(self) -> int:
        return len(self.users) + len(self.anons)

    def apply(self, key: str, value: bytes | None) -> Request | None:
        """Take one record; returns its request (None for a tombstone or an unknown key)."""
        kind, _, ident = key.partition(":")
        target = {USER: self.users, ANONYMOUS: self.anons}.get(kind)
        if target is None:
            return None
        if value is None:
            target.discard(ident)
            return None
        target.add(ident)
        return Request.from_value(value)

    def covers(self, user_id: str | None, anonymous_id: str | None) -> bool:
        """Whether an event with these ids belongs to a suppressed person."""
        if valid_id(user_id):
            return user_id in self.users
        return valid_id(anonymous_id) and anonymous_id in self.anons
