"""A seeded generator of realistic Footfall events with their ground truth.

Persons browse in sessions (gaps of hours to days; events 5 s to 20 min apart) that arrive
through campaigns (see CAMPAIGNS), view products in site sections, sign up (identify links the
anonymous id), log in on a second device later (a late identify), buy online and offline (CSV rows
with only the user id), and a few use an app whose id is aliased later. Edge cases are added on
purpose: placeholder ids ("undefined", "null", "anonymous") that must not merge anything, shared
devices where two users identify on one anonymous id (the earliest link wins, the other is a
conflict), events inserted out of order and redelivered duplicates.

`Truth` holds, per event, the person it belongs to and the channel of the visit it starts, so
tests can compute every report independently in Python.

    python -m footfall_analytics.generate --dsn chdb:///tmp/ff --events 1000000 --seed 1
"""

import argparse
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from clickhouse_connect.driver.client import Client

from eventschema.stored_columns import CLICK_ID_COLUMNS
from footfall_analytics.synthetic import (
    BRIEF,
    CAMPAIGNS,
    COLUMNS,
    LOYAL,
    SECTIONS,
    SITE,
    START,
    WEIGHTS,
    Campaign,
    Profile,
    Truth,
    TruthEvent,
)

__all__ = ["COLUMNS", "START", "Generator", "Truth", "TruthEvent", "generate", "insert"]


