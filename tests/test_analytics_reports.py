"""Every analytics report against answers computed in Python from the generator's ground truth.

One seeded data set (footfall_analytics.generate) goes straight into a fresh chDB after the sink's
migrations: out of order, in several inserts, with redelivered duplicates (FINAL must drop them).
"""

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall_analytics import (
    PAGE,
    AttributionParams,
    Filter,
    FunnelGroup,
    FunnelParams,
    Period,
    RetentionParams,
    SessionParams,
    Step,
    TopParams,
    attribution,
    channels,
    founding_question,
    funnel,
    identity_conflicts,
    person_of,
    person_touches,
    retention,
    sessions,
    top,
)
from footfall_analytics.generate import START, Truth, TruthEvent, generate, insert

ALL = Period(START - timedelta(days=1), START + timedelta(weeks=30))
MID = Period(START + timedelta(days=7), START + timedelta(days=21))
DAY = timedelta(days=1)


@dataclass
class Data:
    client: Client
    truth: Truth


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    dsn = f"chdb://{tmp_path_factory.mktemp('analytics') / 'ch'}"
    ensure_database(dsn, "footfall")
    client = connect(dsn, "footfall")
    migrations.apply(client, REPO_ROOT / "deploy/clickhouse/migrations")
    rows, truth = generate(seed=7, persons=400)
    third = len(rows) // 3
    for part in (rows[:third], rows[third : 2 * third], rows[2 * third :], rows[::17]):
        insert(client, part)  # the last one redelivers every 17th event
    yield Data(client, truth)
    client.close()


def ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def by_person(truth: Truth) -> dict[str, list[TruthEvent]]:
    out: dict[str, list[TruthEvent]] = defaultdict(list)
    for ev in truth.events:
        if ev.person:
            out[ev.person].append(ev)
    for evs in out.values():
        evs.sort(key=lambda e: (e.at, e.message_id))
    return out


# ---- independent Python answers -------------------------------------------------------------


Pred = Callable[[TruthEvent], bool]
Expected = dict[str, tuple[list[int], list[list[float]]]]


def py_funnel(
    truth: Truth,
    steps: list[Pred],
    period: Period,
    window: timedelta,
    brk: Callable[[TruthEvent], str] | None = None,
) -> Expected:
    """Returns {breakdown: (persons per step, [times from the previous step] per step)}."""
    n = len(steps)
    groups: Expected = {}
    for evs in by_person(truth).values():
        starts = [e for e in evs if steps[0](e) and period.start <= e.at < period.end]
        if not starts:
            continue
        best: tuple[int, list[int], TruthEvent] | None = None
        for s in sorted(starts, key=lambda e: ms(e.at)):
            path = [ms(s.at)]
            for k in range(1, n):
                nxt = [ms(e.at) for e in evs if steps[k](e) and ms(e.at) > path[-1]
                       and ms(e.at) <= path[0] + window.total_seconds() * 1000
                       and e.at < period.end + window]  # fmt: skip
                if not nxt:
                    break
                path.append(min(nxt))
            if best is None or len(path) > best[0]:
                best = (len(path), path, s)
        assert best is not None
        level, path, start = best
        key = brk(start) if brk else ""
        counts, times = groups.setdefault(key, ([0] * n, [[] for _ in range(n)]))
        for k in range(level):
            counts[k] += 1
            if k:
                times[k].append((path[k] - path[k - 1]) / 1000)
    return groups


def upper_median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]  # quantileExact(0.5)


def check_funnel(result: list[FunnelGroup], expected: Expected, n: int) -> None:
    got = {g.breakdown: g for g in result}
    assert set(got) == set(expected)
    for key, (counts, times) in expected.items():
        steps = got[key].steps
        assert [s.persons for s in steps] == counts, key
        for k in range(n):
            assert steps[k].rate_from_start == pytest.approx(counts[k] / counts[0])
            if k:
                prev = counts[k - 1]
                assert steps[k].rate_from_previous == pytest.approx(counts[k] / prev if prev else 0)
                if times[k]:
                    assert steps[k].median_seconds_from_previous == pytest.approx(
                        upper_median(times[k])
                    )
                else:
                    assert steps[k].median_seconds_from_previous is None


