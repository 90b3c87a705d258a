"""Per-event CPU of the API's stages, in isolation: `python bench/api_stages_bench.py`.

The benchmark's 50-event batch (bench/make_payloads.py), as /v1/batch handles it: JSON parse,
judge (shared fields, cookieless ids, validation), the collection policy, Avro encode with the
headers, and produce() into a producer that never connects (the messages only enter
librdkafka's queue). µs per event, best of several rounds; run before and after a change,
alternating, on a quiet machine.
"""

import sys
import timeit
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.make_payloads import event  # noqa: E402
from eventschema import EventCodec  # noqa: E402
from eventschema.collection_policy import DEFAULT_POLICY, apply  # noqa: E402
from producer_api import ingest  # noqa: E402
from producer_api.cookieless import VisitorIds  # noqa: E402
from producer_api.ingest import RequestContext, batch_messages, judge  # noqa: E402
from producer_api.salts import DailySalts  # noqa: E402

N = 50
BODY = orjson.dumps(
    {
        "batch": [
            {**event(i), "messageId": f"bench-1-{i:04d}"}  # unique ids as wrk sends them
            for i in range(N)
        ],
        "sentAt": "2026-11-27T12:00:00.100Z",
    }
)
CODEC = EventCodec()
# A producer that never reaches a broker: produce() only fills librdkafka's queue.
QUEUE_ONLY = {
    "bootstrap.servers": "127.0.0.1:1",
    "queue.buffering.max.messages": 10**7,
    "queue.buffering.max.kbytes": 2**21,
    "linger.ms": 60_000,
    "log_level": 0,
}


def _request(salts: DailySalts) -> RequestContext:
    now = datetime.now(UTC)
    ids = VisitorIds(salts, date.today(), "203.0.113.77", "Mozilla/5.0", None, "dev")
    return RequestContext(now, "203.0.113.77", None, len(BODY), visitor_ids=ids)


def _best(fn: Any, number: int = 200, rounds: int = 7) -> float:
    return min(timeit.repeat(fn, number=number, repeat=rounds)) / (number * N) * 1e6


def main() -> None:
    salts = DailySalts(Path("/tmp/footfall-bench-salts"))
    request = _request(salts)
    payload = orjson.loads(BODY)
    messages, shared = batch_messages(payload, 500)
    accepted = judge(messages, shared, request).accepted
    producer = Producer(QUEUE_ONLY)
    outgoing = ingest.event_messages(accepted, CODEC, "events")

    def policy() -> None:
        for one in judge(messages, shared, request).accepted:
            apply(one, DEFAULT_POLICY)

    def produce() -> None:
        for m in outgoing:
            producer.produce(
                m.topic,
                value=m.value,
                key=m.key,
                headers=m.headers if isinstance(m.headers, list) else list(m.headers),
            )
        producer.purge()
        producer.poll(0)

    stages = {
        "parse (orjson.loads)": lambda: batch_messages(orjson.loads(BODY), 500),
        "judge (shared, cookieless, validate)": lambda: judge(messages, shared, request),
        "judge + policy": policy,
        "judge + policy + encode (event_messages)": lambda: ingest.event_messages(
            judge(messages, shared, request).accepted, CODEC, "events"
        ),
        "produce() + purge": produce,
    }
    for name, fn in stages.items():
        print(f"{name}: {_best(fn):.2f} µs/event")


if __name__ == "__main__":
    main()
