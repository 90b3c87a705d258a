"""The sink's POST /query binds `param_<name>` values server-side (a value never becomes SQL),
SinkQueryClient runs the query library through it with the same answers as a direct client, and
only a read key from an allowed Host gets in."""

import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.http_server import QueryService, ReaderPool, serve
from consumers.clickhouse_sink.writer import connect, connect_reader, ensure_database
from eventschema.read_access import AllowedHosts, ReadKeys, digest_entry
from footfall_analytics import (
    AttributionParams,
    FunnelParams,
    Period,
    RetentionParams,
    SessionParams,
    Step,
    attribution,
    funnel,
    person_touches,
    retention,
    sessions,
)
from footfall_analytics.generate import START, generate, insert
from footfall_analytics.remote import SinkQueryClient

PERIOD = Period(START - timedelta(days=1), START + timedelta(days=60))
INJECT = "x' OR 1=1; DROP TABLE events; --"
READ_KEY = "sink-test-read-key"
WRITE_KEY = "sink-test-write-key"  # the API's kind of key: no use here
AUTH = {"Authorization": f"Bearer {READ_KEY}"}


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, str]]:
    dsn = f"chdb://{tmp_path_factory.mktemp('sink_query') / 'ch'}"
    ensure_database(dsn, "footfall")
    writer = connect(dsn, "footfall")
    migrations.apply(writer, REPO_ROOT / "deploy/clickhouse/migrations")
    insert(writer, generate(seed=3, persons=40)[0])
    pool = ReaderPool([connect_reader(dsn, "footfall") for _ in range(2)])
    keys = ReadKeys([digest_entry(READ_KEY)])
    hosts = AllowedHosts.from_env()  # the loopback names
    server = serve("127.0.0.1", 0, QueryService(pool), lambda: True, keys, hosts)
    yield writer, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    pool.close()
    writer.close()


def test_query_binds_parameters(sink: tuple[Client, str]) -> None:
    writer, url = sink
    sql = "SELECT {s:String} AS s, {n:UInt8} + 1 AS n, {a:Array(String)} AS a"
    params = {"format": "JSONEachRow", "param_s": INJECT, "param_n": "41", "param_a": "['x','y']"}
    response = httpx.post(f"{url}/query", params=params, content=sql, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"s": INJECT, "n": 42, "a": ["x", "y"]}
    # The value is compared, not run: nothing matches, and the table is still there.
    sql = "SELECT count() FROM events WHERE utm_campaign = {c:String}"
    count = httpx.post(
        f"{url}/query", params={"param_c": INJECT, "format": "TSV"}, content=sql, headers=AUTH
    )
    assert count.status_code == 200 and count.text.strip() == "0"
    assert writer.query("SELECT count() FROM events").result_rows[0][0] > 0
    # A value that is not of the type is ClickHouse's 400, not SQL.
    bad = httpx.post(f"{url}/query", params={"param_n": "1; DROP TABLE events"},
                     content="SELECT {n:UInt8}", headers=AUTH)  # fmt: skip
    assert bad.status_code == 400
    # Without a {name:Type} placeholder the parameters are ignored (no client-side %-formatting).
    like = httpx.post(
        f"{url}/query",
        params={"param_x": "1", "format": "TSV"},
        content="SELECT '100%' LIKE '1%'",
        headers=AUTH,
    )
    assert like.status_code == 200 and like.text.strip() == "1"


