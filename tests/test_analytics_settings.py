"""The analytics server's and the runner's settings are read once, at start: a value that does
not parse stops the process there, naming the variable, instead of failing later."""

import pytest

from footfall.config import RunConfig
from footfall_analytics.server.settings import CliSettings, ServerSettings


def test_a_port_that_is_not_a_number_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="FOOTFALL_ANALYTICS_PORT"):
        ServerSettings.load({"FOOTFALL_ANALYTICS_PORT": "81x5"})
    with pytest.raises(ValueError, match="FOOTFALL_SINK_HTTP_PORT"):
        ServerSettings.load({"FOOTFALL_SINK_HTTP_PORT": "eighty"})
    with pytest.raises(ValueError, match="FOOTFALL_API_PORT"):
        RunConfig.from_env(environ={"FOOTFALL_API_PORT": "80 80"})


def test_unset_or_empty_means_the_default() -> None:
    settings = ServerSettings.load({"FOOTFALL_ANALYTICS_PORT": "", "FOOTFALL_SINK_HTTP_HOST": ""})
    assert (settings.host, settings.port) == ("127.0.0.1", 8125)
    assert settings.sink_url == "http://127.0.0.1:8124" and settings.database == "footfall"
    assert settings.analytics_dsn is None and settings.server_dsn is None
    assert settings.conversions_url == "http://127.0.0.1:8126" and not settings.https_only
    assert CliSettings.load({}).server_url == "http://127.0.0.1:8125"


def test_a_clickhouse_server_dsn_is_used_but_not_a_chdb_path() -> None:
    server = ServerSettings.load({"FOOTFALL_CLICKHOUSE_DSN": "http://ch:8123"})
    assert server.server_dsn == "http://ch:8123"
    chdb = ServerSettings.load({"FOOTFALL_CLICKHOUSE_DSN": "chdb:///var/lib/footfall"})
    assert chdb.server_dsn is None
