"""Write the request bodies the wrk scripts send: realistic Segment events (~450 bytes each)."""

import sys
from pathlib import Path

import orjson


def event(index: int) -> dict[str, object]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "messageId": f"bench-{{{{REQ}}}}-{index:04d}",  # SDKs always send one; wrk fills {{REQ}}
        "anonymousId": f"bench-{index % 5000}",
        "timestamp": "2026-11-27T12:00:00.000Z",
        "properties": {
            "product_id": f"cam-{index % 300}",
            "price": 499.0,
            "currency": "EUR",
            "section": "similar-products",
        },
        "context": {
            "page": {
                "url": "https://shop.example/p/cam?utm_source=facebook&fbclid=IwAR2x",
                "path": "/p/cam",
                "referrer": "https://facebook.com/",
                "title": "Camera",
            },
            "campaign": {"source": "facebook", "medium": "paid_social", "name": "spring"},
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0",
            "library": {"name": "footfall.js", "version": "0.1.0"},
        },
    }


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = {"batch": [event(i) for i in range(50)], "sentAt": "2026-11-27T12:00:00.100Z"}
    (out_dir / "batch50.json").write_bytes(orjson.dumps(batch))
    (out_dir / "single.json").write_bytes(orjson.dumps(event(1)))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/.payloads"))
