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
from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from eventschema.stored_columns import CLICK_ID_COLUMNS, KAFKA_COLUMNS, UTM_COLUMNS

# The stored columns (eventschema.stored_columns) the generator fills, in the order of its rows;
# the table's DEFAULTs fill the rest.
COLUMNS: tuple[str, ...] = (
    "message_id", "type", "event", "anonymous_id", "user_id", "previous_id", "timestamp",
    "received_at", "page_url", "page_path", "page_referrer", *UTM_COLUMNS, *CLICK_ID_COLUMNS,
    "properties", "source", *KAFKA_COLUMNS,
)  # fmt: skip
SITE = "https://shop.example"
SECTIONS = ("cameras", "lenses", "blog", "support")
START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class Campaign:
    key: str
    channel: str  # what footfall_channel must say (docs/analytics.md)
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    referrer: str = ""
    click_id: tuple[str, str] | None = None  # (column, prefix)


CAMPAIGNS = (
    Campaign("fb_spring", "paid social", "facebook", "paid_social", "spring_sale",
             "https://l.facebook.com/", ("fbclid", "fb")),
    Campaign("fb_retarget", "paid social", "facebook", "cpc", "retarget", "", ("fbclid", "fb")),
    Campaign("google_brand", "paid search", "google", "cpc", "brand", "https://www.google.com/",
             ("gclid", "gc")),
    Campaign("tiktok", "paid social", "", "", "", "https://www.tiktok.com/", ("ttclid", "tt")),
    Campaign("organic", "organic search", referrer="https://www.google.com/"),
    Campaign("bing_organic", "organic search", referrer="https://www.bing.com/search"),
    Campaign("instagram", "social", referrer="https://l.instagram.com/"),
    Campaign("newsletter", "email", "newsletter", "email", "weekly"),
    Campaign("blog", "referral", referrer="https://blog.example.org/best-cameras"),
    Campaign("direct", "direct"),
)  # fmt: skip
_WEIGHTS = (14, 6, 10, 4, 14, 4, 8, 8, 7, 25)


@dataclass
class TruthEvent:
    person: str  # 'u:<user>' or 'a:<anonymous id>', what identity must resolve to ('' = none)
    at: datetime
    type: str
    event: str
    source: str
    message_id: str
    channel: str  # the campaign's channel for an entry event, else 'direct'
    touch: Campaign | None  # the campaign of an entry event (None for direct / not an entry)
    section: str
    revenue: float
    utm_source: str


@dataclass
class Truth:
    events: list[TruthEvent] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)  # anon -> user ids, oldest first
    links: dict[str, str] = field(default_factory=dict)  # anon -> user id (the mapping)


@dataclass(frozen=True)
class Profile:
    """How much one person does: the number of visits (sessions) is drawn from `visits`; in a
    visit after registering, each event is a purchase with chance `order_rate`."""

    visits: tuple[int, ...]
    order_rate: float


# Tests: about 13 events per person and many purchases, so small data sets take every path.
BRIEF = Profile(visits=(1, 1, 2, 2, 3, 4, 6), order_rate=0.3)
# The benchmark: about 100 events per person (10M events = 100k persons), purchases rarer.
LOYAL = Profile(visits=tuple(range(8, 37)), order_rate=0.03)


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
        user = f"user-{n}"
        registered_at: datetime | None = None
        will_register = rng.random() < 0.5
        junk = will_register and rng.random() < 0.05  # identifies with a placeholder user id
        linked = set()
        at = START + timedelta(seconds=rng.randrange(self.weeks * 7 * 86400))
        events: list[list[object]] = []
        rows_person: list[int] = []  # truth indices whose person depends on registration
        for _ in range(rng.choice(self.profile.visits)):
            device = 1 if registered_at and not junk and rng.random() < 0.3 else 0
            camp = rng.choices(CAMPAIGNS, _WEIGHTS)[0]
            logged_in = registered_at is not None and device in linked
            uid = (
                user if logged_in and not junk else ("undefined" if junk and registered_at else "")
            )
            path = f"/{rng.choice(SECTIONS)}"
            rows_person.append(len(self.truth.events))
            events.append(self._row("", at, type_="page", anon=anon[device], user=uid,
                path=path, camp=camp, section=path[1:], entry=True))  # fmt: skip
            for _ in range(rng.randrange(1, 7)):
                at += timedelta(seconds=rng.randrange(5, 1200), milliseconds=rng.randrange(1000))
                section = rng.choice(SECTIONS)
                if registered_at and device not in linked and not junk:
                    # A login on another device: a late identify for its earlier events.
                    linked.add(device)
                    uid = user
                    rows_person.append(len(self.truth.events))
                    events.append(self._row("", at, type_="identify", anon=anon[device], user=user))
                    continue
                roll = rng.random()
                rows_person.append(len(self.truth.events))
                if registered_at is None and will_register and roll < 0.35:
                    registered_at = at
                    linked.add(device)
                    uid = "undefined" if junk else user
                    events.append(self._row("", at, event="Signed Up", anon=anon[device], user=uid,
                        path="/signup", referrer=f"{SITE}/", section="account"))  # fmt: skip
                    at += timedelta(seconds=1)
                    rows_person.append(len(self.truth.events))
                    events.append(self._row("", at, type_="identify", anon=anon[device], user=uid))
                elif registered_at is not None and roll < self.profile.order_rate:
                    revenue = float(rng.randrange(20, 900))
                    events.append(
                        self._row(
                            "",
                            at,
                            event="Order Completed",
                            anon=anon[device],
                            user=uid,
                            path="/checkout",
                            referrer=f"{SITE}/",
                            revenue=revenue,
                        )
                    )
                elif roll < 0.6:
                    events.append(
                        self._row(
                            "",
                            at,
                            event="Product Viewed",
                            anon=anon[device],
                            user=uid,
                            path=f"/{section}/item",
                            referrer=f"{SITE}/",
                            section=section,
                        )
                    )
                else:
                    events.append(self._row("", at, type_="page", anon=anon[device], user=uid,
                        path=f"/{section}", referrer=f"{SITE}/", section=section))  # fmt: skip
            at += timedelta(hours=rng.randrange(1, 120), seconds=rng.randrange(3600))
        if registered_at and not junk and rng.random() < 0.25:
            # Offline purchase: CSV row with only the user id.
            at += timedelta(hours=rng.randrange(1, 30))
            rows_person.append(len(self.truth.events))
            events.append(self._row("", at, event="Order Completed", user=user, source="csv",
                revenue=float(rng.randrange(100, 2000))))  # fmt: skip
        person = f"u:{user}" if registered_at and not junk else f"a:{anon[0]}"
        for i in rows_person:
            ev = self.truth.events[i]
            # An unregistered visitor's second device would be another person: never used.
            ev.person = person
        if registered_at and not junk:
            for d in linked:
                self.truth.links[anon[d]] = user
        yield from events

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
