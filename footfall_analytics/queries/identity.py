"""Identity: which person an id belongs to, and the links that conflict (docs/analytics.md)."""

from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client

from footfall_analytics.sql import check_int, check_name


@dataclass(frozen=True)
class IdentityLink:
    anonymous_id: str
    user_id: str
    first_seen: datetime
    last_seen: datetime
    is_mapping: bool  # the link used (the earliest); the others are recorded, not merged


def identity_conflicts(client: Client, limit: int = 10_000) -> list[IdentityLink]:
    """Links of anonymous ids that point at more than one user id."""
    check_int("limit", limit, 1, 1_000_000)
    rows = client.query(
        "SELECT anonymous_id, user_id, first_seen, last_seen, is_mapping FROM identity_conflicts "
        "ORDER BY anonymous_id, first_seen, user_id LIMIT {limit:UInt64}",
        parameters={"limit": limit},
    ).result_rows
    return [IdentityLink(str(a), str(u), f, last, bool(m)) for a, u, f, last, m in rows]


def person_of(client: Client, anonymous_id: str = "", user_id: str = "") -> str:
    """The person id an event with these ids resolves to ('' when neither id is usable)."""
    for name, value in (("anonymous_id", anonymous_id), ("user_id", user_id)):
        if value:
            check_name(name, value)
    rows = client.query(
        "SELECT multiIf(footfall_valid_id({u:String}), concat('u:', {u:String}), "
        "(SELECT any(user_id) FROM identity_map WHERE anonymous_id = {a:String}) AS m != '', "
        "concat('u:', m), footfall_valid_id({a:String}), concat('a:', {a:String}), '')",
        parameters={"a": anonymous_id, "u": user_id},
    ).result_rows
    return str(rows[0][0])
