"""`footfall privacy delete` (issue 13, erasure), end to end on the real broker, a real sink
process (chDB) and a real API: a person's events sent by every path (browser key, server key, CSV
import, direct Kafka) are deleted from `events` and the identity tables, no SQL and no report
finds them, and nothing of theirs is stored afterwards: late events, re-sent records (a replay),
a sink restart. The audit log has the deletion without their data; another person is untouched.
The uploader half is in tests/test_privacy_erasure_uploads.py."""

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
import orjson
import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer

from eventschema import Event
from footfall_analytics import FunnelParams, Period, Step, TopParams, funnel, person_of, top
from footfall_analytics.remote import SinkQueryClient
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.consumed import wait_group_caught_up
from tests.support.kafka_tools import read_all, value_of
from tests.support.metrics import sample
from tests.support.sink import READ_KEY, REPO, Sink, produce

RUN = uuid.uuid4().hex[:8]
AT = datetime(2024, 5, 6, 12, tzinfo=UTC)
ALICE, BOB = f"alice-{RUN}", f"bob-{RUN}"
A_PHONE, A_LAPTOP, B_DEV = f"a-phone-{RUN}", f"a-laptop-{RUN}", f"b-dev-{RUN}"
EMAIL = f"alice.{RUN}@example.com"
PUBLIC, SHOP = "pk_erasure", "https://shop.test"
PERIOD = Period(AT - timedelta(days=1), AT + timedelta(days=1))
CSV_MAPPING = {"event": "Order Completed", "user_id_column": "customer", "timezone": "UTC",
               "timestamp_column": "sold_at", "timestamp_format": "%Y-%m-%d %H:%M",
               "order_id_column": "receipt", "value_column": "amount", "file_id": RUN}  # fmt: skip


@dataclass(frozen=True)
class Erased:
    api: ApiServer
    sink: Sink
    prefix: str
    bob_rows: str  # bob's rows before the deletion (TSV)
    alice_rows: int  # alice's stored events before the deletion
    cli_output: str


def _at(minutes: int) -> str:
    return (AT + timedelta(minutes=minutes)).isoformat()


