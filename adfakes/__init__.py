"""Local fakes of the Meta Conversions API and Google Ads uploadClickConversions (tests and dev).

Not production code. Each fake is a real HTTP server on a local port, as strict as the reference
(shared ad-platforms.md §3, §4) on paths, auth, body shape, hash format, time windows, batch limits
and error bodies, with scriptable faults, and it records what it accepted so tests can count.
"""

from adfakes.base import FakeServer, Fault
from adfakes.google import FakeGoogleAds
from adfakes.meta import FakeMeta

__all__ = ["Fault", "FakeGoogleAds", "FakeMeta", "FakeServer"]