# ---- funnels --------------------------------------------------------------------------------


def test_funnel_with_step_filter_counts_rates_and_median_times(data: Data) -> None:
    params = FunnelParams(
        steps=(Step("Product Viewed", (Filter("section", "eq", "cameras"),)),
               Step("Signed Up"), Step("Order Completed")),
        period=ALL, window=DAY)  # fmt: skip
    expected = py_funnel(data.truth, [
        lambda e: e.event == "Product Viewed" and e.section == "cameras",
        lambda e: e.event == "Signed Up",
        lambda e: e.event == "Order Completed"], ALL, DAY)  # fmt: skip
    assert expected[""][0][2] >= 3  # the data set exercises every step
    check_funnel(funnel(data.client, params), expected, 3)


def test_funnel_breakdown_by_channel_in_a_narrow_period(data: Data) -> None:
    window = timedelta(hours=6)
    params = FunnelParams(steps=(Step(PAGE), Step("Product Viewed"), Step("Order Completed")),
                          period=MID, window=window, breakdown="channel")  # fmt: skip
    expected = py_funnel(data.truth, [
        lambda e: e.type == "page", lambda e: e.event == "Product Viewed",
        lambda e: e.event == "Order Completed"], MID, window, brk=lambda e: e.channel)  # fmt: skip
    assert len(expected) >= 5
    check_funnel(funnel(data.client, params), expected, 3)


def test_funnel_global_filter_on_a_property(data: Data) -> None:
    # Every step's events must have section in (cameras, lenses): Order Completed has none.
    params = FunnelParams(steps=(Step(PAGE), Step("Product Viewed")), period=ALL,
                          window=timedelta(hours=1),
                          filters=(Filter("properties.section", "in", ("cameras", "lenses")),),
                          )  # fmt: skip
    ok = {"cameras", "lenses"}
    expected = py_funnel(data.truth, [lambda e: e.type == "page" and e.section in ok,
                                      lambda e: e.event == "Product Viewed" and e.section in ok],
                         ALL, timedelta(hours=1))  # fmt: skip
    check_funnel(funnel(data.client, params), expected, 2)


def test_the_founding_question(data: Data) -> None:
    """Users who registered and then purchased within one day after arriving from Facebook."""
    expected = py_funnel(data.truth, [
        lambda e: e.utm_source == "facebook", lambda e: e.event == "Signed Up",
        lambda e: e.event == "Order Completed"], ALL, DAY)  # fmt: skip
    answer = expected[""][0][2]
    assert answer > 0
    assert founding_question(data.client, ALL) == answer
    # The plain SQL of docs/analytics.md (ClickHouse's windowFunnel over events_resolved).
    # The period's end is extended by the window, as the funnel lets later steps spill over it.
    plain = data.client.query(
        "SELECT count() FROM (SELECT person_key, windowFunnel(86400000)("
        "toUInt64(toUnixTimestamp64Milli(timestamp)), utm_source = 'facebook', "
        "event = 'Signed Up', event = 'Order Completed') AS level FROM events_resolved "
        "WHERE person_key != 0 AND timestamp >= {start:DateTime64(3)} "
        "AND timestamp < {end:DateTime64(3)} GROUP BY person_key) WHERE level = 3",
        parameters={"start": ALL.start, "end": ALL.end + DAY},
    ).result_rows[0][0]
    assert plain == answer


# ---- attribution ----------------------------------------------------------------------------


