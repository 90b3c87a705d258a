"""What Footfall keeps of an event: the IP policy and the personal-data rules (docs/privacy.md).

`CollectionPolicy.from_env` reads the settings once at start (ValueError naming the variable:
the process does not start); `apply(event, policy)` is the one entry point the API, the SDK's
Kafka producer and the CSV import call after validation and before encoding, so nothing of
what the policy removes ever reaches Kafka. `apply_message` does the same to a raw message the
API refused, before it goes to the quarantine topic. No Starlette here: the SDK ships this.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from eventschema import ip_policy, pii_rules
from eventschema.model import Event
from eventschema.secret_settings import secret_setting

DEFAULT_STRIP_PARAMS = frozenset(
    ("email", "e-mail", "mail", "token", "access_token", "auth", "password", "pass", "pwd",
     "secret", "key", "api_key", "apikey", "session", "sessionid", "phone", "tel")
)  # fmt: skip
ROOTS = ("properties", "traits", "context")
_PAGE_URLS = ("url", "search", "referrer")
_TOUCH_URLS = ("url", "referrer")
_CONTEXT_URLS = (("page", _PAGE_URLS), ("lastTouch", _TOUCH_URLS), ("firstTouch", _TOUCH_URLS))
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class CollectionPolicy:
    ip: str = ip_policy.TRUNCATE
    drop_fields: tuple[pii_rules.Path, ...] = ()
    hash_fields: tuple[pii_rules.Path, ...] = ()
    hmac_key: bytes = field(default=b"", repr=False)  # a secret: never in a repr or a log
    hash_contacts: bool = True
    phone_region: str | None = None  # for national phone numbers without a country in traits
    strip_params: frozenset[str] = DEFAULT_STRIP_PARAMS

    def __post_init__(self) -> None:
        if self.hash_fields and not self.hmac_key:
            raise ValueError(
                "FOOTFALL_PII_HASH_FIELDS needs a key: set FOOTFALL_PII_HMAC_KEY "
                "(or FOOTFALL_PII_HMAC_KEY_FILE)"
            )

    @cached_property
    def hasher(self) -> pii_rules.Change:
        return pii_rules.hmac_hasher(self.hmac_key)

    @cached_property
    def stripper(self) -> pii_rules.UrlStripper:
        return pii_rules.UrlStripper(self.strip_params)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "CollectionPolicy":
        strip = env.get("FOOTFALL_URL_STRIP_PARAMS")
        region = env.get("FOOTFALL_CONVERSIONS_DEFAULT_REGION", "").strip().upper()
        return cls(
            ip=ip_policy.parse_policy(env.get("FOOTFALL_IP_POLICY", "")),
            drop_fields=_paths(env, "FOOTFALL_PII_DROP_FIELDS"),
            hash_fields=_paths(env, "FOOTFALL_PII_HASH_FIELDS"),
            hmac_key=secret_setting(env, "FOOTFALL_PII_HMAC_KEY").encode(),
            hash_contacts=_flag(env, "FOOTFALL_PII_HASH_CONTACT", True),
            phone_region=region or None,
            strip_params=DEFAULT_STRIP_PARAMS if strip is None else _names(strip),
        )


DEFAULT_POLICY = CollectionPolicy()


def apply(event: Event, policy: CollectionPolicy) -> None:
    """Apply the policy to `event` in place (its objects are replaced, never modified)."""
    event.properties, event.traits, event.context = _objects(
        event.properties, event.traits, event.context, policy
    )


def apply_message(message: Any, policy: CollectionPolicy) -> Any:
    """A raw (refused) message with the policy applied to those of its objects that are dicts."""
    if not isinstance(message, dict):
        return message
    found = [message.get(name) for name in ROOTS]
    objects = [value if isinstance(value, dict) else None for value in found]
    properties, traits, context = _objects(objects[0], objects[1], objects[2], policy)
    out = dict(message)
    for name, value, new in zip(ROOTS, objects, (properties, traits, context), strict=True):
        if value is not None:
            out[name] = new
    return out


Objects = tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]


def _objects(
    properties: dict[str, Any] | None,
    traits: dict[str, Any] | None,
    context: dict[str, Any] | None,
    policy: CollectionPolicy,
) -> Objects:
    # Plain locals, not a dict of roots, when no field rule is set (the default): the API
    # applies this to every event (docs/performance.md).
    if policy.drop_fields or policy.hash_fields:
        properties, traits, context = _field_rules(properties, traits, context, policy)
    if policy.hash_contacts:  # emails and phones in traits and in context.traits
        region = policy.phone_region
        if traits is not None:
            traits = pii_rules.hash_contacts(traits, region)
        if context is not None and "traits" in context:
            context = pii_rules.edit(
                context,
                ("traits",),
                lambda v: pii_rules.hash_contacts(v, region) if isinstance(v, dict) else v,
            )
    strip = policy.stripper
    if properties is not None:
        properties = pii_rules.strip_urls(properties, _PAGE_URLS, strip)
    return properties, traits, _context(context, policy.ip, strip)


Roots = dict[str, dict[str, Any] | None]


def _field_rules(
    properties: dict[str, Any] | None,
    traits: dict[str, Any] | None,
    context: dict[str, Any] | None,
    policy: CollectionPolicy,
) -> Objects:
    """FOOTFALL_PII_DROP_FIELDS, then FOOTFALL_PII_HASH_FIELDS."""
    roots = {"properties": properties, "traits": traits, "context": context}
    for path in policy.drop_fields:
        _edit_root(roots, path, pii_rules.dropped)
    for path in policy.hash_fields:
        _edit_root(roots, path, policy.hasher)
    return roots["properties"], roots["traits"], roots["context"]


def _edit_root(roots: Roots, path: pii_rules.Path, change: pii_rules.Change) -> None:
    """Apply `change` at `path`; a rule on traits.X also covers context.traits.X, where some
    SDKs send traits."""
    paths = [path, ("context", *path)] if path[0] == "traits" else [path]
    for root, *rest in paths:
        obj = roots[root]
        if obj is not None:
            roots[root] = pii_rules.edit(obj, tuple(rest), change)


def _context(
    context: dict[str, Any] | None, ip_rule: str, strip: pii_rules.UrlStripper
) -> dict[str, Any]:
    out = dict(context) if context else {}
    ip = out.pop("ip", None)
    kept = None if ip is None else ip_policy.kept_ip(ip, ip_rule)
    if kept is not None:
        out["ip"] = kept
    out["ip_policy"] = ip_rule  # the uploader sends only a full address (docs/privacy.md)
    for key, fields in _CONTEXT_URLS:
        value = out.get(key)
        if isinstance(value, dict):
            out[key] = pii_rules.strip_urls(value, fields, strip)
    return out


def _paths(env: Mapping[str, str], name: str) -> tuple[pii_rules.Path, ...]:
    paths = []
    for text in env.get(name, "").split(","):
        path = tuple(part.strip() for part in text.strip().split("."))
        if path == ("",):
            continue
        if len(path) < 2 or path[0] not in ROOTS or not all(path):
            raise ValueError(
                f"{name}: {text.strip()!r} is not a field path like properties.ssn "
                f"(it starts with one of {', '.join(ROOTS)})"
            )
        paths.append(path)
    return tuple(paths)


def _names(text: str) -> frozenset[str]:
    return frozenset(name.strip().lower() for name in text.split(",") if name.strip())


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value not in _TRUE + _FALSE:
        raise ValueError(f"{name}={value!r}: use true or false")
    return value in _TRUE
