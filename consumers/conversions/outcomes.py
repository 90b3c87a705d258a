"""What an ad platform is to the uploader: the Platform protocol, built payloads and outcomes.

Outcomes per conversion: delivered, duplicate (the platform already had it: delivered), retry
(with a floor from Retry-After / retryDelay), dead (never retried: the DLQ, with the platform's
reason), solo (a whole batch was refused for one bad event: resend one by one to find it), taken
(Google: the click second is held by another conversion; move to a free second, click_slots.py).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from consumers.conversions.model import Conversion, Match


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | duplicate | retry | dead | solo | taken
    reason: str = ""
    detail: str = ""
    delay: float = 0.0  # retry: at least this long (Retry-After)
    throttled: bool = False  # retry: a rate limit (longer base)
    alert: bool = False  # needs a human: credentials, permissions, unknown action


@dataclass
class Built:
    payload: dict[str, Any] | None = None
    skip: str = ""  # nothing this platform can match on: not an error
    dead: str = ""  # can never be accepted (expired, no value ...)
    detail: str = ""
    notes: list[str] = field(default_factory=list)


class Platform(Protocol):
    name: str
    account: str
    batch_size: int

    def build(self, conv: Conversion, match: Match, now: datetime) -> Built: ...
    def request(self, payloads: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]: ...
    def headers(self) -> dict[str, str]: ...
    def redact(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def classify(self, response: httpx.Response, count: int) -> list[Outcome]: ...


def retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 0.0
