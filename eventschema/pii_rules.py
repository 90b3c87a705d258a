"""Personal-data rules on an event's objects: drop or HMAC named fields, hash contact traits,
strip query parameters from URLs.

Every function is copy-on-write: it returns the object it was given when nothing changes, and
new dicts along the changed path otherwise. The caller's dicts are never modified (an SDK
caller's own data; the batch-level `context` the API shares between the events of a batch).
"""

import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import orjson

from eventschema import contact_hashing as h

_DROP = object()  # a change's answer: remove the field
_CONTACT_KEYS = frozenset(h.EMAIL_KEYS + h.PHONE_KEYS)
Path = tuple[str, ...]
Change = Callable[[Any], Any]


def edit(obj: dict[str, Any], path: Path, change: Change) -> dict[str, Any]:
    """`obj` with the value at `path` replaced by change(value) (or removed: _DROP)."""
    key = path[0]
    if key not in obj:
        return obj
    value = obj[key]
    if len(path) > 1:
        if not isinstance(value, dict):
            return obj
        new = edit(value, path[1:], change)
        return obj if new is value else {**obj, key: new}
    result = change(value)
    if result is value:
        return obj
    copy = dict(obj)
    if result is _DROP:
        del copy[key]
    else:
        copy[key] = result
    return copy


def dropped(_value: Any) -> Any:
    return _DROP


def hmac_hasher(key: bytes) -> Change:
    """HMAC-SHA256 hex of the value (its JSON when not a string); null stays null."""

    def change(value: Any) -> Any:
        if value is None:
            return None
        return hmac.new(key, _text(value).encode(), hashlib.sha256).hexdigest()

    return change


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # an int beyond 64 bits, nesting beyond orjson's limit
        return repr(value)


# -- contact traits --------------------------------------------------------------------------


def hash_contacts(traits: dict[str, Any], region: str | None) -> dict[str, Any]:
    """Emails and phones (eventschema.contact_hashing key names) hashed as Meta hashes them,
    plus Google's hash under `<key>_sha256_google` when it differs; 64-hex values pass."""
    if _CONTACT_KEYS.isdisjoint(traits):
        return traits  # the common case: no contact data in this event
    out = dict(traits)
    region = _region(traits) or region
    for key in h.EMAIL_KEYS:
        _hash_into(out, key, h.meta_email, h.google_email)
    for key in h.PHONE_KEYS:
        _hash_into(out, key, lambda v: _meta_phone(v, region), lambda v: h.e164(v, region))
    return out


def _hash_into(
    out: dict[str, Any],
    key: str,
    meta: Callable[[str], str | None],
    google: Callable[[str], str | None],
) -> None:
    if key not in out:
        return
    value = out[key]
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        if value is not None:  # an object or list: nothing hashable, and never kept plain
            del out[key]
        return
    if not value.strip() or h.is_hashed(value.strip()):
        return
    stored = h.sha256_hex(meta(value) or "")
    out[key] = stored
    alternate = google(value)
    if alternate and (alt := h.sha256_hex(alternate)) != stored:
        out[key + h.GOOGLE_SUFFIX] = alt


def _meta_phone(value: str, region: str | None) -> str:
    # A number that does not parse cannot match an ad platform; it is still never kept plain.
    return h.meta_phone(value, region) or re.sub(r"\D", "", value) or value.strip()


def _region(traits: dict[str, Any]) -> str | None:
    address = traits.get("address")
    country = address.get("country") if isinstance(address, dict) else None
    return country.strip() if isinstance(country, str) and len(country.strip()) == 2 else None


# -- URLs ----------------------------------------------------------------------------------


_CLEAN_URLS = 4096


class UrlStripper:
    """Removes the query parameters named in `names` (any case) from URLs, and the same names
    from a fragment that carries parameters: `#access_token=...&token_type=bearer` (OAuth's
    implicit flow, magic links) or `#/reset?token=...` (a hash router's query). A fragment
    without `=` is an anchor (`#top`) and is kept."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = frozenset(name.lower() for name in names)
        # A quick test of a whole URL, exact for names without % or + (those are decoded on
        # the slow path): most URLs hold only UTM parameters, click ids and anchors.
        alternatives = "|".join(re.escape(name) for name in sorted(self.names, key=len)[::-1])
        # Searched in the lowercased URL: case-insensitive matching is twice as slow.
        self._candidate = re.compile(rf"[?&#](?:{alternatives or '(?!)'})(?:[=&#]|$)")
        # URLs found to hold nothing to strip: an event repeats its page URL (page, properties)
        # and its campaign touches, and a visitor's events repeat them. Only clean URLs are
        # remembered, so no secret is kept; bounded by clearing when full.
        self.clean: set[str] = set()

    def __call__(self, url: str) -> str:
        if not has_parameters(url) or url in self.clean:  # the hot path
            return url
        start = _first_mark(url)
        plain = url.find("%", start) < 0 and url.find("+", start) < 0
        if plain and not self._candidate.search(url.lower()):
            if len(self.clean) >= _CLEAN_URLS:
                self.clean.clear()
            self.clean.add(url)
            return url
        before_fragment, hash_mark, fragment = url.partition("#")
        head, question, query = before_fragment.partition("?")
        kept_query = _kept(query, self.names) if question else query
        kept_fragment = _stripped_fragment(fragment, self.names)
        if kept_query == query and kept_fragment == fragment:
            return url  # nothing named: the URL as sent, byte for byte
        # A query or fragment left empty goes with its mark.
        return (
            head
            + ("?" + kept_query if kept_query else "")
            + ("#" + kept_fragment if kept_fragment or (hash_mark and not fragment) else "")
        )


def has_parameters(url: str) -> bool:
    """Whether `url` has a query or a fragment, the only places parameters are stripped from."""
    return "?" in url or "#" in url


def _first_mark(url: str) -> int:
    marks = [index for index in (url.find("?"), url.find("#")) if index >= 0]
    return min(marks) if marks else len(url)


def _kept(query: str, names: frozenset[str]) -> str:
    """`query` (name=value&...) without the named parameters; unchanged when none is named."""
    parts = query.split("&")
    kept = [part for part in parts if _param_name(part) not in names]
    return query if len(kept) == len(parts) else "&".join(kept)


def _stripped_fragment(fragment: str, names: frozenset[str]) -> str:
    route, question, query = fragment.partition("?")
    if question:  # a hash router's route and query: #/reset?token=...
        kept = _kept(query, names)
        return fragment if kept == query else route + ("?" + kept if kept else "")
    if "=" in fragment:  # parameters only: #access_token=...&token_type=bearer
        return _kept(fragment, names)
    return fragment  # an anchor


def _param_name(part: str) -> str:
    return unquote_plus(part.partition("=")[0]).strip().lower()


def strip_urls(obj: dict[str, Any], keys: tuple[str, ...], strip: UrlStripper) -> dict[str, Any]:
    """`obj` with the URL strings under `keys` stripped."""
    out = obj
    clean = strip.clean  # looked up here: a call per URL costs more than the set lookup
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and has_parameters(value) and value not in clean:
            stripped = strip(value)
            if stripped != value:
                out = dict(out) if out is obj else out
                out[key] = stripped
    return out
