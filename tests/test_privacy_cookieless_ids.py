"""Cookieless visitor ids (issue 13, point 6), the API's part without Kafka: how `judge` derives
an anonymousId for a marked event, and the daily salt files (producer_api.salts) several API
processes share, rotate and delete. The pipeline test is tests/test_privacy_cookieless.py."""

import hashlib
import hmac
import multiprocessing
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from producer_api.cookieless import VisitorIds, visitor_id
from producer_api.ingest import RequestContext, judge
from producer_api.salts import SALT_BYTES, DailySalts

DAY = date(2026, 11, 30)
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def ids(
    salts: DailySalts, day: date = DAY, ip: str = "198.51.100.7", ua: str = UA, **kw: Any
) -> VisitorIds:
    return VisitorIds(salts, day, ip, ua, kw.get("origin"), kw.get("key", "pk_shop"))


def judged(messages: list[Any], visitor: VisitorIds, day: date = DAY) -> list[dict[str, Any]]:
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    request = RequestContext(at, visitor.ip, None, 100, visitor_ids=visitor)
    result = judge(messages, {}, request)
    assert not result.rejected, [r.as_dict() for r in result.rejected]
    return [
        {"anon": e.anonymous_id, "user": e.user_id, "context": e.context} for e in result.accepted
    ]


def page(url: str = "https://shop-a.example/p", **fields: Any) -> dict[str, Any]:
    return {"type": "page", "context": {"cookieless": True, "page": {"url": url}}, **fields}


def test_a_marked_event_gets_the_documented_hmac_and_keeps_its_marker(tmp_path: Path) -> None:
    salts = DailySalts(tmp_path)
    [event] = judged([page()], ids(salts, origin="https://Shop-A.example:8443"))
    salt = (tmp_path / DAY.isoformat()).read_bytes()
    data = f"198.51.100.7\n{UA}\nshop-a.example".encode()
    expected = "ck-" + hmac.new(salt, data, hashlib.sha256).hexdigest()[:32]
    assert event["anon"] == expected
    assert event["context"]["cookieless"] is True  # queries can tell the mode
    assert salt.hex() not in repr(event)


def test_user_id_is_kept_and_the_derived_id_added(tmp_path: Path) -> None:
    visitor = ids(DailySalts(tmp_path))
    [anon, known] = judged([page(), page(userId="u-1")], visitor)
    assert known["user"] == "u-1"
    assert known["anon"] == anon["anon"] and anon["anon"].startswith("ck-")


def test_the_site_is_the_origin_else_the_page_host_else_the_key(tmp_path: Path) -> None:
    salts = DailySalts(tmp_path)
    salt = salts.salt_for(DAY)
    by_origin = judged([page("https://other.example/")], ids(salts, origin="https://a.example"))
    by_page = judged([page("https://a.example/x?q=1")], ids(salts, origin="null"))
    by_key = judged([{"type": "page", "context": {"cookieless": True}}], ids(salts, key="pk_a"))
    assert (
        by_origin[0]["anon"]
        == by_page[0]["anon"]
        == visitor_id(salt, "198.51.100.7", UA, "a.example")
    )
    assert by_key[0]["anon"] == visitor_id(salt, "198.51.100.7", UA, "pk_a")


def test_ip_user_agent_and_site_each_change_the_id(tmp_path: Path) -> None:
    salts = DailySalts(tmp_path)
    one = judged([page(), page()], ids(salts))
    assert one[0]["anon"] == one[1]["anon"]
    others = [
        judged([page()], ids(salts, ip="198.51.100.8"))[0]["anon"],
        judged([page()], ids(salts, ua=UA + " Edge"))[0]["anon"],
        judged([page("https://shop-b.example/p")], ids(salts))[0]["anon"],
    ]
    assert len({one[0]["anon"], *others}) == 4


def test_unmarked_or_already_identified_events_are_left_as_sent(tmp_path: Path) -> None:
    visitor = ids(DailySalts(tmp_path))
    plain = {"type": "track", "event": "x", "userId": "u-2"}
    own = page(anonymousId="a-own")
    text_marker = {"type": "track", "event": "x", "userId": "u-3", "context": {"cookieless": "1"}}
    events = judged([plain, own, text_marker], visitor)
    assert [e["anon"] for e in events] == [None, "a-own", None]
    assert not (tmp_path / DAY.isoformat()).exists(), "no salt made when no event needs one"


def test_a_new_day_gives_a_new_id_and_deletes_salts_older_than_yesterday(tmp_path: Path) -> None:
    salts = DailySalts(tmp_path)
    day1, day2, day3 = DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)
    first = judged([page()], ids(salts, day1), day1)[0]["anon"]
    assert judged([page()], ids(salts, day1), day1)[0]["anon"] == first
    second = judged([page()], ids(salts, day2), day2)[0]["anon"]
    assert second != first
    assert sorted(p.name for p in tmp_path.iterdir()) == [day1.isoformat(), day2.isoformat()]
    third = judged([page()], ids(salts, day3), day3)[0]["anon"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [day2.isoformat(), day3.isoformat()]
    assert len({first, second, third}) == 3
    # Another process started after the deletion cannot recompute day 1's ids.
    assert judged([page()], ids(DailySalts(tmp_path), day1), day1)[0]["anon"] != first


def _salt_in_new_process(directory: str) -> bytes:
    return DailySalts(Path(directory)).salt_for(DAY)


def test_concurrent_processes_agree_on_one_salt_file(tmp_path: Path) -> None:
    directory = tmp_path / "shared" / "cookieless"
    with multiprocessing.get_context("fork").Pool(6) as pool:
        salts = pool.map(_salt_in_new_process, [str(directory)] * 24)
    assert len(set(salts)) == 1 and len(salts[0]) == SALT_BYTES
    files = list(directory.iterdir())
    assert [f.name for f in files] == [DAY.isoformat()], "no temporary file left behind"
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
