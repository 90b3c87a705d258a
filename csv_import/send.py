"""Post converted rows to the API's /v1/import in batches, within its request limits.

5xx and 429 answers are retried with exponential backoff, waiting at least what Retry-After
says; the messageIds are deterministic, so a retried batch cannot create duplicates. Events the
API refuses come back by index and are reported by their line in the file.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import orjson

from csv_import.rows import Converted, RowError

# The API takes 500 KiB and 2,500 events per request; stay clearly below both.
MAX_BATCH_BYTES = 400 * 1024
MAX_BATCH_EVENTS = 500


class SendError(Exception):
    """The API did not take a batch after all retries, or refused it as a whole."""


@dataclass
class BatchResult:
    accepted: int
    bad_rows: list[RowError]


@dataclass
class Sender:
    api_url: str
    key: str
    attempts: int = 8
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    def post(self, rows: list[Converted]) -> BatchResult:
        body = b'{"batch":[' + b",".join(orjson.dumps(r.message) for r in rows) + b"]}"
        url = self.api_url.rstrip("/") + "/v1/import"
        headers = {"content-type": "application/json"}
        for attempt in range(self.attempts):
            try:
                response = self.client.post(url, content=body, headers=headers, auth=(self.key, ""))
            except httpx.TransportError as error:
                reason = f"cannot reach {url}: {error}"
                retry_after = None
            else:
                if response.status_code < 300 or response.status_code == 400:
                    return _result(response, rows)
                if response.status_code != 429 and response.status_code < 500:
                    raise SendError(f"API answered {response.status_code}: {response.text[:300]}")
                reason = f"API answered {response.status_code}"
                retry_after = _seconds(response.headers.get("retry-after"))
            if attempt + 1 < self.attempts:
                self.sleep(max(retry_after or 0.0, min(self.max_backoff, 0.5 * 2**attempt)))
        raise SendError(f"gave up after {self.attempts} attempts: {reason}")

    def close(self) -> None:
        self.client.close()


class Batcher:
    """Collects rows until the next one would make the request too big."""

    def __init__(self) -> None:
        self.rows: list[Converted] = []
        self._bytes = 0

    def add(self, row: Converted) -> list[Converted] | None:
        """Adds the row; returns a full batch to send first, if there is one."""
        size = len(orjson.dumps(row.message)) + 1
        full = None
        if self.rows and (
            self._bytes + size > MAX_BATCH_BYTES or len(self.rows) >= MAX_BATCH_EVENTS
        ):
            full = self.take()
        self.rows.append(row)
        self._bytes += size
        return full

    def take(self) -> list[Converted]:
        rows, self.rows, self._bytes = self.rows, [], 0
        return rows


def _result(response: httpx.Response, rows: list[Converted]) -> BatchResult:
    try:
        body = response.json()
    except ValueError:
        raise SendError(f"API answered {response.status_code} without JSON") from None
    errors = body.get("errors") if isinstance(body, dict) else None
    if response.status_code == 400 and not isinstance(errors, list):
        raise SendError(f"API refused the batch: {body}")
    bad = [
        RowError(rows[e["index"]].line, str(e.get("message", e.get("code", "refused"))))
        for e in errors or []
        if isinstance(e, dict) and isinstance(e.get("index"), int) and 0 <= e["index"] < len(rows)
    ]
    accepted = body.get("accepted", 0) if isinstance(body, dict) else 0
    return BatchResult(accepted if isinstance(accepted, int) else 0, bad)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
