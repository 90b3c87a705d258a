"""What the synthetic data generator (generate.py) draws from and what it records: the stored
columns it fills, the campaigns visits arrive through, how much a person does (Profile), and
the ground truth (Truth) that tests compute every report from."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from eventschema.stored_columns import CLICK_ID_COLUMNS, KAFKA_COLUMNS, UTM_COLUMNS

# The stored columns (eventschema.stored_columns) the generator fills, in the order of its rows;
# the table's DEFAULTs fill the rest.
COLUMNS: tuple[str, ...] = (
    "message_id", "type", "event", "anonymous_id", "user_id", "previous_id", "timestamp",
    "received_at", "page_url", "page_path", "page_referrer", *UTM_COLUMNS, *CLICK_ID_COLUMNS,
    "properties", "source", *KAFKA_COLUMNS,
)  # fmt: skip
SITE = "https://shop.example"
SECTIONS = ("cameras", "lenses", "blog", "support")
START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class Campaign:
    key: str
    channel: str  # what footfall_channel must say (docs/analytics.md)
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    referrer: str = ""
    click_id: tuple[str, str] | None = None  # (column, prefix)


CAMPAIGNS = (
    Campaign("fb_spring", "paid social", "facebook", "paid_social", "spring_sale",
             "https://l.facebook.com/", ("fbclid", "fb")),
    Campaign("fb_retarget", "paid social", "facebook", "cpc", "retarget", "", ("fbclid", "fb")),
    Campaign("google_brand", "paid search", "google", "cpc", "brand", "https://www.google.com/",
             ("gclid", "gc")),
    Campaign("tiktok", "paid social", "", "", "", "https://www.tiktok.com/", ("ttclid", "tt")),
    Campaign("organic", "organic search", referrer="https://www.google.com/"),
    Campaign("bing_organic", "organic search", referrer="https://www.bing.com/search"),
    Campaign("instagram", "social", referrer="https://l.instagram.com/"),
    Campaign("newsletter", "email", "newsletter", "email", "weekly"),
    Campaign("blog", "referral", referrer="https://blog.example.org/best-cameras"),
    Campaign("direct", "direct"),
)  # fmt: skip
WEIGHTS = (14, 6, 10, 4, 14, 4, 8, 8, 7, 25)


@dataclass
class TruthEvent:
    person: str  # 'u:<user>' or 'a:<anonymous id>', what identity must resolve to ('' = none)
    at: datetime
    type: str
    event: str
    source: str
    message_id: str
    channel: str  # the campaign's channel for an entry event, else 'direct'
    touch: Campaign | None  # the campaign of an entry event (None for direct / not an entry)
    section: str
    revenue: float
    utm_source: str


@dataclass
class Truth:
    events: list[TruthEvent] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)  # anon -> user ids, oldest first
    links: dict[str, str] = field(default_factory=dict)  # anon -> user id (the mapping)


@dataclass(frozen=True)
class Profile:
    """How much one person does: the number of visits (sessions) is drawn from `visits`; in a
    visit after registering, each event is a purchase with chance `order_rate`."""

    visits: tuple[int, ...]
    order_rate: float


# Tests: about 13 events per person and many purchases, so small data sets take every path.
BRIEF = Profile(visits=(1, 1, 2, 2, 3, 4, 6), order_rate=0.3)
# The benchmark: about 100 events per person (10M events = 100k persons), purchases rarer.
LOYAL = Profile(visits=tuple(range(8, 37)), order_rate=0.03)