def test_writes_still_refused_with_parameters(sink: tuple[Client, str]) -> None:
    _, url = sink
    sql = "INSERT INTO events (message_id) VALUES ({m:String})"
    response = httpx.post(f"{url}/query", params={"param_m": "x"}, content=sql, headers=AUTH)
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "read_only"


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({}, 401, "missing_read_key"),
    ({"Authorization": "Basic !!"}, 401, "missing_read_key"),
    ({"Authorization": "Bearer wrong"}, 401, "invalid_read_key"),
    ({"Authorization": f"Bearer {WRITE_KEY}"}, 401, "invalid_read_key"),
    ({"Authorization": f"Bearer {digest_entry(READ_KEY)}"}, 401, "invalid_read_key"),
    ({**AUTH, "Host": "evil.example"}, 403, "host_not_allowed"),
    ({**AUTH, "Host": "evil.example:8124"}, 403, "host_not_allowed"),
])  # fmt: skip
def test_query_needs_a_read_key_and_an_allowed_host(
    sink: tuple[Client, str], headers: dict[str, str], status: int, code: str
) -> None:
    _, url = sink
    response = httpx.post(f"{url}/query", content="SELECT 1", headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_read_key_as_basic_username_and_open_probes(sink: tuple[Client, str]) -> None:
    _, url = sink
    basic = httpx.post(
        f"{url}/query", params={"format": "TSV"}, content="SELECT 1", auth=(READ_KEY, "")
    )
    assert basic.status_code == 200 and basic.text.strip() == "1"
    # The supervisor, Docker and Prometheus probe these by any name, without a key.
    for path in ("/healthz", "/metrics"):
        assert httpx.get(f"{url}{path}", headers={"Host": "sink:8124"}).status_code == 200


def test_library_through_the_sink_equals_direct(sink: tuple[Client, str]) -> None:
    writer, url = sink
    remote = SinkQueryClient(url, read_key=READ_KEY)
    try:
        params = FunnelParams(
            steps=(Step("Product Viewed"), Step("Order Completed")), period=PERIOD,
            breakdown="section",
        )  # fmt: skip
        assert funnel(remote, params) == funnel(writer, params)  # type: ignore[arg-type]
        ret = RetentionParams(PERIOD, weeks=3)
        assert retention(remote, ret) == retention(writer, ret)  # type: ignore[arg-type]
        att = AttributionParams(PERIOD, model="linear")
        assert attribution(remote, att) == attribution(writer, att)  # type: ignore[arg-type]
        ses = SessionParams(PERIOD, limit=200)
        assert sessions(remote, ses) == sessions(writer, ses)  # type: ignore[arg-type]
        assert person_touches(remote, PERIOD) == person_touches(writer, PERIOD)  # type: ignore[arg-type]
    finally:
        remote.close()


def test_stalled_clients_are_cut_off_and_capped() -> None:
    """A client that stops sending is disconnected after the socket timeout, and connections
    beyond the cap are closed at once (a second server, with small limits)."""
    pool = ReaderPool([])  # never reached: the stalled requests never finish their body
    keys = ReadKeys([digest_entry(READ_KEY)])
    server = serve("127.0.0.1", 0, QueryService(pool), lambda: True, keys,
                   AllowedHosts.from_env(), socket_timeout=1.0, max_connections=2)  # fmt: skip
    port = server.server_address[1]
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    try:
        head = f"POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {READ_KEY}\r\n"
        for conn in stalled:
            conn.sendall(f"{head}Content-Length: 99\r\n\r\nSE".encode())  # 2 of 99 bytes
        # Over the cap (once both stalled clients hold a slot): closed without an answer. Polled,
        # since a probe answered while a slot was still free only shows the server is not busy.
        deadline = time.monotonic() + 10
        while _healthz(port) != -1:
            assert time.monotonic() < deadline, "a third connection was still served"
            time.sleep(0.05)
        started = time.monotonic()
        for conn in stalled:
            conn.settimeout(5)
            assert conn.recv(100) == b""  # the server hung up on the stalled client
        assert time.monotonic() - started < 2.5
        deadline = time.monotonic() + 10  # the handler threads free their slots
        while _healthz(port) != 200:
            assert time.monotonic() < deadline, "the freed slots did not serve again"
            time.sleep(0.05)
    finally:
        for conn in stalled:
            conn.close()
        server.shutdown()


def _healthz(port: int) -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
    except httpx.TransportError:
        return -1  # closed without an answer
