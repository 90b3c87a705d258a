"""Per-event cost of the collection policy (eventschema.collection_policy) on the API's path.

`python bench/collection_policy_bench.py`: judge + event_messages of 100-event batches of a
browser tracker's page event (with a query string, campaign touches, the connection's IP),
with the policy applied and with it skipped, in µs per event (best of several rounds). Twice:
every event on the same page (the stripper remembers clean URLs), and every URL different.
"""

import itertools
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from eventschema import EventCodec
from producer_api import ingest
from producer_api.ingest import RequestContext, event_messages, judge

PAGE: dict[str, Any] = {
    "type": "page",
    "anonymousId": "3f1c1a8e-6a55-4d1e-9a3b-6b1f2b7c9d10",
    "timestamp": "2026-11-29T12:00:00.000Z",
    "properties": {"path": "/p/1", "url": "https://shop.example/p/1?utm_source=fb&ref=x"},
    "context": {
        "library": {"name": "footfall.js", "version": "1.0.0"},
        "page": {
            "url": "https://shop.example/p/1?utm_source=fb&ref=x",
            "path": "/p/1",
            "search": "?utm_source=fb&ref=x",
            "referrer": "https://www.facebook.com/",
            "title": "Product",
        },
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36",
        "locale": "en-GB",
        "lastTouch": {"utm_source": "fb", "url": "https://shop.example/?utm_source=fb"},
        "firstTouch": {"utm_source": "fb", "url": "https://shop.example/?utm_source=fb"},
    },
}
CODEC = EventCodec()


def unique(n: int) -> dict[str, Any]:
    """PAGE with its own URLs (a new query string each time it is called)."""
    text = orjson.dumps(PAGE).decode().replace("ref=x", f"ref={n}").replace('fb"', f'fb{n}"')
    return dict(orjson.loads(text))


def per_event_us(batches: Callable[[], list[Any]], rounds: int = 7, number: int = 50) -> float:
    def one_batch() -> None:
        request = RequestContext(datetime.now(UTC), "203.0.113.77", None, 60_000)
        result = judge(batches(), {}, request)
        event_messages(result.accepted, CODEC, "events")

    best = min(timeit.repeat(one_batch, number=number, repeat=rounds))
    return best / (number * 100) * 1e6


def main() -> None:
    counter = itertools.count()
    cases: dict[str, Callable[[], list[Any]]] = {
        "same page": lambda: [PAGE] * 100,
        "unique URLs": lambda: [unique(next(counter)) for _ in range(100)],
    }
    for name, batches in cases.items():
        if name == "unique URLs":  # building the batch is timed too: measure it alone
            build = min(timeit.repeat(batches, number=50, repeat=7)) / (50 * 100) * 1e6
        else:
            build = 0.0
        with_policy = per_event_us(batches) - build
        applied = ingest.__dict__["apply"]
        setattr(ingest, "apply", lambda _event, _policy: None)  # noqa: B010 (the "before")
        try:
            without = per_event_us(batches) - build
        finally:
            setattr(ingest, "apply", applied)  # noqa: B010
        print(f"{name}: {without:.2f} µs/event without the policy, {with_policy:.2f} with it "
              f"(+{with_policy - without:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