def py_attribution(truth: Truth, model: str, dimension: str, period: Period,
                   lookback: timedelta) -> dict[str, tuple[float, float]]:  # fmt: skip
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for evs in by_person(truth).values():
        for conv in evs:
            if conv.event != "Order Completed" or not period.start <= conv.at < period.end:
                continue
            touches = []
            for e in evs:
                if not ms(conv.at) - lookback.total_seconds() * 1000 <= ms(e.at) <= ms(conv.at):
                    continue
                if dimension == "section" and e.section:
                    touches.append((ms(e.at), e.section))
                elif dimension != "section" and e.touch is not None:
                    value = {"campaign": e.touch.utm_campaign, "channel": e.touch.channel,
                             "source": e.touch.utm_source}[dimension]  # fmt: skip
                    touches.append((ms(e.at), value or "(none)"))
            touches.sort()
            if not touches:
                credits = [("(none)", 1.0)]
            elif model == "first":
                credits = [(touches[0][1], 1.0)]
            elif model == "last":
                credits = [(touches[-1][1], 1.0)]
            else:
                credits = [(v, 1 / len(touches)) for _, v in touches]
            for value, credit in credits:
                out[value][0] += credit
                out[value][1] += credit * conv.revenue
    return {k: (v[0], v[1]) for k, v in out.items()}


@pytest.mark.parametrize(("model", "dimension"), [
    ("first", "campaign"), ("last", "campaign"), ("linear", "campaign"), ("last", "channel"),
    ("first", "section"), ("last", "section")])  # fmt: skip
def test_attribution_by_first_last_and_linear_touch(data: Data, model: str, dimension: str) -> None:
    lookback = timedelta(days=7)
    params = AttributionParams(period=ALL, model=model, dimension=dimension,  # type: ignore[arg-type]
                               lookback=lookback)  # fmt: skip
    got = {r.value: (r.conversions, r.revenue) for r in attribution(data.client, params)}
    expected = py_attribution(data.truth, model, dimension, ALL, lookback)
    assert set(got) == set(expected)
    for key, (conversions, revenue) in expected.items():
        assert got[key][0] == pytest.approx(conversions), key
        assert got[key][1] == pytest.approx(revenue), key


def test_attribution_revenue_from_another_property(data: Data) -> None:
    """The stored ff_revenue column serves properties.revenue and sums to the truth; any other
    property is read from the JSON: here `section` (a string, so 0 revenue), same conversions."""
    stored = attribution(data.client, AttributionParams(period=ALL, dimension="channel"))
    assert sum(r.revenue for r in stored) > 0
    other = attribution(
        data.client, AttributionParams(period=ALL, dimension="channel", revenue_property="section")
    )
    assert [(r.value, r.conversions) for r in other] == [(r.value, r.conversions) for r in stored]
    assert all(r.revenue == 0 for r in other)
    truth = sum(e.revenue for e in data.truth.events if e.event == "Order Completed" and e.person)
    assert sum(r.revenue for r in stored) == pytest.approx(truth)


def test_offline_purchases_count_through_identity(data: Data) -> None:
    offline = [e for e in data.truth.events if e.source == "csv"]
    assert offline and all(e.person.startswith("u:") for e in offline)
    total = sum(r.conversions for r in attribution(data.client, AttributionParams(period=ALL)))
    purchases = [e for e in data.truth.events if e.event == "Order Completed" and e.person]
    assert total == pytest.approx(len(purchases))


# ---- retention, sessions, channels, touches, top ------------------------------------------


