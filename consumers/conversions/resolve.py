"""Who is behind a purchase: identity links, click ids, fbc/fbp and identify traits.

Reads ClickHouse through the sink's read-only POST /query (chDB is held by the sink process) or
through a ClickHouse server DSN. Ids and times are bound parameters (`{name:Type}` in the SQL,
bound by ClickHouse; over the sink's /query they travel as `param_<name>` in the URL, as
eventschema.sink_query sends them): no value is ever pasted into SQL text.

Traits (email, phone, country) count only from events whose `entry` (how they entered Footfall,
eventschema.entry) is in FOOTFALL_CONVERSIONS_IDENTITY_ENTRIES (default: not browser keys, which
anyone can use to `identify` as anyone): those are hashed into a real purchase's upload. Click
ids, fbc/fbp, the page and the user agent come from the browser by nature and are kept.

Before resolving, `SinkWatch` waits (with a bound) until the sink's consumer group has committed
at least the `events` end offsets observed when the purchase was read: then everything produced
before the purchase (landing page, identify, ...) is in ClickHouse, and a purchase is not
uploaded without its click merely because the sink lags.
"""

import logging
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from confluent_kafka import Consumer, KafkaException, TopicPartition

from consumers.conversions.model import EMAIL_KEYS, PHONE_KEYS, Conversion, Match, sendable_ip
from eventschema.contact_hashing import google_alternates
from eventschema.entry import DEFAULT_TRUSTED_ENTRIES
from eventschema.kafka_contract import KafkaCluster, client_config
from eventschema.sink_query import SinkQuery, SinkQueryError

log = logging.getLogger(__name__)
MAX_ROWS = 1000


