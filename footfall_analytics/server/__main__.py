"""`python -m footfall_analytics.server [--dsn DSN | --sink-url URL] [--host H] [--port P]`.

Defaults come from the environment, read once by settings.py: FOOTFALL_ANALYTICS_HOST /
FOOTFALL_ANALYTICS_PORT [127.0.0.1 / 8125]; queries go to the sink's /query (chDB) or to
FOOTFALL_CLICKHOUSE_DSN when it is an http(s):// ClickHouse server. Who may read:
FOOTFALL_READ_KEYS, FOOTFALL_ALLOWED_HOSTS, the users in <data_dir>/secrets/users.json
(FOOTFALL_USERS_FILE), the session secret (FOOTFALL_SESSION_SECRET or
<data_dir>/secrets/session_key), FOOTFALL_ANALYTICS_HTTPS_ONLY=1."""

import argparse
import logging

from eventschema import http_serving
from footfall_analytics.server import create_app, open_source
from footfall_analytics.server.auth import AuthConfig
from footfall_analytics.server.settings import ServerSettings


def main() -> None:
    settings = ServerSettings.load()  # a bad value stops us here, naming the variable
    parser = argparse.ArgumentParser(prog="python -m footfall_analytics.server")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--dsn", help="http(s):// ClickHouse server or chdb:///path (read-only)")
    parser.add_argument("--sink-url", help="the sink's HTTP base URL (default from the env)")
    opts = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    auth = AuthConfig.from_settings(settings)  # before the source: a bad read-key entry stops us
    if not auth.read_keys:
        logging.getLogger("footfall_analytics.server").warning(
            "no read key configured (FOOTFALL_READ_KEYS): /api/ is for logged-in users only"
        )
    source = open_source(settings, opts.dsn, opts.sink_url)
    logging.getLogger("footfall_analytics.server").info("queries go to %s", source.description)
    try:
        app = create_app(source, auth, settings.conversions_url)
        http_serving.run(app, host=opts.host, port=opts.port, limits=settings.http)
    finally:
        source.close()


if __name__ == "__main__":
    main()