def test_retention_by_first_seen_week(data: Data) -> None:
    period = Period(START, START + timedelta(weeks=8))
    rows = retention(data.client, RetentionParams(period=period, weeks=4))
    cohorts: dict[datetime, list[set[int]]] = defaultdict(list)
    for evs in by_person(data.truth).values():
        first = min(e.at for e in evs)
        monday = (first - timedelta(days=first.weekday())).date()
        weeks = {((e.at.date() - monday).days // 7) for e in evs}
        cohorts[monday].append(weeks)  # type: ignore[index]
    expected = {(c, w): (len(people), sum(1 for p in people if w in p))
                for c, people in cohorts.items() for w in range(5)}  # fmt: skip
    got = {(r.cohort_week, r.week): (r.cohort_size, r.persons) for r in rows}
    assert got == expected
    assert all(r.persons is not None for r in rows)  # every week of this history has begun
    assert all(r.rate == pytest.approx((r.persons or 0) / r.cohort_size) for r in rows)


def py_sessions(truth: Truth, timeout: timedelta) -> list[tuple[str, int, str]]:
    out = []
    for person, evs in by_person(truth).items():
        online = [e for e in evs if e.source != "csv"]
        last: datetime | None = None
        for e in online:
            if last is None or ms(e.at) - ms(last) > timeout.total_seconds() * 1000:
                out.append((person, ms(e.at), e.channel))
            last = e.at
    return out


def test_sessions_and_channels(data: Data) -> None:
    expected = py_sessions(data.truth, timedelta(minutes=30))
    params = SessionParams(period=ALL, limit=1_000_000)
    got = [(s.person_id, ms(s.start), s.channel) for s in sessions(data.client, params)]
    assert sorted(got) == sorted(expected)
    by_channel = Counter(c for _, _, c in expected)
    assert {r.channel: r.sessions for r in channels(data.client, params)} == by_channel
    assert set(by_channel) == {"paid social", "paid search", "organic search", "social", "email",
                               "referral", "direct"}  # fmt: skip
    # A longer timeout merges sessions; the count matches the same rule in Python.
    longer = SessionParams(period=ALL, timeout=timedelta(hours=12))
    assert sum(r.sessions for r in channels(data.client, longer)) == len(
        py_sessions(data.truth, timedelta(hours=12))
    )


def test_session_keeps_entry_page_campaign_and_click_ids(data: Data) -> None:
    fb = next(e for e in data.truth.events if e.touch is not None and e.touch.key == "fb_spring"
              and e.person.startswith("u:"))  # fmt: skip
    rows = sessions(data.client, SessionParams(period=ALL, person_id=fb.person))
    session = next(s for s in rows if ms(s.start) == ms(fb.at))
    assert (session.utm_source, session.utm_medium, session.utm_campaign) == (
        "facebook",
        "paid_social",
        "spring_sale",
    )
    assert session.channel == "paid social" and set(session.click_ids) == {"fbclid"}
    assert session.entry_path.startswith("/") and "utm_source=facebook" in session.entry_url
    assert session.referrer == "https://l.facebook.com/"


def test_person_first_and_last_touch(data: Data) -> None:
    got = {p.person_id: p for p in person_touches(data.client, ALL, limit=1_000_000)}
    expected = {}
    for person, evs in by_person(data.truth).items():
        touches = [e for e in evs if e.touch is not None]
        if touches:
            expected[person] = (touches[0], touches[-1])
    assert set(got) == set(expected)
    for person, (first, last) in expected.items():
        assert ms(got[person].first.at) == ms(first.at)
        assert ms(got[person].last.at) == ms(last.at)
        assert got[person].first.channel == first.channel
        assert got[person].last.utm_campaign == (last.touch.utm_campaign if last.touch else "")


def test_top_events(data: Data) -> None:
    rows = top(data.client, TopParams(period=ALL, kind="events", limit=1000))
    counts: Counter[str] = Counter()
    persons: dict[str, set[str]] = defaultdict(set)
    for e in data.truth.events:
        key = e.event if e.type == "track" else f"${e.type}"
        counts[key] += 1
        if e.person:
            persons[key].add(e.person)
    assert {r.value: (r.events, r.persons) for r in rows} == {
        k: (v, len(persons[k])) for k, v in counts.items()
    }
    pages = top(data.client, TopParams(period=ALL, kind="pages", limit=3))
    assert len(pages) == 3 and pages[0].events >= pages[1].events >= pages[2].events
    refs = {r.value for r in top(data.client, TopParams(period=ALL, kind="referrers", limit=50))}
    assert "google.com" in refs and "shop.example" not in refs


# ---- identity -------------------------------------------------------------------------------


def test_identity_links_and_guards(data: Data) -> None:
    rows = data.client.query("SELECT anonymous_id, user_id FROM identity_map").result_rows
    mapping = {str(a): str(u) for a, u in rows}
    assert mapping == data.truth.links  # late identify, alias, earliest link; no placeholders
    assert "anonymous" not in mapping and "null" not in mapping
    assert person_of(data.client, anonymous_id="app-device-1") == "u:user-alias"
    assert person_of(data.client, anonymous_id="shared-kiosk") == "u:user-kiosk-a"
    assert person_of(data.client, anonymous_id="anonymous") == ""
    assert person_of(data.client, anonymous_id="x", user_id="undefined") == "a:x"
    junk = data.client.query(
        "SELECT count() FROM identity_links "
        "WHERE NOT footfall_valid_id(user_id) OR NOT footfall_valid_id(anonymous_id)"
    ).result_rows
    assert junk == [(0,)]


def test_conflicting_links_are_recorded_not_merged(data: Data) -> None:
    links = identity_conflicts(data.client)
    assert [(c.anonymous_id, c.user_id, c.is_mapping) for c in links] == [
        ("shared-kiosk", "user-kiosk-a", True),
        ("shared-kiosk", "user-kiosk-b", False),
    ]
    # The resolved view agrees with the library: B's own purchase stays B's.
    rows = data.client.query("SELECT DISTINCT person_id FROM events_resolved "
                             "WHERE anonymous_id = 'shared-kiosk'").result_rows  # fmt: skip
    assert sorted(r[0] for r in rows) == ["u:user-kiosk-a", "u:user-kiosk-b"]


def test_channel_rules(data: Data) -> None:
    cases = [  # (utm_source, utm_medium, referrer, page_url, click id column) -> channel
        ("google", "cpc", "", "https://s.example/", "", "paid search"),
        ("", "", "", "https://s.example/?gclid=1", "gclid", "paid search"),
        ("bing", "ppc", "", "https://s.example/", "", "paid search"),
        ("facebook", "cpc", "", "https://s.example/", "", "paid social"),
        ("linkedin", "paid_social", "", "https://s.example/", "", "paid social"),
        ("", "", "https://www.tiktok.com/", "https://s.example/", "ttclid", "paid social"),
        ("", "", "https://duckduckgo.com/", "https://s.example/", "", "organic search"),
        ("", "", "https://t.co/x", "https://s.example/", "", "social"),
        ("", "", "https://m.facebook.com/", "https://s.example/", "fbclid", "social"),
        ("newsletter", "email", "", "https://s.example/", "", "email"),
        ("partner", "", "", "https://s.example/", "", "referral"),
        ("", "", "https://news.example.net/a", "https://s.example/", "", "referral"),
        ("", "", "https://www.s.example/x", "https://s.example/", "", "direct"),
        ("", "", "", "https://s.example/", "", "direct"),
    ]
    for src, med, ref, url, click, channel in cases:
        ids = {c: ("1" if c == click else "") for c in
               ("gclid", "gbraid", "wbraid", "msclkid", "fbclid", "ttclid")}  # fmt: skip
        got = data.client.query(
            "SELECT footfall_channel({s:String}, {m:String}, {r:String}, {u:String}, {g:String}, "
            "{gb:String}, {wb:String}, {ms:String}, {fb:String}, {tt:String})",
            parameters={"s": src, "m": med, "r": ref, "u": url, "g": ids["gclid"],
                        "gb": ids["gbraid"], "wb": ids["wbraid"], "ms": ids["msclkid"],
                        "fb": ids["fbclid"], "tt": ids["ttclid"]}).result_rows  # fmt: skip
        assert got == [(channel,)], (src, med, ref, click)


def test_naive_datetimes_are_utc(data: Data, monkeypatch: pytest.MonkeyPatch) -> None:
    # The host runs in UTC, so pretend it does not: a naive time read as local time would then
    # move the period by 9 hours. MID has no padding, so such a shift changes the answer.
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        naive = Period(MID.start.replace(tzinfo=None), MID.end.replace(tzinfo=None))
        shifted = Period(MID.start - timedelta(hours=9), MID.end - timedelta(hours=9))
        as_utc = top(data.client, TopParams(period=MID, limit=50))
        assert top(data.client, TopParams(period=shifted, limit=50)) != as_utc  # can tell
        assert top(data.client, TopParams(period=naive, limit=50)) == as_utc
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
