"""No input makes the API answer 500: seeded random mutations of valid requests, real broker."""

import gzip
import random
from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from producer_api.app import create_app
from tests.support.api import api_settings

KEY = "fuzz-key"
DOCUMENTED = {200, 400, 401, 413, 415}
ODD_VALUES: list[object] = [
    None, True, 0, -1, 2**63, -(2**63), 1.5, "", " ", "null", "\u0000", "😀", "a" * 300,
    [], [1, "x"], {}, {"nested": {"deep": [1, {"x": None}]}}, "2026-13-45T99:99:99Z",
    "2026-11-27T10:00:00+14:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "'; DROP TABLE events; --", "<script>alert(1)</script>",
]  # fmt: skip
FIELDS = ["type", "event", "name", "anonymousId", "userId", "previousId", "groupId", "messageId",
          "timestamp", "originalTimestamp", "sentAt", "properties", "traits", "context",
          "integrations", "writeKey"]  # fmt: skip


def _valid(rng: random.Random) -> dict[str, object]:
    page = {"url": "https://x.test/"}
    return {"type": "track", "event": "Clicked", "anonymousId": f"a{rng.randrange(100)}",
            "properties": {"x": rng.random()}, "context": {"page": page}}  # fmt: skip


def _mutate(rng: random.Random, message: dict[str, object]) -> object:
    for _ in range(rng.randrange(1, 4)):
        choice = rng.random()
        if choice < 0.6:
            message[rng.choice(FIELDS)] = rng.choice(ODD_VALUES)
        elif choice < 0.8:
            message.pop(rng.choice(FIELDS), None)
        else:
            return rng.choice(ODD_VALUES)
    return message


def _body(rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
    headers = {"content-type": "application/json"}
    if rng.random() < 0.5:
        route = "/v1/batch"
        payload: object = {"batch": [_mutate(rng, _valid(rng)) for _ in range(rng.randrange(1, 6))]}
        if rng.random() < 0.2:
            payload = _mutate(rng, payload)  # type: ignore[arg-type]
    else:
        route = rng.choice(["/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group",
                            "/v1/alias"])  # fmt: skip
        payload = _mutate(rng, _valid(rng))
    data = orjson.dumps(payload)
    roll = rng.random()
    if roll < 0.1:
        data = data[: rng.randrange(len(data) + 1)]  # truncated
    elif roll < 0.2:
        position = rng.randrange(len(data))
        data = data[:position] + bytes([rng.randrange(256)]) + data[position + 1 :]
    elif roll < 0.25:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    if rng.random() < 0.15:
        data = gzip.compress(data) if rng.random() < 0.8 else data
        headers["content-encoding"] = "gzip"
    return route, data, headers


@pytest.fixture
def client(kafka_bootstrap: str, topic_prefix: str) -> Iterator[TestClient]:
    settings = api_settings(kafka_bootstrap, topic_prefix, KEY)
    with TestClient(create_app(settings), raise_server_exceptions=True) as test_client:
        yield test_client


def test_random_requests_only_get_documented_answers(client: TestClient) -> None:
    rng = random.Random(20261127)
    seen: dict[int, int] = {}
    for case in range(1500):
        route, data, headers = _body(rng)
        auth = (KEY, "") if rng.random() < 0.95 else (rng.choice(["", "x", KEY + "x"]), "")
        answer = client.post(route, content=data, headers=headers, auth=auth)
        assert answer.status_code in DOCUMENTED, (case, route, data[:200], answer.text)
        body = answer.json()
        assert isinstance(body, dict) and "success" in body, (case, answer.text)
        seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
    # The generator must reach both sides, or the test says little.
    assert seen.get(200, 0) > 100 and seen.get(400, 0) > 100, seen
