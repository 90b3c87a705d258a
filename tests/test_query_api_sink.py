"""The sink's POST /query binds `param_<name>` values server-side (a value never becomes SQL),
and SinkQueryClient runs the query library through it with the same answers as a direct client."""

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.http_server import QueryService, serve
from consumers.clickhouse_sink.writer import connect, connect_reader, ensure_database
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


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, str]]:
    dsn = f"chdb://{tmp_path_factory.mktemp('sink_query') / 'ch'}"
    ensure_database(dsn, "footfall")
    writer = connect(dsn, "footfall")
    migrations.apply(writer, REPO_ROOT / "deploy/clickhouse/migrations")
    insert(writer, generate(seed=3, persons=40)[0])
    reader, settings = connect_reader(dsn, "footfall")
    server = serve("127.0.0.1", 0, QueryService(reader, settings), lambda: True)
    yield writer, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    reader.close()
    writer.close()


def test_query_binds_parameters(sink: tuple[Client, str]) -> None:
    writer, url = sink
    sql = "SELECT {s:String} AS s, {n:UInt8} + 1 AS n, {a:Array(String)} AS a"
    params = {"format": "JSONEachRow", "param_s": INJECT, "param_n": "41", "param_a": "['x','y']"}
    response = httpx.post(f"{url}/query", params=params, content=sql)
    assert response.status_code == 200, response.text
    assert response.json() == {"s": INJECT, "n": 42, "a": ["x", "y"]}
    # The value is compared, not run: nothing matches, and the table is still there.
    sql = "SELECT count() FROM events WHERE utm_campaign = {c:String}"
    count = httpx.post(f"{url}/query", params={"param_c": INJECT, "format": "TSV"}, content=sql)
    assert count.status_code == 200 and count.text.strip() == "0"
    assert writer.query("SELECT count() FROM events").result_rows[0][0] > 0
    # A value that is not of the type is ClickHouse's 400, not SQL.
    bad = httpx.post(f"{url}/query", params={"param_n": "1; DROP TABLE events"},
                     content="SELECT {n:UInt8}")  # fmt: skip
    assert bad.status_code == 400
    # Without a {name:Type} placeholder the parameters are ignored (no client-side %-formatting).
    like = httpx.post(
        f"{url}/query", params={"param_x": "1", "format": "TSV"}, content="SELECT '100%' LIKE '1%'"
    )
    assert like.status_code == 200 and like.text.strip() == "1"


def test_writes_still_refused_with_parameters(sink: tuple[Client, str]) -> None:
    _, url = sink
    sql = "INSERT INTO events (message_id) VALUES ({m:String})"
    response = httpx.post(f"{url}/query", params={"param_m": "x"}, content=sql)
    assert response.status_code == 400 and "READONLY" in response.text


def test_library_through_the_sink_equals_direct(sink: tuple[Client, str]) -> None:
    writer, url = sink
    remote = SinkQueryClient(url)
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
