"""Settings every server process shares (eventschema: HTTP limits, per-query limits) and the
consumers' settings: read once by each process's loader, unset or empty meaning the default, and
a value that does not parse stopping the start with a message naming the variable."""

import subprocess
import sys
from pathlib import Path

import pytest

from consumers.clickhouse_sink.config import SinkConfig
from consumers.conversions.config import ConversionsConfig
from eventschema.http_serving import HttpLimits
from eventschema.readonly_sql import QueryLimits
from footfall_analytics.server.settings import CliSettings, ServerSettings
from producer_api.config import Settings

REPO = Path(__file__).resolve().parents[1]


def test_http_limits_defaults_values_and_empty() -> None:
    assert HttpLimits.from_env({}) == HttpLimits(10.0, 20.0, 1000.0, 1000, 2048)
    limits = HttpLimits.from_env(
        {"FOOTFALL_HTTP_HEADER_TIMEOUT": "3.5", "FOOTFALL_HTTP_MAX_CONNECTIONS": "7",
         "FOOTFALL_HTTP_BACKLOG": "", "FOOTFALL_HTTP_BODY_MIN_RATE": "10"}
    )  # fmt: skip
    assert limits == HttpLimits(3.5, 20.0, 10.0, 7, 2048)


def test_query_limits_are_applied_limits_first_readonly_last() -> None:
    limits = QueryLimits.from_env(
        {"FOOTFALL_QUERY_MAX_SECONDS": "4", "FOOTFALL_QUERY_MAX_ROWS": ""}
    )
    assert limits == QueryLimits(4, 2_000_000_000, 1_000_000)
    settings = limits.read_only_settings()
    assert settings["max_execution_time"] == 4 and settings["result_overflow_mode"] == "throw"
    assert list(settings)[-1] == "readonly" and settings["readonly"] == 1


def test_every_process_reads_the_shared_limits_from_its_own_environ() -> None:
    env = {"FOOTFALL_HTTP_MAX_CONNECTIONS": "5", "FOOTFALL_QUERY_MAX_MEMORY": "1000000"}
    assert Settings.from_env(env).http.max_connections == 5
    server = ServerSettings.load(env)
    assert server.http.max_connections == 5 and server.query_limits.max_memory == 1_000_000
    assert CliSettings.load(env).query_limits.max_memory == 1_000_000
    assert SinkConfig.from_env(env).query_limits.max_memory == 1_000_000


@pytest.mark.parametrize(
    ("load", "name", "value"),
    [
        (HttpLimits.from_env, "FOOTFALL_HTTP_BODY_TIMEOUT", "soon"),
        (QueryLimits.from_env, "FOOTFALL_QUERY_MAX_SECONDS", "1.5"),
        (Settings.from_env, "FOOTFALL_HTTP_MAX_CONNECTIONS", "many"),
        (ServerSettings.load, "FOOTFALL_QUERY_MAX_ROWS", "all"),
        (SinkConfig.from_env, "FOOTFALL_SINK_BATCH_SIZE", "10k"),
        (SinkConfig.from_env, "FOOTFALL_QUERY_CONCURRENCY", "four"),
        (ConversionsConfig.from_env, "FOOTFALL_CONVERSIONS_MAX_PENDING", "lots"),
        (ConversionsConfig.from_env, "FOOTFALL_CONVERSIONS_RETRY_CAP", "15m"),
    ],
)
def test_a_value_that_does_not_parse_is_refused_naming_the_variable(
    load: object, name: str, value: str
) -> None:
    with pytest.raises(ValueError, match=name):
        load({name: value})  # type: ignore[operator]


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("consumers.clickhouse_sink", "FOOTFALL_QUERY_MAX_SECONDS"),
        ("consumers.conversions", "FOOTFALL_CONVERSIONS_HTTP_PORT"),
    ],
)
def test_a_consumer_with_a_bad_value_does_not_start(module: str, name: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "FOOTFALL_DATA_DIR": str(tmp_path), name: "abc"}
    done = subprocess.run(
        [sys.executable, "-m", module], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert name in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "clickhouse").exists()  # stopped before opening anything
