"""A Starlette Request whose headers are looked up in a dict, for the tracking routes.

Starlette's `Headers.get` scans the raw header list and encodes the name on every call, and a
tracking request reads its headers about eight times (key, origin, user agent, length, encoding,
proxy headers): ~10 % of our code's CPU for a one-event request (docs/performance.md). The index is
built once; the first occurrence of a repeated header wins, as in Starlette.
"""

from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request


class IndexedHeaders(Headers):
    def __init__(self, scope: Any) -> None:
        super().__init__(scope=scope)
        index: dict[bytes, bytes] = {}
        for name, value in reversed(self.raw):
            index[name] = value
        self._index = index

    def get(self, key: str, default: Any = None) -> Any:
        value = self._index.get(key.lower().encode("latin-1"))
        return default if value is None else value.decode("latin-1")

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower().encode("latin-1")].decode("latin-1")

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower().encode("latin-1") in self._index


class TrackingRequest(Request):
    @property
    def headers(self) -> Headers:
        headers = self.__dict__.get("_headers")
        if headers is None:
            headers = self._headers = IndexedHeaders(self.scope)
        return headers
