"""The tracking routes' header index answers exactly as Starlette's Headers would."""

from starlette.datastructures import Headers

from producer_api.indexed_request import IndexedHeaders, TrackingRequest

RAW = [
    (b"host", b"shop.example"),
    (b"x-forwarded-for", b"203.0.113.7"),
    (b"user-agent", b"first"),
    (b"x-forwarded-for", b"198.51.100.1"),
    (b"user-agent", b"second"),
    (b"content-type", b"application/json"),
]
SCOPE = {"type": "http", "headers": RAW}


def test_lookups_match_starlette_for_every_name_and_case() -> None:
    indexed, plain = IndexedHeaders(SCOPE), Headers(scope=SCOPE)
    names = ["Host", "USER-AGENT", "x-forwarded-for", "Content-Type", "origin", "authorization"]
    for name in names:
        assert indexed.get(name) == plain.get(name), name
        assert indexed.get(name, "-") == plain.get(name, "-"), name
        assert (name in indexed) == (name in plain), name
    assert indexed["User-Agent"] == "first"  # the first of repeated headers, as Starlette
    assert indexed.getlist("x-forwarded-for") == ["203.0.113.7", "198.51.100.1"]


def test_a_missing_header_raises_key_error_like_starlette() -> None:
    indexed = IndexedHeaders(SCOPE)
    try:
        indexed["origin"]
    except KeyError:
        pass
    else:
        raise AssertionError("a missing header must raise KeyError")


def test_the_request_builds_its_index_once() -> None:
    request = TrackingRequest({**SCOPE, "method": "POST", "path": "/v1/track"})
    assert isinstance(request.headers, IndexedHeaders)
    assert request.headers is request.headers
    assert request.headers.get("host") == "shop.example"
