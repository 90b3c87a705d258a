"""Every SQL block shown in docs/analytics.md and README.md runs against chDB and, where it
answers a report's question, gives the query library's answer, on data with ties: a purchase
stored at the same millisecond as the sign-up, a purchase exactly one window after the arrival
and one a millisecond later, an arrival just before / after the period's end, and a source in
another case.

Each block is preceded by `<!-- docs-sql: KIND ARGS -->`; KIND says how it is checked. A block
without one fails the test, so a new example cannot go unchecked."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall_analytics import Period, founding_question
from footfall_analytics.generate import generate, insert
from producer_api.app import IngestEndpoint
from tests.support.analytics_rows import founding_path

DOCS = (REPO_ROOT / "docs/analytics.md", REPO_ROOT / "README.md")
_BLOCK = re.compile(r"(?:<!-- docs-sql: ([^>]*?) -->\n)?```sql\n(.*?)```", re.DOTALL)
MIN, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
MS = timedelta(milliseconds=1)
T = datetime(2024, 1, 10, 10, tzinfo=UTC)
TIES = [
    # Bought at the very millisecond of the sign-up: not strictly later, not counted.
    *founding_path("same-ms", T, "facebook", 5 * MIN, 5 * MIN),
    # Bought exactly one day after arriving: counted (the window is inclusive).
    *founding_path("exact-day", T + D, "facebook", 5 * MIN, D),
    # One millisecond past the day: not counted.
    *founding_path("day-plus-ms", T + 2 * D, "facebook", 5 * MIN, D + MS),
    # Another case of the same source: counted (utm values compare ignoring case).
    *founding_path("case", T + 3 * D, "FaceBook", 5 * MIN, H),
    # Arrived an hour before the period's end, bought after it: counted.
    *founding_path("late", datetime(2024, 1, 31, 23, tzinfo=UTC), "facebook", 5 * MIN, 2 * H),
    # Arrived after the period's end: not counted, though its purchase is within the SQL's range.
    *founding_path("after", datetime(2024, 2, 1, 0, 1, tzinfo=UTC), "facebook", MIN, 2 * MIN),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    dsn = f"chdb://{tmp_path_factory.mktemp('docs_sql') / 'ch'}"
    ensure_database(dsn, "footfall")
    c = connect(dsn, "footfall")
    migrations.apply(c, REPO_ROOT / "deploy/clickhouse/migrations")
    yield c
    c.close()


def blocks() -> list[tuple[str, str, str]]:
    found = []
    for path in DOCS:
        for match in _BLOCK.finditer(path.read_text()):
            found.append((path.name, match.group(1) or "", match.group(2)))
    return found


def check(client: Client, doc: str, kind: str, sql: str) -> int | None:
    """Run one block; for a report's question, assert it equals the library and return it."""
    assert kind, f"an SQL block in {doc} has no <!-- docs-sql: ... --> marker:\n{sql}"
    what, *args = kind.split()
    got = client.query(sql).result_rows  # runs on the migrated schema, whatever its kind
    if what == "runs":
        return None
    assert what == "founding", f"unknown docs-sql kind {what!r} in {doc}"
    start, end = (datetime.fromisoformat(a).replace(tzinfo=UTC) for a in args)
    expected = founding_question(client, Period(start, end))
    assert got == [(expected,)], (doc, sql, got, expected)
    return expected


def test_documented_sql_agrees_with_the_library(client: Client) -> None:
    found = blocks()
    assert any(kind.startswith("founding") for _, kind, _ in found), found
    # The ties alone first: exactly exact-day, case and late count (the API's rule).
    insert(client, TIES)
    assert {check(client, *block) for block in found} - {None} == {3}
    # Then in a generated month of shop history around them.
    insert(client, generate(seed=21, persons=150)[0])
    answers = {a for block in found if (a := check(client, *block)) is not None}
    assert answers and min(answers) > 3, answers


def test_readme_names_the_stored_source_of_csv_rows() -> None:
    """README says which `source` the CSV command's rows get: the one /v1/import records."""
    readme = (REPO_ROOT / "README.md").read_text()
    stored = IngestEndpoint(None, "/v1/import").source
    assert f"through `/v1/import` (`source = '{stored}'`)" in readme
