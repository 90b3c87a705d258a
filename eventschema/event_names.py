"""When two event names are the same event, and which events are conversions.

ONE definition for the API (which refuses conversions from browser keys) and the uploader (which
sends conversions to ad platforms): if the two compared names differently, a browser could send a
spelling the API lets through and the uploader still takes for a purchase.

`canonical_event_name` is a comparison key, never shown or stored. It keeps only letters and
digits, so case, spacing (any Unicode space), separators (`_ - . /`), camel case, invisible
characters (zero-width space and joiner, soft hyphen) and accents make no difference; NFKC folds
full-width, ligature and mathematical letters; a map folds the common Cyrillic, Greek and digit
look-alikes of Latin letters to them. The map is not all of Unicode's confusables, and need not
be: a spelling it misses is not a conversion for the uploader either, so it is stored as a plain
event and never uploaded. Folding too much only refuses a few odd names from browser keys.
"""

import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

# Browsers must not send these, and they are what the uploader sends to the ad platforms.
DEFAULT_CONVERSION_EVENTS = ("Order Completed", "purchase", "paid")
# The API reads the first name, the uploader the second; both lists mean the same thing, and
# setting only one of them sets both (so they cannot drift apart by a forgotten variable).
CONVERSION_EVENT_ENVS = ("FOOTFALL_SERVER_ONLY_EVENTS", "FOOTFALL_CONVERSIONS_EVENTS")

# Look-alikes -> the Latin letter they pass for, by case (before folding: Greek Η is H, η is n).
_LOOK_ALIKES = str.maketrans(
    "АВСЕНІЈКМОРЅТХУԚԜӀ" "авсԁеһніӏјкморԛѕтухԝьгп"  # Cyrillic
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧϹ" "αβγεηικμνορστυχωϲ"  # Greek
    "ıȷɑɡɩ",  # Latin letters that pass for others
    "ABCEHIJKMOPSTXYQWI" "abcdehhiijkmopqstyxwbrn"
    "ABEZHIKMNOPTYXC" "abyenikuvopotuxwc"
    "ijagi",
    "\u3164\u115f\u1160",  # Hangul fillers: letters that print as nothing
)  # fmt: skip
# After folding: digits and letters that pass for one another in lower case.
_FOLDED = str.maketrans("01l", "oii")
_PAIRS = (("rn", "m"), ("vv", "w"))  # two letters that read as one


@lru_cache(maxsize=2048)  # a site has few event names; ~4 µs each uncached, per event
def canonical_event_name(name: str) -> str:
    """The key two names share when they are one event: "OrderCompleted", "order_completed",
    "ORDER-COMPLETED", "Order\\u00a0Completed" and "Оrder Cоmpleted" (Cyrillic О) all give
    "ordercompieted"."""
    # NFKD: compatibility forms to plain letters, accents split off (and dropped with every
    # other mark, space or separator); again after casefold, which can make new ones ("İ").
    text = unicodedata.normalize("NFKD", name).translate(_LOOK_ALIKES).casefold()
    text = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")
    skeleton = kept.translate(_FOLDED)
    for pair, single in _PAIRS:
        skeleton = skeleton.replace(pair, single)
    return skeleton


def conversion_events(names: Iterable[str]) -> frozenset[str]:
    """Canonical keys of `names`; an empty name would match nothing, so it is left out."""
    return frozenset(key for key in map(canonical_event_name, names) if key)


def conversion_event_names(env: Mapping[str, str]) -> tuple[str, ...]:
    """The configured conversion (server-only) events: a comma-separated list in either variable
    of CONVERSION_EVENT_ENVS (both, if set, must agree), else DEFAULT_CONVERSION_EVENTS."""
    lists = {name: _split(env[name]) for name in CONVERSION_EVENT_ENVS if name in env}
    if len({conversion_events(names) for names in lists.values()}) > 1:
        raise ValueError(f"{' and '.join(lists)} name different events: set one of them")
    return next(iter(lists.values()), DEFAULT_CONVERSION_EVENTS)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())
