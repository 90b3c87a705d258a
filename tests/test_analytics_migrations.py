"""Upgraded installs: the analytics migrations back-fill what they add for stored events."""

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


STORED = (
    "SELECT message_id, event, ff_channel, ff_is_touch, ff_ref_host, ff_section, ff_anon_key, "
    "ff_user_key, ff_revenue FROM events FINAL ORDER BY message_id"
)


Rows = list[tuple[object, ...]]


def _stored(
    dsn: str, before: list[list[object]], folder_first: Path | None, after: list[list[object]]
) -> tuple[Rows, Rows]:
    """Insert `before` with only the migrations in folder_first (None: all), apply all, insert
    `after`; return the stored per-event columns and the identity keys."""
    ensure_database(dsn, "footfall")
    client = connect(dsn, "footfall")
    try:
        migrations.apply(client, folder_first or FOLDER)
        insert(client, before)
        migrations.apply(client, FOLDER)
        insert(client, after)
        # Back-filled on disk, not computed at read time: every part holds every stored column.
        missing = client.query(
            "SELECT p.name, c.name FROM system.parts AS p CROSS JOIN system.columns AS c "
            "WHERE p.active AND p.database = currentDatabase() AND p.table = 'events' "
            "AND c.database = currentDatabase() AND c.table = 'events' AND c.name LIKE 'ff\\_%' "
            "AND (p.name, c.name) NOT IN (SELECT name, column FROM system.parts_columns "
            "WHERE active AND database = currentDatabase() AND table = 'events')"
        ).result_rows
        assert missing == []
        stored = [tuple(r) for r in client.query(STORED).result_rows]
        keys = client.query("SELECT * FROM identity_keys ORDER BY anon_key").result_rows
        return stored, [tuple(r) for r in keys]
    finally:
        client.close()


def test_stored_columns_backfilled_as_a_fresh_insert_computes_them(tmp_path: Path) -> None:
    """Migrations 0004-0007 add columns computed at insert and back-fill stored events (an
    upgraded install): the back-filled values equal those of an install that had them all."""
    first_only = tmp_path / "v1"
    first_only.mkdir()
    shutil.copy(FOLDER / "0001_create_events.sql", first_only)
    rows, _ = generate(seed=4, persons=40)
    half = len(rows) // 2
    upgraded = _stored(f"chdb://{tmp_path / 'old'}", rows[:half], first_only, rows[half:])
    fresh = _stored(f"chdb://{tmp_path / 'new'}", rows[:half], None, rows[half:])
    assert len(upgraded[0]) == len(rows) and upgraded == fresh
    # The columns are really filled, not all defaults.
    assert {r[2] for r in fresh[0]} >= {"paid social", "direct", "email"}
    assert any(isinstance(r[8], float) and r[8] > 0 for r in fresh[0])
    # Only the generator's one event with nothing but placeholder ids has no person key.
    assert sum(1 for r in fresh[0] if not (r[6] or r[7])) == 1