class Querier(Protocol):
    def rows(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...


class SinkQuerier:
    """POST <sink>/query?format=JSONEachRow."""

    def __init__(self, url: str, read_key: str | None, timeout: float = 30.0) -> None:
        self.url = url
        self._sink = SinkQuery(url, read_key, timeout)

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        body = self._sink.post(sql, parameters, "JSONEachRow")
        return [orjson.loads(line) for line in body.splitlines() if line.strip()]


class DsnQuerier:
    """A ClickHouse server (clickhouse-connect)."""

    def __init__(self, dsn: str, database: str) -> None:
        import clickhouse_connect

        self._client = clickhouse_connect.get_client(dsn=dsn, database=database)

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            result = self._client.query(sql, parameters=dict(parameters or {}))
        except Exception as error:  # driver errors of several kinds
            raise SinkQueryError(str(error)) from error  # transient: retried later
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _person(anons: list[str], users: list[str]) -> tuple[str, dict[str, Any]]:
    """Events of these ids, and the parameters to bind; an empty list must not match the empty
    id of other visitors, so it is left out of the condition."""
    parts = ["anonymous_id IN {anons:Array(String)}"] if anons else []
    parts += ["user_id IN {users:Array(String)}"] if users else []
    parameters = {name: ids for name, ids in (("anons", anons), ("users", users)) if ids}
    return "(" + " OR ".join(parts) + ")", parameters


class Resolver:
    def __init__(
        self,
        querier: Querier,
        click_window: timedelta,
        identity_entries: frozenset[str] = DEFAULT_TRUSTED_ENTRIES,
    ) -> None:
        self.querier = querier
        self.click_window = click_window
        self.identity_entries = identity_entries

    def resolve(self, conversion: Conversion) -> Match:
        users = [conversion.user_id] if conversion.user_id else []
        anons = [conversion.anonymous_id] if conversion.anonymous_id else []
        if anons:
            mapped = self.querier.rows(
                "SELECT user_id FROM identity_map WHERE anonymous_id IN {anons:Array(String)}",
                {"anons": anons},
            )
            users += [
                str(r["user_id"]) for r in mapped if r["user_id"] and r["user_id"] not in users
            ]
        if users:
            linked = self.querier.rows(
                "SELECT DISTINCT anonymous_id FROM identity_links "
                f"WHERE user_id IN {{users:Array(String)}} LIMIT {MAX_ROWS}",
                {"users": users},
            )
            anons += [str(r["anonymous_id"]) for r in linked if r["anonymous_id"] not in anons]
        match = Match(person_user_ids=users)
        if not users and not anons:
            return match
        at_ms = int(conversion.at.timestamp() * 1000)
        since_ms = at_ms - int(self.click_window.total_seconds() * 1000)
        person, parameters = _person(anons, users)
        rows = self.querier.rows(
            "SELECT toUnixTimestamp64Milli(timestamp) AS ms, type, gclid, gbraid, wbraid, fbclid, "
            "JSONExtractString(context, 'fbc') AS fbc, JSONExtractString(context, 'fbp') AS fbp, "
            "traits, JSONExtractString(context, 'traits') AS ctx_traits, ip, user_agent, page_url, "
            "JSONExtractString(context, 'ip_policy') AS ip_policy, "
            "toString(entry) AS entry "
            "FROM events FINAL "
            f"WHERE {person} "
            "AND timestamp >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC') "
            f"ORDER BY timestamp DESC LIMIT {MAX_ROWS}",
            {**parameters, "since_ms": since_ms},
        )
        _fill(match, rows, at_ms, self.identity_entries)
        return match


def _fill(match: Match, rows: list[dict[str, Any]], at_ms: int, trusted: frozenset[str]) -> None:
    for row in rows:  # newest first
        ms = int(row["ms"])
        before = ms <= at_ms
        if before and not match.click_at and (row["gclid"] or row["gbraid"] or row["wbraid"]):
            # The most recent click event; within it gclid > gbraid > wbraid.
            match.gclid, match.gbraid, match.wbraid = row["gclid"], "", ""
            if not match.gclid:
                match.gbraid = row["gbraid"]
                match.wbraid = "" if match.gbraid else row["wbraid"]
            match.click_at = datetime.fromtimestamp(ms / 1000, UTC)
        if before and not match.fbc:
            if row["fbc"]:
                match.fbc = str(row["fbc"])
            elif row["fbclid"]:
                match.fbc = f"fb.1.{ms}.{row['fbclid']}"  # the _fbc cookie format
        if not match.fbp and row["fbp"]:
            match.fbp = str(row["fbp"])
        if before and not match.user_agent and row["user_agent"]:
            match.user_agent = str(row["user_agent"])
            match.ip = sendable_ip(row["ip"], row.get("ip_policy"))
            match.page_url = str(row["page_url"])
        if row["entry"] not in trusted:  # e.g. an identify with a public browser key
            continue
        for raw in (row["traits"], row["ctx_traits"]):
            traits = _obj(raw)
            match.google_hashes.update(google_alternates(traits))
            for keys, out in ((EMAIL_KEYS, match.emails), (PHONE_KEYS, match.phones)):
                for key in keys:
                    value = traits.get(key)
                    if isinstance(value, str) and value.strip() and value not in out:
                        out.append(value.strip())
            address = traits.get("address")
            if not match.country and isinstance(address, dict):
                country = address.get("country")
                if isinstance(country, str) and len(country.strip()) == 2:
                    match.country = country.strip().upper()


def _obj(raw: object) -> dict[str, Any]:
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class SinkWatch:
    """The sink group's committed offsets on `events`, refreshed at most every `interval` s."""

    def __init__(
        self, kafka: KafkaCluster, sink_group: str, topic: str, interval: float = 0.3
    ) -> None:
        self.topic = topic
        self.interval = interval
        self._consumer = Consumer(
            {
                **client_config(kafka),
                "group.id": sink_group,  # only read its commits: never subscribes or commits
                "client.id": f"conversions-watch-{uuid.uuid4().hex[:6]}",
                "enable.auto.commit": False,
            }
        )
        self._partitions: list[int] = []
        self._committed: dict[int, int] = {}
        self._checked = 0.0

    def end_offsets(self) -> dict[int, int]:
        if not self._partitions:
            meta = self._consumer.list_topics(self.topic, timeout=10)
            self._partitions = sorted(meta.topics[self.topic].partitions)
        ends: dict[int, int] = {}
        for p in self._partitions:
            ends[p] = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, p), timeout=10, cached=False
            )[1]
        return ends

    def caught_up(self, ends: dict[int, int]) -> bool:
        if self._reached(ends):
            return True
        now = time.monotonic()
        if now - self._checked < self.interval:
            return False
        self._checked = now
        try:
            parts = [TopicPartition(self.topic, p) for p in ends]
            committed = self._consumer.committed(parts, timeout=10)
        except KafkaException as error:
            log.warning("reading the sink's committed offsets failed: %s", error)
            return False
        self._committed = {tp.partition: tp.offset for tp in committed}
        return self._reached(ends)

    def _reached(self, ends: dict[int, int]) -> bool:
        return all(end <= 0 or self._committed.get(p, -1) >= end for p, end in ends.items())

    def close(self) -> None:
        self._consumer.close()
