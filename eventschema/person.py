"""Who "the person" of a user id or an anonymous id is: the one definition that `footfall privacy
export`, `footfall privacy delete` and the sink's POST /privacy/delete share.

The reports' identity model (events_resolved, deploy/clickhouse/migrations 0003): a user id with
every anonymous id whose identity_map entry names it (the earliest link of an anonymous id wins,
so a shared device never merges two users), or an anonymous id linked to no user. `rows` runs one
read statement with bound parameters and returns its rows as dicts (over the sink's /query, or
on one of the sink's own read-only sessions).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Rows = Callable[..., list[dict[str, Any]]]


class PlaceholderId(ValueError):
    """The id is a placeholder (footfall_valid_id), which never identifies anyone."""


@dataclass(frozen=True)
class Person:
    """A user id with its linked anonymous ids, or one anonymous id linked to no user."""

    user_id: str | None
    anonymous_ids: tuple[str, ...]

    def describe(self) -> str:
        anons = ", ".join(self.anonymous_ids) or "none"
        if self.user_id is None:
            return f"anonymous id {self.anonymous_ids[0]} (linked to no user id)"
        return f"user id {self.user_id} (linked anonymous ids: {anons})"


def resolve(rows: Rows, user_id: str | None, anonymous_id: str | None) -> Person:
    """The person of a user id or an anonymous id, by the identity tables."""
    given = user_id if user_id is not None else anonymous_id
    valid = rows("SELECT footfall_valid_id({id:String}) AS ok", id=given)
    if not valid[0]["ok"]:
        raise PlaceholderId(f"{given!r} is a placeholder id, which never identifies a person")
    if user_id is None:
        mapped = rows(
            "SELECT user_id FROM identity_map WHERE anonymous_id = {anon:String}",
            anon=anonymous_id,
        )
        if not mapped:
            return Person(None, (str(anonymous_id),))
        user_id = str(mapped[0]["user_id"])
    anons = rows(
        "SELECT anonymous_id FROM identity_map WHERE user_id = {user:String} ORDER BY anonymous_id",
        user=user_id,
    )
    return Person(user_id, tuple(str(row["anonymous_id"]) for row in anons))