@dataclass
class Visitor:
    """One person while the generator writes their visits."""

    anon: list[str]  # two devices' anonymous ids
    user: str
    will_register: bool
    junk: bool  # identifies with a placeholder user id
    at: datetime  # the time of the next event
    registered_at: datetime | None = None
    linked: set[int] = field(default_factory=set)  # devices the user id is linked to
    events: list[list[object]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # truth indices whose person depends on them

    @property
    def registered(self) -> bool:
        return self.registered_at is not None and not self.junk


class Generator:
    def __init__(self, seed: int, weeks: int = 6, profile: Profile = BRIEF) -> None:
        self.rng = random.Random(seed)
        self.weeks = weeks
        self.profile = profile
        self.seq = 0
        self.truth = Truth()

    def _row(
        self,
        person: str,
        at: datetime,
        *,
        type_: str = "track",
        event: str = "",
        anon: str = "",
        user: str = "",
        previous: str = "",
        path: str = "",
        camp: Campaign | None = None,
        referrer: str = "",
        section: str = "",
        revenue: float = 0.0,
        source: str = "http",
        entry: bool = False,
    ) -> list[object]:
        self.seq += 1
        mid = f"m{self.seq:09d}"
        c = camp or CAMPAIGNS[-1]
        query = "&".join(f"{k}={v}" for k, v in (("utm_source", c.utm_source),
            ("utm_medium", c.utm_medium), ("utm_campaign", c.utm_campaign)) if v)  # fmt: skip
        click = dict.fromkeys(CLICK_ID_COLUMNS, "")
        if c.click_id:
            click[c.click_id[0]] = f"{c.click_id[1]}{self.seq}"
        url = f"{SITE}{path}" + (f"?{query}" if query else "") if path else ""
        props: dict[str, object] = {}
        if section:
            props["section"] = section
        if revenue:
            props["revenue"] = revenue
        self.truth.events.append(TruthEvent(
            person, at, type_, event, source, mid, c.channel if entry else "direct",
            camp if entry and camp and camp.key != "direct" else None, section, revenue,
            c.utm_source))  # fmt: skip
        return [mid, type_, event, anon, user, previous, at, at, url, path,
                c.referrer if camp else referrer, c.utm_source, c.utm_medium, c.utm_campaign,
                "", "", *click.values(), json.dumps(props), source, "", 0, 0]  # fmt: skip

    def person(self, n: int) -> Iterator[list[object]]:
        """All rows of person n (a normal visitor; registered with some probability)."""
        rng = self.rng
        anon = [f"anon-{n}-{rng.randrange(10**6)}", f"anon-{n}-b{rng.randrange(10**6)}"]
        will_register = rng.random() < 0.5
        junk = will_register and rng.random() < 0.05
        at = START + timedelta(seconds=rng.randrange(self.weeks * 7 * 86400))
        v = Visitor(anon, f"user-{n}", will_register, junk, at)
        for _ in range(rng.choice(self.profile.visits)):
            self._visit(v)
        if v.registered and rng.random() < 0.25:
            # Offline purchase: CSV row with only the user id.
            v.at += timedelta(hours=rng.randrange(1, 30))
            self._add(v, event="Order Completed", user=v.user, source="csv",
                      revenue=float(rng.randrange(100, 2000)))  # fmt: skip
        person = f"u:{v.user}" if v.registered else f"a:{anon[0]}"
        for i in v.rows:
            # An unregistered visitor's second device would be another person: never used.
            self.truth.events[i].person = person
        if v.registered:
            for d in v.linked:
                self.truth.links[anon[d]] = v.user
        yield from v.events

    def _add(self, v: Visitor, **row: object) -> None:
        """A row of `v` at `v.at`; its person is settled when all of `v`'s rows are made."""
        v.rows.append(len(self.truth.events))
        v.events.append(self._row("", v.at, **row))  # type: ignore[arg-type]

    def _visit(self, v: Visitor) -> None:
        """One session: an entry page through a campaign, then 1 to 6 more events."""
        rng = self.rng
        device = 1 if v.registered and rng.random() < 0.3 else 0
        camp = rng.choices(CAMPAIGNS, WEIGHTS)[0]
        logged_in = v.registered_at is not None and device in v.linked
        uid = (
            v.user
            if logged_in and not v.junk
            else ("undefined" if v.junk and v.registered_at else "")
        )
        path = f"/{rng.choice(SECTIONS)}"
        self._add(v, type_="page", anon=v.anon[device], user=uid, path=path, camp=camp,
                  section=path[1:], entry=True)  # fmt: skip
        for _ in range(rng.randrange(1, 7)):
            uid = self._step(v, device, uid)
        v.at += timedelta(hours=rng.randrange(1, 120), seconds=rng.randrange(3600))

    def _step(self, v: Visitor, device: int, uid: str) -> str:
        """The next event of a visit; returns the user id the visit's events carry from now."""
        rng = self.rng
        v.at += timedelta(seconds=rng.randrange(5, 1200), milliseconds=rng.randrange(1000))
        section = rng.choice(SECTIONS)
        anon, inside = v.anon[device], f"{SITE}/"
        if v.registered and device not in v.linked:
            # A login on another device: a late identify for its earlier events.
            v.linked.add(device)
            self._add(v, type_="identify", anon=anon, user=v.user)
            return v.user
        roll = rng.random()
        if v.registered_at is None and v.will_register and roll < 0.35:
            v.registered_at = v.at
            v.linked.add(device)
            uid = "undefined" if v.junk else v.user
            self._add(v, event="Signed Up", anon=anon, user=uid, path="/signup", referrer=inside,
                      section="account")  # fmt: skip
            v.at += timedelta(seconds=1)
            self._add(v, type_="identify", anon=anon, user=uid)
        elif v.registered_at is not None and roll < self.profile.order_rate:
            self._add(v, event="Order Completed", anon=anon, user=uid, path="/checkout",
                      referrer=inside, revenue=float(rng.randrange(20, 900)))  # fmt: skip
        elif roll < 0.6:
            self._add(v, event="Product Viewed", anon=anon, user=uid, path=f"/{section}/item",
                      referrer=inside, section=section)  # fmt: skip
        else:
            self._add(v, type_="page", anon=anon, user=uid, path=f"/{section}", referrer=inside,
                      section=section)  # fmt: skip
        return uid

    def edge_cases(self) -> Iterator[list[object]]:
        """Hand-made identity cases: alias, shared device (conflict), placeholder anonymous id."""
        t = START + timedelta(days=3, hours=10)
        # Alias: an app id browses, then is aliased to user-alias (a late link).
        app, user = "app-device-1", "user-alias"
        yield self._row(f"u:{user}", t, type_="screen", anon=app, entry=True)
        yield self._row(f"u:{user}", t + timedelta(minutes=5), event="Product Viewed", anon=app,
                        section="cameras")  # fmt: skip
        yield self._row(f"u:{user}", t + timedelta(days=1), type_="alias", user=user,
                        previous=app)  # fmt: skip
        yield self._row(f"u:{user}", t + timedelta(days=1, minutes=1), event="Order Completed",
                        user=user, revenue=50.0)  # fmt: skip
        self.truth.links[app] = user
        # Shared device: A identifies first, B later; the anonymous browsing belongs to A.
        shared, a, b = "shared-kiosk", "user-kiosk-a", "user-kiosk-b"
        t = START + timedelta(days=10, hours=9)
        yield self._row(f"u:{a}", t, type_="page", anon=shared, path="/cameras",
                        camp=CAMPAIGNS[0], section="cameras", entry=True)  # fmt: skip
        yield self._row(f"u:{a}", t + timedelta(minutes=2), type_="identify", anon=shared, user=a)
        yield self._row(f"u:{b}", t + timedelta(hours=5), type_="identify", anon=shared, user=b,
                        entry=True)  # fmt: skip
        yield self._row(f"u:{b}", t + timedelta(hours=5, minutes=1), event="Order Completed",
                        anon=shared, user=b, revenue=10.0)  # fmt: skip
        self.truth.links[shared] = a
        self.truth.conflicts[shared] = [a, b]
        # Placeholder anonymous id shared by many users: never merges them.
        t = START + timedelta(days=12, hours=8)
        for k in range(3):
            u = f"user-ph-{k}"
            yield self._row(f"u:{u}", t + timedelta(days=k), type_="identify", anon="anonymous",
                            user=u, entry=True)  # fmt: skip
            yield self._row(f"u:{u}", t + timedelta(days=k, minutes=3), event="Product Viewed",
                            anon="anonymous", user=u, section="lenses")  # fmt: skip
        # Only placeholder ids: belongs to nobody.
        yield self._row("", t, type_="page", anon="null", user="NULL", path="/cameras",
                        section="cameras", entry=True)  # fmt: skip


def generate(seed: int, persons: int, weeks: int = 6) -> tuple[list[list[object]], Truth]:
    """Rows (in COLUMNS order, shuffled: out of order) and the ground truth, for tests."""
    gen = Generator(seed, weeks)
    rows = list(gen.edge_cases())
    for n in range(persons):
        rows.extend(gen.person(n))
    gen.rng.shuffle(rows)
    return rows, gen.truth


def insert(client: Client, rows: list[list[object]], batch: int = 100_000) -> None:
    for i in range(0, len(rows), batch):
        client.insert("events", rows[i : i + batch], column_names=list(COLUMNS))


def generate_into(
    client: Client,
    events: int,
    seed: int = 1,
    batch: int = 200_000,
    profile: Profile = LOYAL,
    weeks: int = 26,
) -> int:
    """Write about `events` events (whole persons) straight into ClickHouse; returns the count.
    The default profile makes about 100 events per person, first visits spread over 26 weeks."""
    gen = Generator(seed, weeks, profile)
    pending: list[list[object]] = list(gen.edge_cases())
    written, n = 0, 0
    while written + len(pending) < events:
        pending.extend(gen.person(n))
        n += 1
        gen.truth.events.clear()  # no ground truth kept at benchmark scale
        if len(pending) >= batch:
            gen.rng.shuffle(pending)
            insert(client, pending, batch)
            written += len(pending)
            pending = []
    insert(client, pending, batch)
    return written + len(pending)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", required=True, help="chdb:///path or http://user:pass@host:8123")
    parser.add_argument("--database", default="footfall")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from consumers.clickhouse_sink import migrations
    from consumers.clickhouse_sink.config import REPO_ROOT
    from consumers.clickhouse_sink.writer import connect, ensure_database

    ensure_database(args.dsn, args.database)
    client = connect(args.dsn, args.database)
    migrations.apply(client, REPO_ROOT / "deploy/clickhouse/migrations")
    began = time.monotonic()
    count = generate_into(client, args.events, args.seed)
    print(f"wrote {count} events in {time.monotonic() - began:.1f}s")
    client.close()


if __name__ == "__main__":
    main()
