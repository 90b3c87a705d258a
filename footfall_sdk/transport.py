"""POST one batch to /v1/batch until the API takes it, refuses it for good, or time runs out."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import httpx
import orjson

from footfall_sdk.retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after

log = logging.getLogger("footfall_sdk")


class Outcome(Enum):
    DELIVERED = "delivered"  # 2xx: in Kafka (the API answers 2xx only after Kafka acked)
    REFUSED = "refused"  # 4xx other than 429: resending the same bytes cannot help
    GAVE_UP = "gave_up"  # retries or the shutdown deadline exhausted


@dataclass
class BatchResult:
    outcome: Outcome
    rejected: int = 0  # messages the API refused individually (quarantined server-side)


class BatchSender:
    def __init__(
        self,
        http: httpx.Client,
        url: str,
        write_key: str,
        policy: RetryPolicy,
        deadline: Callable[[], float | None],
        abort: threading.Event,
    ) -> None:
        self._http = http
        self._url = url
        self._auth = (write_key, "")  # Basic auth, empty password: what Segment SDKs send
        self._policy = policy
        self._deadline = deadline  # monotonic time after which waiting is pointless (shutdown)
        self._abort = abort

    def send(self, batch: list[dict[str, Any]]) -> BatchResult:
        attempt = 0
        while True:
            status, retry_after, answer = self._attempt(batch)
            if status is not None and 200 <= status < 300:
                return BatchResult(Outcome.DELIVERED, _log_rejections(answer, batch))
            if status is not None and status not in RETRYABLE_STATUS:
                _log_refusal(status, answer, batch)
                return BatchResult(Outcome.REFUSED, len(batch))
            delay = self._policy.delay(attempt, retry_after)
            if not self._may_wait(attempt, delay):
                log.error("footfall: gave up on %d events, %d attempts", len(batch), attempt + 1)
                return BatchResult(Outcome.GAVE_UP)
            log.warning("footfall: %s, retrying in %.1fs", status or "network error", delay)
            if self._abort.wait(delay):
                return BatchResult(Outcome.GAVE_UP)
            attempt += 1

    def _attempt(self, batch: list[dict[str, Any]]) -> tuple[int | None, float | None, Any]:
        # sentAt is fresh on every attempt, so the API's clock correction
        # (receivedAt - (sentAt - timestamp)) does not count the retry delay as clock skew.
        body = {"batch": batch, "sentAt": datetime.now(UTC).isoformat()}
        try:
            response = self._http.post(
                self._url,
                content=orjson.dumps(body),
                headers={"content-type": "application/json"},
                auth=self._auth,
            )
        except httpx.TransportError as error:
            log.debug("footfall: POST failed: %r", error)
            return None, None, None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return response.status_code, parse_retry_after(response.headers.get("retry-after")), answer

    def _may_wait(self, attempt: int, delay: float) -> bool:
        if attempt >= self._policy.max_retries:
            return False
        deadline = self._deadline()
        return deadline is None or time.monotonic() + delay < deadline


def _log_rejections(answer: Any, batch: list[dict[str, Any]]) -> int:
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if not isinstance(errors, list):
        return 0
    for error in errors:
        log.warning("footfall: event rejected: %s", _describe(error, batch))
    return len(errors)


def _log_refusal(status: int, answer: Any, batch: list[dict[str, Any]]) -> None:
    code = answer.get("code") if isinstance(answer, dict) else None
    message = answer.get("message") if isinstance(answer, dict) else None
    log.error("footfall: API refused %d events: %s %s: %s", len(batch), status, code, message)
    errors = answer.get("errors") if isinstance(answer, dict) else None
    for error in errors if isinstance(errors, list) else []:
        log.error("footfall: event rejected: %s", _describe(error, batch))


def _describe(error: Any, batch: list[dict[str, Any]]) -> str:
    if not isinstance(error, dict):
        return repr(error)
    index = error.get("index")
    message_id = None
    if isinstance(index, int) and 0 <= index < len(batch):
        message_id = batch[index].get("messageId")
    return (
        f"index={index} messageId={message_id} code={error.get('code')} "
        f"field={error.get('field')} {error.get('message')}"
    )
