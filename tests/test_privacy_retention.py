"""Retention (issue 13): FOOTFALL_EVENTS_TTL_DAYS puts a TTL on `events` that the sink sets,
changes and removes at start, and expired rows go; the quarantine and dead-letter topics keep
records for FOOTFALL_QUARANTINE_RETENTION_DAYS / FOOTFALL_DLQ_RETENTION_DAYS on the real broker,
existing topics included."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource  # not re-exported for the type checker

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT, SinkConfig
from consumers.clickhouse_sink.writer import connect, ensure_database
from eventschema import Event
from footfall import cli
from footfall.topics import TopicError, ensure_topics
from tests.support.consumed import wait_group_caught_up
from tests.support.sink import Sink, produce

DAY_MS = 86_400_000
DEFAULT_MS = str(30 * DAY_MS)  # avro/topics.json
TTL_30 = "TTL toDateTime(timestamp) + toIntervalDay(30)"


def _events(ages_days: list[int]) -> list[Event]:
    now = datetime.now(UTC)
    return [
        Event(
            message_id=f"age-{age}-{uuid.uuid4().hex[:6]}", type="track", event="Viewed",
            timestamp=now - timedelta(days=age), received_at=now, anonymous_id=f"v{age}",
        )
        for age in ages_days
    ]  # fmt: skip


def _engine(sink: Sink) -> str:
    response = sink.query(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase()"
        " AND name = 'events'"
    )
    assert response.status_code == 200, response.text
    return response.text


def _restart(sink: Sink, extra_env: dict[str, str]) -> None:
    if sink.proc is not None:
        assert sink.stop() == 0
    sink.extra_env = extra_env
    sink.start()


def _stored_ids(data_dir: Path) -> set[str]:
    """After a forced merge (a running ClickHouse merges in its own time); the sink is stopped."""
    client = connect(f"chdb://{data_dir / 'clickhouse'}", "footfall")
    try:
        client.command("OPTIMIZE TABLE events FINAL")
        return {row[0] for row in client.query("SELECT message_id FROM events").result_rows}
    finally:
        client.close()


def test_expired_events_go_and_the_setting_can_change(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path)
    events = _events([0, 1, 29, 31, 45, 400])
    try:
        _restart(sink, {})  # default: no TTL, every event is kept
        produce(kafka_bootstrap, f"{topic_prefix}events", events)
        assert sink.wait_rows(len(events))[0] == len(events)
        assert " TTL " not in _engine(sink)
        _restart(sink, {"FOOTFALL_EVENTS_TTL_DAYS": "30"})
        assert TTL_30 in _engine(sink)
        assert sink.stop() == 0
        recent = {e.message_id for e in events[:3]}
        assert _stored_ids(tmp_path) == recent
        # With the TTL on, an event already expired is dropped as it is written.
        _restart(sink, {"FOOTFALL_EVENTS_TTL_DAYS": "30"})
        late = _events([50, 0])
        produce(kafka_bootstrap, f"{topic_prefix}events", late)
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}sink", f"{topic_prefix}events")
        assert sink.wait_rows(4)[0] == 4
        # Unset: the next start removes the TTL, so nothing more expires.
        _restart(sink, {})
        assert " TTL " not in _engine(sink)
        assert sink.stop() == 0
        assert _stored_ids(tmp_path) == recent | {late[1].message_id}
    finally:
        if sink.proc is not None and sink.proc.poll() is None:
            sink.stop()


def _engines(client: Client) -> dict[str, str]:
    rows = client.query(
        "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()"
        " AND name IN ('events', 'identity_links')"
    ).result_rows
    return {str(name): str(engine) for name, engine in rows}


def _said(client: Client, days: int | None) -> set[str]:
    """What apply_events_ttl did, per table: the first word of each."""
    done = migrations.apply_events_ttl(client, days)
    assert set(done) == {"events", "identity_links"}
    return {what.split()[0] for what in done.values()}


def test_ttl_follows_the_setting_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'ch'}"
    ensure_database(dsn, "footfall")
    client = connect(dsn, "footfall")
    try:
        migrations.apply(client, REPO_ROOT / "deploy/clickhouse/migrations")
        assert _said(client, None) == {"unchanged"}
        assert _said(client, 30) == {"set"}
        assert _said(client, 30) == {"unchanged"}  # no mutation
        assert _said(client, 7) == {"set"}
        engines = _engines(client)
        assert "TTL toDateTime(timestamp) + toIntervalDay(7) " in engines["events"]
        assert "TTL toDateTime(last_seen) + toIntervalDay(7) " in engines["identity_links"]
        assert _said(client, None) == {"removed"}
        assert _said(client, None) == {"unchanged"}
        assert all(" TTL " not in engine for engine in _engines(client).values())
    finally:
        client.close()


def test_identity_links_expire_with_the_events_they_come_from(tmp_path: Path) -> None:
    """A link whose last event is past the TTL goes; one still seen inside it stays."""
    dsn = f"chdb://{tmp_path / 'ch'}"
    ensure_database(dsn, "footfall")
    client = connect(dsn, "footfall")
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        migrations.apply(client, REPO_ROOT / "deploy/clickhouse/migrations")
        migrations.apply_events_ttl(client, 30)
        # (anonymous id, user id, age in days): the identity view makes a link of each.
        seen = [("v-old", "u-old", 45), ("v-both", "u-both", 40), ("v-both", "u-both", 2),
                ("v-new", "u-new", 1)]  # fmt: skip
        for anonymous_id, user_id, age in seen:
            client.command(
                "INSERT INTO events (message_id, type, timestamp, received_at, anonymous_id,"
                " user_id, source) VALUES ({m:String}, 'identify', {t:DateTime64(3)},"
                " {t:DateTime64(3)}, {a:String}, {u:String}, 'http')",
                parameters={
                    "m": f"{anonymous_id}-{age}",
                    "t": now - timedelta(days=age),
                    "a": anonymous_id,
                    "u": user_id,
                },  # fmt: skip
            )
        client.command("OPTIMIZE TABLE identity_links FINAL")
        links = client.query(
            "SELECT anonymous_id, user_id FROM identity_links FINAL ORDER BY anonymous_id"
        ).result_rows
        assert [tuple(link) for link in links] == [("v-both", "u-both"), ("v-new", "u-new")]
    finally:
        client.close()


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "forever"])
def test_a_bad_ttl_stops_the_sink_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="FOOTFALL_EVENTS_TTL_DAYS"):
        SinkConfig.from_env({"FOOTFALL_EVENTS_TTL_DAYS": value})
    assert SinkConfig.from_env({"FOOTFALL_EVENTS_TTL_DAYS": ""}).events_ttl_days is None
    assert SinkConfig.from_env({"FOOTFALL_EVENTS_TTL_DAYS": "90"}).events_ttl_days == 90


def _retention(bootstrap: str, prefix: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = ["events", "events_quarantine", "events_dlq", "conversions_dlq"]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, prefix + name) for name in names]
    described = admin.describe_configs(resources)
    return {
        name: described[resource].result(timeout=10)["retention.ms"].value
        for name, resource in zip(names, resources, strict=True)
    }


def test_quarantine_and_dead_letter_retention_on_new_and_existing_topics(
    kafka_bootstrap: str,
) -> None:
    prefix = f"ret{uuid.uuid4().hex[:8]}_"
    settings = {"FOOTFALL_QUARANTINE_RETENTION_DAYS": "3", "FOOTFALL_DLQ_RETENTION_DAYS": "5"}
    ensure_topics(kafka_bootstrap, prefix, settings=settings)
    assert _retention(kafka_bootstrap, prefix) == {
        "events": str(7 * DAY_MS),  # not a retention setting: topics.json's
        "events_quarantine": str(3 * DAY_MS),
        "events_dlq": str(5 * DAY_MS),
        "conversions_dlq": str(5 * DAY_MS),
    }
    # The topics exist now: a changed setting is applied to them, an unset one goes back.
    ensure_topics(kafka_bootstrap, prefix, settings={"FOOTFALL_QUARANTINE_RETENTION_DAYS": "1"})
    assert _retention(kafka_bootstrap, prefix) == {
        "events": str(7 * DAY_MS),
        "events_quarantine": str(DAY_MS),
        "events_dlq": DEFAULT_MS,
        "conversions_dlq": DEFAULT_MS,
    }
    with pytest.raises(TopicError, match="FOOTFALL_DLQ_RETENTION_DAYS"):
        ensure_topics(kafka_bootstrap, prefix, settings={"FOOTFALL_DLQ_RETENTION_DAYS": "0"})


def test_footfall_topics_reads_the_settings_from_the_environment(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"ret{uuid.uuid4().hex[:8]}_"
    monkeypatch.setenv("FOOTFALL_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("FOOTFALL_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("FOOTFALL_DLQ_RETENTION_DAYS", "2")
    monkeypatch.delenv("FOOTFALL_QUARANTINE_RETENTION_DAYS", raising=False)
    assert cli.main(["topics"]) == 0
    retention = _retention(kafka_bootstrap, prefix)
    assert retention["events_dlq"] == retention["conversions_dlq"] == str(2 * DAY_MS)
    assert retention["events_quarantine"] == DEFAULT_MS
