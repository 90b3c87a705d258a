"""The API's settings (producer_api/config.py): every FOOTFALL_* value the API reads is parsed in
one place, at start, and a value that does not parse stops the process with a message naming
the variable, instead of a traceback or a failure at the first request."""

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from eventschema.event_names import DEFAULT_CONVERSION_EVENTS
from eventschema.kafka_contract import DEFAULT_BOOTSTRAP, Topics
from producer_api.app import create_app
from producer_api.config import Settings
from producer_api.ratelimit import Rate
from tests.support.api import api_settings

REPO = Path(__file__).resolve().parents[1]
KEY = "settings-test-key"
MAPPING = orjson.dumps(
    {
        "event_column": "event",
        "user_id_column": "user_id",
        "timestamp_column": "at",
        "timezone": "UTC",
    }
).decode()


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap == DEFAULT_BOOTSTRAP
    assert settings.topics == Topics.for_prefix("")
    assert settings.write_keys == frozenset({"dev-write-key"})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert (settings.max_body_bytes, settings.max_batch_events) == (500 * 1024, 2500)
    assert (settings.delivery_timeout_seconds, settings.retry_after_seconds) == (10.0, 5)
    assert settings.browser_keys == {}
    assert settings.server_only_events == DEFAULT_CONVERSION_EVENTS
    assert (settings.key_rate, settings.ip_rate) == (Rate(1000, 5000), Rate(200, 2000))
    assert (settings.trusted_proxies, settings.client_ip_header) == ((), "x-forwarded-for")
    assert settings.tracker_path == REPO / "tracker" / "dist" / "footfall.min.js"
    assert settings.queue_max_messages == 100_000
    assert settings.max_csv_bytes == 1024**3


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "FOOTFALL_TOPIC_PREFIX": "p_",
            "FOOTFALL_WRITE_KEYS": " a , ,b",
            "FOOTFALL_API_PORT": "9999",
            "FOOTFALL_API_DELIVERY_TIMEOUT": "2.5",
            "FOOTFALL_BROWSER_KEYS": "pk=https://shop.example",
            "FOOTFALL_API_IP_RATE": "0",
            "FOOTFALL_TRUSTED_PROXIES": "10.0.0.0/8",
            "FOOTFALL_CLIENT_IP_HEADER": "X-Real-IP",
            "FOOTFALL_TRACKER_PATH": "/srv/t.js",
            "FOOTFALL_API_MAX_CSV_BYTES": "2048",
        }
    )
    assert settings.topics == Topics.for_prefix("p_")
    assert settings.write_keys == frozenset({"a", "b"})
    assert (settings.port, settings.delivery_timeout_seconds) == (9999, 2.5)
    assert settings.browser_keys == {"pk": ("https://shop.example",)}
    assert settings.ip_rate == Rate(0, 2000)
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8"]
    assert settings.client_ip_header == "x-real-ip"
    assert settings.tracker_path == Path("/srv/t.js")
    assert settings.max_csv_bytes == 2048


def test_an_empty_queue_size_means_the_default_and_zero_stays_zero() -> None:
    assert Settings.from_env({"FOOTFALL_API_QUEUE_MAX_MESSAGES": ""}).queue_max_messages == 100_000
    assert Settings.from_env({"FOOTFALL_API_QUEUE_MAX_MESSAGES": "0"}).queue_max_messages == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FOOTFALL_API_PORT", "abc"),
        ("FOOTFALL_API_PORT", ""),
        ("FOOTFALL_API_MAX_BODY_BYTES", "1.5"),
        ("FOOTFALL_API_DELIVERY_TIMEOUT", "soon"),
        ("FOOTFALL_API_KEY_BURST", "many"),
        ("FOOTFALL_API_QUEUE_MAX_MESSAGES", "lots"),
        ("FOOTFALL_API_MAX_CSV_BYTES", "1GiB"),
        ("FOOTFALL_TRUSTED_PROXIES", "10.0.0.300"),
        ("FOOTFALL_BROWSER_KEYS", "pk_without_origins"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value})


def test_the_api_refuses_to_start_with_a_bad_port() -> None:
    env = {"PATH": "/usr/bin:/bin", "FOOTFALL_API_PORT": "abc"}
    done = subprocess.run(
        [sys.executable, "-m", "producer_api"], cwd=REPO, env=env, capture_output=True, timeout=120
    )
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert "Config 'FOOTFALL_API_PORT' has value 'abc'. Not a valid int." in stderr
    assert "Traceback" not in stderr


def test_the_csv_limit_comes_from_the_settings(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = api_settings(kafka_bootstrap, topic_prefix, KEY, max_csv_bytes=64)
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/v1/import/csv",
            content=b"at,event,user_id\n" + b"2026-11-29T12:00:00Z,Clicked,u\n" * 10,
            auth=(KEY, ""),
            headers={"x-footfall-mapping": MAPPING},
        )
    assert answer.status_code == 413, answer.text
    assert answer.json()["message"] == "CSV body over 64 bytes (after gzip)"
