"""`footfall privacy export` (issue 13, access): every stored event of one person and of every
identity linked to them, as JSON lines, read through a real sink's /query (Kafka -> sink ->
chDB), and nothing of anyone else's, whatever the ids contain."""

import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eventschema import Event
from footfall import cli, privacy
from tests.support.sink import REPO, Sink, produce

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = "alice"
BOB = "bob' OR 1=1 -- \\ 'x"  # a hostile id: quotes, a comment and a backslash
HOSTILE = "x' OR 1=1 --"


@dataclass(frozen=True)
class Stored:
    sink: Sink
    owners: dict[str, str]  # message_id -> whose (a, b, d)

    def of(self, who: str) -> set[str]:
        return {m for m, owner in self.owners.items() if owner == who}


def _event(n: int, who: str, type_: str, anon: str | None, user: str | None = None) -> Event:
    return Event(
        message_id=f"{who}-{n}-{uuid.uuid4().hex[:6]}",
        type=type_,
        event="Order Completed" if type_ == "track" else None,
        timestamp=T0 + timedelta(minutes=n),
        received_at=T0 + timedelta(minutes=n),
        anonymous_id=anon,
        user_id=user,
        properties={"n": n, "nested": {"ok": True}},
        traits={"email": f"{who}@example.com"} if type_ == "identify" else None,
        context={"ip": f"203.0.113.{n}", "page": {"url": f"https://shop.test/p?n={n}"}},
    )


def _people() -> list[tuple[str, Event]]:
    """Who each event belongs to by the identity model (first link of an anonymous id wins)."""
    return [
        ("a", _event(1, "a", "page", "a-phone")),
        ("a", _event(2, "a", "track", "a-phone")),
        ("a", _event(3, "a", "identify", "a-phone", ALICE)),  # links a-phone -> alice
        ("a", _event(4, "a", "track", "a-laptop")),  # before its identify: still alice's
        ("a", _event(5, "a", "identify", "a-laptop", ALICE)),  # second device
        ("a", _event(6, "a", "track", None, ALICE)),  # server side, user id only
        ("a", _event(7, "a", "track", "a-phone", "null")),  # placeholder user id: by device
        ("a", _event(8, "a", "identify", "shared", ALICE)),  # shared device: alice first
        ("a", _event(9, "a", "track", "shared")),  # anonymous on it: the first link's
        ("b", _event(10, "b", "track", "b-dev")),
        ("b", _event(11, "b", "identify", "b-dev", BOB)),
        ("b", _event(12, "b", "identify", "shared", BOB)),  # bob's own, by its user id
        ("b", _event(13, "b", "track", "shared", BOB)),
        ("d", _event(14, "d", "track", "d-only")),  # never identified
        ("d", _event(15, "d", "page", "d-only")),
    ]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Stored]:
    from footfall.topics import ensure_topics

    prefix = f"priv{uuid.uuid4().hex[:8]}_"
    ensure_topics(kafka_bootstrap, prefix)
    sink = Sink(kafka_bootstrap, prefix, tmp_path_factory.mktemp("privacy_export"))
    sink.start()
    people = _people()
    produce(kafka_bootstrap, f"{prefix}events", [event for _, event in people])
    try:
        assert sink.wait_rows(len(people))[0] == len(people)
        yield Stored(sink, {event.message_id: who for who, event in people})
    finally:
        sink.stop()


def _env(sink: Sink) -> dict[str, str]:
    """How an operator's shell finds the sink: its port, and the read key in the data dir."""
    env = {k: v for k, v in os.environ.items() if k != "FOOTFALL_READ_KEY"}
    env |= {"FOOTFALL_DATA_DIR": str(sink.data_dir), "FOOTFALL_SINK_HTTP_PORT": str(sink.port)}
    return env


def _export(
    stored: Stored, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str
) -> list[dict[str, object]]:
    for name, value in _env(stored.sink).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FOOTFALL_READ_KEY", raising=False)
    out = tmp_path / f"export-{uuid.uuid4().hex[:6]}.jsonl"
    assert cli.main(["privacy", "export", *args, "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # personal data: the owner's only
    return [json.loads(line) for line in out.read_text().splitlines()]


def _ids(rows: list[dict[str, object]]) -> set[str]:
    return {str(row["message_id"]) for row in rows}


def test_cli_exports_exactly_the_persons_events_from_both_devices(stored: Stored) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "footfall", "privacy", "export", "--user-id", ALICE],
        env=_env(stored.sink), cwd=REPO, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert _ids(rows) == stored.of("a")
    assert len(rows) == len(stored.of("a"))  # once each (FINAL)
    assert {row["anonymous_id"] for row in rows} == {"a-phone", "a-laptop", "shared", ""}
    assert [row["timestamp"] for row in rows] == sorted(str(row["timestamp"]) for row in rows)
    identify = next(row for row in rows if row["type"] == "identify")
    # Every stored column, the JSON ones decoded.
    assert identify["traits"] == {"email": "a@example.com"}
    assert identify["properties"]["nested"] == {"ok": True}
    assert identify["context"]["ip"] == identify["ip"]
    assert {"page_url", "user_agent", "kafka_offset", "inserted_at", "ff_channel"} <= set(identify)
    assert b"linked anonymous ids: a-laptop, a-phone, shared" in result.stderr


def test_an_anonymous_id_exports_its_whole_person(
    stored: Stored, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert _ids(_export(stored, monkeypatch, tmp_path, "--anonymous-id", "a-laptop")) == (
        stored.of("a")
    )


def test_hostile_ids_are_values_not_sql(
    stored: Stored, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bob = _export(stored, monkeypatch, tmp_path, "--user-id", BOB)
    assert _ids(bob) == stored.of("b")
    assert {row["user_id"] for row in bob} == {BOB, ""}
    assert _export(stored, monkeypatch, tmp_path, "--user-id", HOSTILE) == []
    assert _export(stored, monkeypatch, tmp_path, "--anonymous-id", HOSTILE) == []


def test_an_unlinked_anonymous_id_is_a_person_of_its_own(
    stored: Stored, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert _ids(_export(stored, monkeypatch, tmp_path, "--anonymous-id", "d-only")) == (
        stored.of("d")
    )


def test_pages_cover_every_event_once(
    stored: Stored, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(privacy, "PAGE_ROWS", 2)  # 9 events: five pages, the keyset's seams
    rows = _export(stored, monkeypatch, tmp_path, "--user-id", ALICE)
    assert len(rows) == len(stored.of("a")) and _ids(rows) == stored.of("a")


def test_refusals(
    stored: Stored, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in _env(stored.sink).items():
        monkeypatch.setenv(name, value)
    assert cli.main(["privacy", "export"]) == 2
    assert "give --user-id or --anonymous-id" in capsys.readouterr().err
    assert cli.main(["privacy", "export", "--user-id", "null"]) == 1
    assert "placeholder id" in capsys.readouterr().err
    monkeypatch.setenv("FOOTFALL_READ_KEY", "not-the-key")
    assert cli.main(["privacy", "export", "--user-id", ALICE]) == 1
    assert "read key" in capsys.readouterr().err