def _browser(api: ApiServer, route: str, message: dict[str, object]) -> None:
    body = orjson.dumps({**message, "writeKey": PUBLIC})
    headers = {"origin": SHOP, "content-type": "text/plain"}
    answer = httpx.post(f"{api.url}{route}", content=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text


def _server(api: ApiServer, batch: list[dict[str, object]]) -> None:
    answer = httpx.post(f"{api.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""),
                        timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text


def _csv(api: ApiServer, rows: str) -> None:
    answer = httpx.post(
        f"{api.url}/v1/import/csv", content="receipt,sold_at,amount,customer\n" + rows,
        auth=(WRITE_KEY, ""), timeout=30,
        headers={"content-type": "text/csv", "X-Footfall-Mapping": json.dumps(CSV_MAPPING)},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


def _kafka_event(n: int, anon: str | None, user: str | None = None) -> Event:
    at = AT + timedelta(minutes=n)
    return Event(message_id=f"k-{RUN}-{n}", type="track", event="Viewed", timestamp=at,
                 received_at=at, anonymous_id=anon, user_id=user)  # fmt: skip


def _send_everyone(api: ApiServer, sink: Sink, prefix: str) -> int:
    """Alice by every path, Bob by some; returns how many events were sent."""
    _browser(api, "/v1/page", {"anonymousId": A_PHONE, "messageId": f"b1-{RUN}",
                               "timestamp": _at(1),
                               "properties": {"url": f"{SHOP}/?email={EMAIL}"}})  # fmt: skip
    _browser(api, "/v1/identify", {"anonymousId": A_PHONE, "userId": ALICE, "timestamp": _at(2),
                                   "messageId": f"b2-{RUN}",
                                   "traits": {"email": EMAIL}})  # fmt: skip
    _browser(api, "/v1/page", {"anonymousId": B_DEV, "messageId": f"b3-{RUN}", "timestamp": _at(3)})
    _server(api, [
        {"type": "page", "anonymousId": A_LAPTOP, "messageId": f"s1-{RUN}", "timestamp": _at(4)},
        {"type": "identify", "anonymousId": A_LAPTOP, "userId": ALICE, "messageId": f"s2-{RUN}",
         "timestamp": _at(5)},
        {"type": "track", "event": "Order Completed", "userId": ALICE, "messageId": f"s3-{RUN}",
         "timestamp": _at(6), "properties": {"order_id": f"o-a-{RUN}", "revenue": 10}},
        {"type": "identify", "anonymousId": B_DEV, "userId": BOB, "messageId": f"s4-{RUN}",
         "timestamp": _at(7)},
        {"type": "track", "event": "Order Completed", "userId": BOB, "messageId": f"s5-{RUN}",
         "timestamp": _at(8), "properties": {"order_id": f"o-b-{RUN}", "revenue": 20}},
    ])  # fmt: skip
    _csv(api, f"r-a-{RUN},2024-05-06 12:09,30,{ALICE}\nr-b-{RUN},2024-05-06 12:10,40,{BOB}\n")
    produce(api.bootstrap, f"{prefix}events", [
        _kafka_event(11, A_PHONE),  # alice's phone, before any user id: hers (first link)
        _kafka_event(12, None, ALICE),
        _kafka_event(13, A_PHONE, BOB),  # Bob on Alice's phone, logged in: Bob's own event
        _kafka_event(14, B_DEV),
    ])  # fmt: skip
    return 3 + 5 + 2 + 4


def _cli_env(sink: Sink, prefix: str) -> dict[str, str]:
    """An operator's shell: the sink's port, the read key in the data dir, the broker."""
    env = {k: v for k, v in os.environ.items() if k != "FOOTFALL_READ_KEY"}
    return env | {
        "FOOTFALL_DATA_DIR": str(sink.data_dir),
        "FOOTFALL_SINK_HTTP_PORT": str(sink.port),
        "FOOTFALL_KAFKA_BOOTSTRAP": sink.bootstrap,
        "FOOTFALL_TOPIC_PREFIX": prefix,
    }


def delete(sink: Sink, prefix: str, *who: str) -> str:
    """`footfall privacy delete`, as an operator runs it; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "footfall", "privacy", "delete", *who, "--reason", "test request"],
        env=_cli_env(sink, prefix), cwd=REPO, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def audit_entries(sink: Sink, count: int = 1, timeout: float = 120.0) -> list[dict[str, object]]:
    """The sink's audit log once it has `count` entries (the deletion is asynchronous)."""
    path = sink.data_dir / "privacy" / "audit.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(lines := path.read_bytes().splitlines()) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.3)
    raise AssertionError(f"no {count} audit entries in {path}")


BOB_ROWS = (f"SELECT message_id, user_id, anonymous_id FROM events FINAL WHERE user_id = '{BOB}'"
            f" OR anonymous_id = '{B_DEV}' ORDER BY message_id")  # fmt: skip
ALICE_ROWS = (f"SELECT count() FROM events WHERE user_id = '{ALICE}' OR (user_id = '' AND "
              f"anonymous_id IN ('{A_PHONE}', '{A_LAPTOP}'))")  # fmt: skip


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Erased]:
    from footfall.topics import ensure_topics

    prefix = f"erase{RUN}_"
    ensure_topics(kafka_bootstrap, prefix)
    data = tmp_path_factory.mktemp("erasure")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FOOTFALL_BROWSER_KEYS", f"{PUBLIC}={SHOP}")
        # The email stays plain in traits and URLs, so finding none of it after the deletion
        # shows the deletion, not the ingest rules (tests/test_privacy_ip_pii.py tests those).
        patch.setenv("FOOTFALL_PII_HASH_CONTACT", "false")
        patch.setenv("FOOTFALL_URL_STRIP_PARAMS", "")
        api = ApiServer(kafka_bootstrap, prefix, data)
        api.start()
    sink = Sink(kafka_bootstrap, prefix, data, batch_size=100)
    sink.start()
    try:
        sent = _send_everyone(api, sink, prefix)
        assert sink.wait_rows(sent)[0] == sent
        bob_rows, alice_rows = sink.query(BOB_ROWS).text, sink.scalar_row(ALICE_ROWS)[0]
        assert alice_rows == 8 and bob_rows.count("\n") == 6
        with_email = (
            f"SELECT count() FROM events WHERE position(concat(traits, page_url), '{EMAIL}') > 0"
        )
        assert sink.scalar_row(with_email)[0] == 2  # plain before the deletion
        output = delete(sink, prefix, "--user-id", ALICE)
        audit_entries(sink)
        yield Erased(api, sink, prefix, bob_rows, alice_rows, output)
    finally:
        api.stop()
        sink.stop()


def _count(sink: Sink, sql: str) -> int:
    return sink.scalar_row(sql)[0]


def test_no_sql_finds_anything_of_the_person(erased: Erased) -> None:
    sink = erased.sink
    assert "erasure" in erased.cli_output and "linked anonymous ids" in erased.cli_output
    assert _count(sink, ALICE_ROWS) == 0
    # Nowhere in a row: ids, traits, URLs (the email was in a page URL and in traits).
    anywhere = ("SELECT count() FROM events WHERE position(concat(user_id, '|', anonymous_id, '|',"
                " properties, traits, context, page_url), {v:String}) > 0")  # fmt: skip
    for value in (ALICE, A_LAPTOP, EMAIL):
        found = sink.query(anywhere.replace("{v:String}", f"'{value}'")).text
        assert found == "0\n", value
    # Alice's phone appears only in Bob's own event on it (his, by his user id).
    assert sink.query(f"SELECT user_id FROM events WHERE anonymous_id = '{A_PHONE}'").text == (
        f"{BOB}\n"
    )
    for table, where in (
        ("identity_links", f"user_id = '{ALICE}'"),
        ("identity_map", f"user_id = '{ALICE}'"),
        ("identity_keys", f"user_id = '{ALICE}'"),
        ("events_resolved", f"person_id = 'u:{ALICE}'"),
        ("identity_conflicts", f"user_id = '{ALICE}'"),
    ):
        assert _count(sink, f"SELECT count() FROM {table} WHERE {where}") == 0, table


def test_no_report_counts_the_person_and_bob_is_untouched(erased: Erased) -> None:
    sink = erased.sink
    assert sink.query(BOB_ROWS).text == erased.bob_rows
    links = f"SELECT uniqExact(anonymous_id) FROM identity_links WHERE user_id = '{BOB}'"
    assert _count(sink, links) == 2  # his device, and Alice's phone he logged in on
    client = SinkQueryClient(sink.url, read_key=READ_KEY)
    reports = cast(Client, client)  # the query library's client, through the sink
    try:
        events = {row.value: (row.events, row.persons) for row in top(reports, TopParams(PERIOD))}
        assert events["Order Completed"] == (2, 1)  # Bob's API order and CSV sale only
        assert events["Viewed"] == (2, 1)  # Bob's Kafka events only
        steps = funnel(reports, FunnelParams((Step("Order Completed"), Step("Viewed")), PERIOD))
        assert [s.persons for s in steps[0].steps] == [1, 1]
        assert person_of(reports, anonymous_id=A_LAPTOP) == f"a:{A_LAPTOP}"  # no user behind it
        assert person_of(reports, user_id=BOB) == f"u:{BOB}"
    finally:
        client.close()


def test_the_audit_log_has_the_deletion_and_none_of_the_data(erased: Erased) -> None:
    path = erased.sink.data_dir / "privacy" / "audit.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    for value in (ALICE, A_PHONE, A_LAPTOP, EMAIL):
        assert value.encode() not in raw
    [entry] = audit_entries(erased.sink)
    assert str(entry["requested_by"]).startswith("cli:")
    assert entry["reason"] == "test request"
    assert entry["rows_deleted"] == {"events": erased.alice_rows, "identity_links": 2}
    keys = [f"user_id:{ALICE}", f"anonymous_id:{A_LAPTOP}", f"anonymous_id:{A_PHONE}"]
    hashed = entry["ids_sha256"]
    assert isinstance(hashed, list)
    assert sorted(hashed) == sorted(hashlib.sha256(k.encode()).hexdigest() for k in keys)


def test_late_and_replayed_events_are_not_stored_even_after_a_restart(erased: Erased) -> None:
    api, sink, prefix = erased.api, erased.sink, erased.prefix
    events_topic = f"{prefix}events"
    _server(api, [{"type": "track", "event": "Viewed", "userId": ALICE, "messageId": f"l1-{RUN}",
                   "timestamp": _at(30)}])  # fmt: skip
    _browser(api, "/v1/page", {"anonymousId": A_LAPTOP, "messageId": f"l2-{RUN}",
                               "timestamp": _at(31)})  # fmt: skip
    produce(api.bootstrap, events_topic, [_kafka_event(32, A_PHONE), _kafka_event(33, B_DEV)])
    # A replay of dead letters: the person's records, as they were, sent back into `events`.
    originals = [value_of(m) for m in read_all(api.bootstrap, events_topic)
                 if ALICE.encode() in value_of(m) or A_LAPTOP.encode() in value_of(m)]  # fmt: skip
    assert len(originals) >= 6
    producer = Producer({"bootstrap.servers": api.bootstrap})
    for payload in originals:
        producer.produce(events_topic, payload)
    assert producer.flush(30) == 0
    wait_group_caught_up(api.bootstrap, f"{prefix}sink", events_topic)
    assert _count(sink, f"SELECT count() FROM events WHERE message_id = 'k-{RUN}-33'") == 1
    assert _count(sink, ALICE_ROWS) == 0
    metrics = httpx.get(f"{sink.url}/metrics", timeout=10).text
    assert sample(metrics, "footfall_sink_records_erased_total") >= len(originals) + 3

    sink.stop()  # a restart reads the list again; the request is not applied twice
    produce(api.bootstrap, events_topic, [_kafka_event(40, None, ALICE), _kafka_event(41, B_DEV)])
    sink.start()
    wait_group_caught_up(api.bootstrap, f"{prefix}sink", events_topic)
    assert _count(sink, f"SELECT count() FROM events WHERE message_id = 'k-{RUN}-41'") == 1
    assert _count(sink, ALICE_ROWS) == 0
    assert len(audit_entries(sink)) == 1


def test_refusals(erased: Erased) -> None:
    env = _cli_env(erased.sink, erased.prefix)
    for args, message in (
        ([], b"give --user-id or --anonymous-id"),
        (["--user-id", "null"], b"placeholder id"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "footfall", "privacy", "delete", *args],
            env=env, cwd=REPO, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode != 0 and message in done.stderr, done.stderr
    # This sink has no erasure key configured: its HTTP endpoint refuses every request.
    answer = httpx.post(f"{erased.sink.url}/privacy/delete", json={"user_id": BOB},
                        headers={"Authorization": f"Bearer {READ_KEY}"}, timeout=30)  # fmt: skip
    assert answer.status_code == 403 and answer.json()["code"] == "erasure_disabled"


# -- the suppression list's rule and records (no I/O) -------------------------------------------


def test_the_list_covers_the_persons_events_by_the_reports_rule() -> None:
    from eventschema.person import Person
    from eventschema.suppressions import Request, Suppressions

    request = Request.of(Person(ALICE, (A_PHONE,)), "cli:test@host", "")
    erased = Suppressions()
    for key in request.record_keys():
        assert erased.apply(key, request.value()) == request
    assert erased.covers(ALICE, None) and erased.covers(ALICE, B_DEV)
    assert erased.covers(None, A_PHONE) and erased.covers(" NULL ", A_PHONE)  # placeholder user
    assert not erased.covers(BOB, A_PHONE)  # Bob on her phone, logged in: his event
    assert not erased.covers(None, B_DEV) and not erased.covers("null", "undefined")
    assert erased.apply(f"anonymous_id:{A_PHONE}", None) is None  # a tombstone lifts one id
    assert not erased.covers(None, A_PHONE) and erased.covers(ALICE, None)
    assert erased.apply("bogus:x", request.value()) is None and len(erased) == 1


@pytest.mark.parametrize(
    ("anon", "user"),
    [("a-1", "u-1"), (None, "u-ü-2"), ("a-3", None), (None, None), ("", "null"), ("x" * 300, "y")],
)
def test_the_sink_reads_a_records_ids_without_decoding_it(
    anon: str | None, user: str | None
) -> None:
    from consumers.clickhouse_sink.record_ids import readable_fingerprints, record_ids
    from eventschema import EventCodec

    codec = EventCodec()
    event = Event(message_id="m" * 130, type="track", event="Viewed", name=None, timestamp=AT,
                  received_at=AT, anonymous_id=anon, user_id=user)  # fmt: skip
    payload = codec.encode(event.to_record())
    assert payload[2:10] in readable_fingerprints()
    decoded = codec.decode(payload)
    assert record_ids(payload) == (decoded["anonymous_id"], decoded["user_id"])
