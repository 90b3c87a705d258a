"""The client of the sink's read-only POST /query, written once.

chDB is held by the sink process, so every other process (the analytics server and CLI, the
conversions uploader) reads ClickHouse through this endpoint. Values never enter the SQL text:
they travel as `param_<name>` in the URL in ClickHouse's text form and are bound by ClickHouse
(`{name:Type}` in the SQL). A refusal keeps the sink's status, code and Retry-After.

Server side only (clickhouse-connect formats the values): the SDK never imports this module.
"""

from collections.abc import Mapping
from datetime import UTC
from typing import Any

import httpx
import orjson
from clickhouse_connect.driver.binding import format_bind_value


class SinkQueryError(RuntimeError):
    """ClickHouse refused or failed the query, or the sink could not be reached.

    `status` and `code` are the sink's answer (403 read_only, 429 busy, 401 ..._read_key; 400
    with no code for ClickHouse's errors; None when unreachable); `retry_after` is its
    Retry-After in seconds."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> "SinkQueryError":
        code = None
        message = response.text.strip()
        if response.headers.get("content-type", "").startswith("application/json"):
            try:
                doc = orjson.loads(response.content)
                code, message = str(doc["code"]), str(doc["message"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                pass
        return cls(message, response.status_code, code, response.headers.get("Retry-After"))


def bound(parameters: Mapping[str, Any] | None) -> dict[str, str]:
    """`param_<name>` URL parameters, each value in ClickHouse's text form."""
    return {
        f"param_{name}": format_bind_value(value, UTC) for name, value in (parameters or {}).items()
    }


class SinkQuery:
    """POST `endpoint` (the sink's .../query) with the read key; answers the body in `fmt`."""

    def __init__(self, endpoint: str, read_key: str | None = None, timeout: float = 60.0) -> None:
        self.endpoint = endpoint
        headers = {"Authorization": f"Bearer {read_key}"} if read_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)

    def post(self, sql: str, parameters: Mapping[str, Any] | None, fmt: str) -> bytes:
        params = {"format": fmt, **bound(parameters)}
        try:
            response = self._http.post(self.endpoint, params=params, content=sql.encode())
        except httpx.HTTPError as error:
            raise SinkQueryError(
                f"the sink's /query at {self.endpoint} is unreachable: {error}"
            ) from error
        if response.status_code != 200:
            raise SinkQueryError.from_response(response)
        return response.content

    def close(self) -> None:
        self._http.close()
