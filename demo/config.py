"""Demo settings, read from the environment (FOOTFALL_DEMO_* and the API's address)."""

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TRACKER = REPO / "tracker" / "dist" / "footfall.min.js"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _first_server_key() -> str:
    # The API's own default is dev-write-key; follow FOOTFALL_WRITE_KEYS when it is set.
    keys = [k.strip() for k in _env("FOOTFALL_WRITE_KEYS", "dev-write-key").split(",")]
    return next((k for k in keys if k), "dev-write-key")


@dataclass(frozen=True)
class DemoSettings:
    host: str
    port: int
    api_url: str  # where the browser and the back end send events
    browser_key: str  # public, shipped in the pages; the API allows it for the shop's origin
    server_key: str = field(repr=False)  # secret, used by the back end only, never in a page
    tracker_src: str  # <script src>: the API's /t.js, or the shop's own copy (/footfall.min.js)
    tracker_path: Path  # the built tracker the shop serves as /footfall.min.js

    @classmethod
    def from_env(cls) -> "DemoSettings":
        api_url = _env("FOOTFALL_DEMO_API_URL", _default_api_url()).rstrip("/")
        return cls(
            host=_env("FOOTFALL_DEMO_HOST", "127.0.0.1"),
            port=int(_env("FOOTFALL_DEMO_PORT", "8090")),
            api_url=api_url,
            browser_key=_env("FOOTFALL_DEMO_WRITE_KEY", "pk_demo"),
            server_key=_env("FOOTFALL_DEMO_SERVER_KEY", _first_server_key()),
            tracker_src=_env("FOOTFALL_DEMO_TRACKER_SRC", f"{api_url}/t.js"),
            tracker_path=Path(_env("FOOTFALL_TRACKER_PATH", str(DEFAULT_TRACKER))),
        )


def _default_api_url() -> str:
    host = _env("FOOTFALL_API_HOST", "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{host}:{_env('FOOTFALL_API_PORT', '8080')}"
