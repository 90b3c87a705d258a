"""Migration 0010 on an upgraded install: events stored before it get the one revenue field
(revenue, else total, else value) and RudderStack identifies get their context.traits as traits."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database

FOLDER = REPO_ROOT / "deploy/clickhouse/migrations"
AT = datetime(2024, 3, 1, tzinfo=UTC)
COLUMNS = ["message_id", "type", "event", "user_id", "timestamp", "received_at", "properties",
           "traits", "context", "source"]  # fmt: skip
TRAITS = {"email": "ana@example.com"}
ROWS = [
    ["r", "track", "Order Completed", "u1", AT, AT, '{"revenue": 7}', "{}", "{}", "http"],
    ["t", "track", "Order Completed", "u1", AT, AT, '{"total": "30.5"}', "{}", "{}", "kafka"],
    ["v", "track", "Order Completed", "u2", AT, AT, '{"value": 12.25}', "{}", "{}", "import"],
    ["n", "track", "Order Completed", "u2", AT, AT, '{"value": "n/a"}', "{}", "{}", "import"],
    ["p", "page", "", "u2", AT, AT, '{"value": 3}', "{}", "{}", "http"],  # not a track
    ["i", "identify", "", "u3", AT, AT, "{}", "{}", json.dumps({"traits": TRAITS}), "http"],
    ["k", "identify", "", "u4", AT, AT, "{}", '{"plan": "pro"}',
     json.dumps({"traits": TRAITS}), "http"],  # its own traits stay
]  # fmt: skip


def test_stored_events_get_one_revenue_and_rudder_traits(tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in FOLDER.glob("*.sql"):
        if int(path.name[:4]) < 10:
            shutil.copy(path, before)
    dsn = f"chdb://{tmp_path / 'ch'}"
    ensure_database(dsn, "footfall")
    client = connect(dsn, "footfall")
    try:
        migrations.apply(client, before)
        client.insert("events", ROWS, column_names=COLUMNS)
        assert 10 in migrations.apply(client, FOLDER)
        got = client.query(
            "SELECT message_id, ff_revenue, traits FROM events FINAL ORDER BY message_id"
        ).result_rows
    finally:
        client.close()
    revenue = {m: r for m, r, _ in got}
    assert revenue == {"r": 7.0, "t": 30.5, "v": 12.25, "n": 0.0, "p": 0.0, "i": 0.0, "k": 0.0}
    traits = {m: json.loads(t) for m, _, t in got if m in ("i", "k")}
    assert traits == {"i": TRAITS, "k": {"plan": "pro"}}
