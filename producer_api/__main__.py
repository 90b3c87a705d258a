"""`python -m producer_api`: serve the API with uvicorn on FOOTFALL_API_HOST:FOOTFALL_API_PORT."""

import logging

from eventschema import http_serving
from producer_api.app import create_app
from producer_api.config import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ValueError as error:  # a bad FOOTFALL_* value: say which, and do not start
        raise SystemExit(f"producer_api: {error}") from None
    # Slow-client timeouts, header size and connection limits: see eventschema.http_serving.
    http_serving.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        limits=settings.http,
        access_log=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=20,
        # The client IP comes from producer_api.clientip (trusted proxies only); uvicorn must not
        # rewrite the peer address from X-Forwarded-For on its own.
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
