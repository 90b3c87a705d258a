"""POST /privacy/delete on the sink's HTTP server: the erasure request over HTTP (issue 13).

Body: JSON {"user_id": ...} or {"anonymous_id": ...}, optionally "reason". It does what
`footfall privacy delete` does: resolves the person (eventschema.person, on one of the sink's
read-only sessions) and writes the request to the suppression topic, acked; the sink's loop then
deletes the rows and writes the audit log. Answer 202 with the request id.

Only an erasure key may ask (FOOTFALL_ERASURE_KEYS, keys or sha256:<hex> digests like read
keys; none configured: every request is refused). Deleting cannot be undone, so a read key, which
only reads, does not suffice, and a write key (browser or server) never does: write keys are not
looked at here. The audit log names the key by the first hex digits of its SHA-256 digest.
"""

import logging
from typing import Any

import orjson

from consumers.clickhouse_sink.query_service import Busy, QueryService
from eventschema import person
from eventschema.kafka_contract import KafkaCluster
from eventschema.kafka_delivery import DeliveryFailed
from eventschema.read_access import ReadKeys, digest_entry, presented_key
from eventschema.suppressions import Request, publish

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 10_000
MAX_ID_CHARS = 1_000
Answer = tuple[int, dict[str, object]]


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"code": code, "message": message}


class ErasureEndpoint:
    def __init__(self, keys: ReadKeys, queries: QueryService, kafka: KafkaCluster, topic: str,
                 timeout: float = 10.0) -> None:  # fmt: skip
        self.keys = keys
        self.queries = queries
        self.kafka = kafka
        self.topic = topic
        self.timeout = timeout

    def handle(self, authorization: str | None, body: bytes) -> Answer:
        if not self.keys:
            return _error(403, "erasure_disabled", "no erasure key is configured "
                          "(FOOTFALL_ERASURE_KEYS); use `footfall privacy delete`")  # fmt: skip
        key = presented_key(authorization)
        if key is None or not self.keys.check(key):
            message = "send Authorization: Bearer <erasure key> (FOOTFALL_ERASURE_KEYS)"
            return _error(401, "invalid_erasure_key", message + "; read and write keys may not")
        try:
            user_id, anonymous_id, reason = _parse(body)
        except ValueError as error:
            return _error(400, "bad_request", str(error))
        try:
            who = person.resolve(self._rows, user_id, anonymous_id)
        except person.PlaceholderId as error:
            return _error(400, "placeholder_id", str(error))
        except Busy:
            return _error(429, "busy", "all query sessions are busy; retry")
        request = Request.of(who, f"http:key-{digest_entry(key)[7:19]}", reason)
        try:
            publish(self.kafka, self.topic, request, self.timeout)
        except DeliveryFailed as error:
            log.error("erasure request not stored in %s: %s", self.topic, error)
            return _error(503, "kafka_unavailable", "the request was not stored; retry")
        ids = len(request.record_keys())
        return 202, {"request_id": request.request_id, "ids_suppressed": ids}

    def _rows(self, sql: str, **parameters: Any) -> list[dict[str, Any]]:
        body = self.queries.run(sql, "JSONEachRow", parameters)
        return [orjson.loads(line) for line in body.split(b"\n") if line]


def _parse(body: bytes) -> tuple[str | None, str | None, str]:
    """(user_id, anonymous_id, reason) of a request body; ValueError says what is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    given = {k: data.get(k) for k in ("user_id", "anonymous_id") if data.get(k) is not None}
    if len(given) != 1:
        raise ValueError("give exactly one of user_id or anonymous_id")
    [(name, value)] = given.items()
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise ValueError(f"{name} must be a non-empty string of at most {MAX_ID_CHARS} chars")
    reason = data.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 500:
        raise ValueError("reason must be a string of at most 500 chars")
    return (value, None, reason) if name == "user_id" else (None, value, reason)
