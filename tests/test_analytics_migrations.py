"""The identity migration back-fills links from events stored before it (an upgraded install)."""

import shutil
from pathlib import Path

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall_analytics.generate import generate, insert

FOLDER = REPO_ROOT / "deploy/clickhouse/migrations"


def test_identity_links_backfilled_then_kept_by_the_view(tmp_path: Path) -> None:
    first_only = tmp_path / "v1"
    first_only.mkdir()
    shutil.copy(FOLDER / "0001_create_events.sql", first_only)
    dsn = f"chdb://{tmp_path / 'ch'}"
    ensure_database(dsn, "footfall")
    client = connect(dsn, "footfall")
    try:
        migrations.apply(client, first_only)
        rows, truth = generate(seed=3, persons=40)
        half = len(rows) // 2
        insert(client, rows[:half])  # before the analytics migrations
        assert migrations.apply(client, FOLDER)[0] == 2
        insert(client, rows[half:])  # after: the materialized view takes over
        got = client.query("SELECT anonymous_id, user_id FROM identity_map").result_rows
        assert {str(a): str(u) for a, u in got} == truth.links
    finally:
        client.close()
