"""POST /privacy/delete on the sink (issue 13): only an erasure key may ask; a read key or an
API write key never may; the request erases the person like `footfall privacy delete` does.
Real broker and sink process (chDB)."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from eventschema import Event
from eventschema.read_access import digest_entry
from tests.support.api import WRITE_KEY
from tests.support.sink import READ_KEY, Sink, produce
from tests.test_privacy_erasure import audit_entries

ERASURE_KEY = "erasure-" + uuid.uuid4().hex
AT = datetime(2024, 5, 6, 12, tzinfo=UTC)


@pytest.fixture
def sink(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[Sink]:
    # Configured as a digest, as an operator who keeps the secret elsewhere would.
    s = Sink(kafka_bootstrap, topic_prefix, tmp_path,
             extra_env={"FOOTFALL_ERASURE_KEYS": digest_entry(ERASURE_KEY)})  # fmt: skip
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _event(n: int, anon: str, user: str | None = None) -> Event:
    at = AT + timedelta(minutes=n)
    return Event(message_id=f"h-{uuid.uuid4().hex}", type="track", event="Viewed", timestamp=at,
                 received_at=at, anonymous_id=anon, user_id=user)  # fmt: skip


def _post(sink: Sink, key: str | None, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{sink.url}/privacy/delete", json=body, headers=headers, timeout=60)


def test_only_an_erasure_key_may_delete_and_it_erases_the_person(
    sink: Sink, kafka_bootstrap: str, topic_prefix: str
) -> None:
    run = uuid.uuid4().hex[:6]
    carol = f"carol' OR 1=1 -- \\ {run}"  # a hostile id: values are bound, never SQL
    produce(kafka_bootstrap, f"{topic_prefix}events", [
        _event(1, f"c-dev-{run}"), _event(2, f"c-dev-{run}", carol), _event(3, f"d-dev-{run}"),
    ])  # fmt: skip
    assert sink.wait_rows(3)[0] == 3
    for key in (None, READ_KEY, WRITE_KEY, "guess"):
        answer = _post(sink, key, {"user_id": carol})
        assert answer.status_code == 401 and answer.json()["code"] == "invalid_erasure_key"
    for body in ({}, {"user_id": carol, "anonymous_id": "x"}, {"user_id": ""}, [carol]):
        answer = _post(sink, ERASURE_KEY, body)
        assert answer.status_code == 400 and answer.json()["code"] == "bad_request", body
    assert _post(sink, ERASURE_KEY, {"user_id": "null"}).json()["code"] == "placeholder_id"
    assert sink.scalar_row("SELECT count() FROM events")[0] == 3  # nothing was refused late

    answer = _post(sink, ERASURE_KEY, {"anonymous_id": f"c-dev-{run}", "reason": "ticket 7"})
    assert answer.status_code == 202 and answer.json()["ids_suppressed"] == 2, answer.text
    [entry] = audit_entries(sink)
    assert entry["requested_by"] == f"http:key-{digest_entry(ERASURE_KEY)[7:19]}"
    assert entry["reason"] == "ticket 7"
    assert entry["rows_deleted"] == {"events": 2, "identity_links": 1}
    remaining = sink.query("SELECT anonymous_id, user_id FROM events ORDER BY message_id").text
    assert remaining == f"d-dev-{run}\t\n"
