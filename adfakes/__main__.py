"""Try the uploader without ad accounts: local fakes of Meta CAPI and Google Ads.

    python -m adfakes --meta-port 8201 --google-port 8202     # serve both; prints the settings
    python -m adfakes list --meta-port 8201 --google-port 8202  # what each accepted

The fakes check what the real APIs check (adfakes/__init__.py); they keep what they accepted in
memory (GET /_fake/accepted on each) until they stop.
"""

import argparse
import json
import signal
import sys
import threading
from typing import Any

import httpx

from adfakes.base import LISTING
from adfakes.google import FakeGoogleAds
from adfakes.harness import (
    GOOGLE_ACTION,
    GOOGLE_CID,
    GOOGLE_DEV,
    GOOGLE_TOKEN,
    META_PIXEL,
    META_TOKEN,
)
from adfakes.meta import FakeMeta


def settings(meta_url: str, google_url: str) -> dict[str, str]:
    """The uploader's settings that point it at the fakes."""
    return {
        "FOOTFALL_META_PIXEL_ID": META_PIXEL,
        "FOOTFALL_META_ACCESS_TOKEN": META_TOKEN,
        "FOOTFALL_META_BASE_URL": meta_url,
        "FOOTFALL_GOOGLE_ADS_CUSTOMER_ID": GOOGLE_CID,
        "FOOTFALL_GOOGLE_ADS_CONVERSION_ACTION_ID": GOOGLE_ACTION,
        "FOOTFALL_GOOGLE_ADS_DEVELOPER_TOKEN": GOOGLE_DEV,
        "FOOTFALL_GOOGLE_ADS_ACCESS_TOKEN": GOOGLE_TOKEN,
        "FOOTFALL_GOOGLE_ADS_BASE_URL": google_url,
    }


def serve(host: str, meta_port: int, google_port: int) -> int:
    meta = FakeMeta({META_PIXEL: META_TOKEN}, host=host, port=meta_port).start()
    google = FakeGoogleAds({GOOGLE_CID: {GOOGLE_ACTION}}, GOOGLE_DEV, GOOGLE_TOKEN, host=host,
                           port=google_port).start()  # fmt: skip
    print(f"fake Meta CAPI on {meta.base_url}, fake Google Ads on {google.base_url}")
    print("Point the uploader at them (e.g. in .env, then `python -m footfall up`):")
    for name, value in settings(meta.base_url, google.base_url).items():
        print(f"{name}={value}")
    print(f"See what they accepted: python -m adfakes list --meta-port {meta_port} "
          f"--google-port {google_port}", flush=True)  # fmt: skip
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    meta.stop()
    google.stop()
    return 0


def listing(host: str, meta_port: int, google_port: int) -> int:
    """One JSON line per accepted event (Meta) or conversion (Google), with its platform."""
    for port in (meta_port, google_port):
        try:
            answer = httpx.get(f"http://{host}:{port}{LISTING}", timeout=5)
            answer.raise_for_status()
        except httpx.HTTPError as error:
            print(f"no fake on {host}:{port}: {error}", file=sys.stderr)
            return 1
        body: dict[str, Any] = answer.json()
        for row in body["accepted"]:
            print(json.dumps({"platform": body["platform"], **row}, sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adfakes")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "list"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--meta-port", type=int, default=8201)
    parser.add_argument("--google-port", type=int, default=8202)
    args = parser.parse_args(argv)
    if args.command == "list":
        return listing(args.host, args.meta_port, args.google_port)
    return serve(args.host, args.meta_port, args.google_port)


if __name__ == "__main__":
    sys.exit(main())
