"""The SDK stays installable without the server: importing it, validating and encoding an event
loads nothing from the server's packages or its server-only dependencies (sdk/pyproject.toml
ships footfall_sdk + eventschema with httpx, orjson, confluent-kafka, fastavro and phonenumbers
only)."""

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER_ONLY = (
    "chdb", "clickhouse_connect", "starlette", "uvicorn", "prometheus_client", "tqdm",
    "argon2", "itsdangerous",
    "producer_api", "consumers", "footfall", "footfall_analytics", "csv_import", "demo", "adfakes",
)  # fmt: skip


def test_the_sdk_imports_and_encodes_without_server_packages() -> None:
    script = textwrap.dedent(f"""
        import sys
        for name in {SERVER_ONLY!r}:
            sys.modules[name] = None  # importing any of them now raises ImportError
        from footfall_sdk import Client, KafkaEventProducer, RequestIdASGIMiddleware
        producer = KafkaEventProducer("127.0.0.1:1", delivery_timeout=1)
        event = producer.validate({{"type": "track", "event": "Signed Up", "userId": "u1"}})
        assert producer._codec.encode(event.to_record())
        loaded = {{m.split(".")[0] for m, module in sys.modules.items() if module is not None}}
        assert loaded.isdisjoint({SERVER_ONLY!r}), loaded
        print("ok")
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_the_sdk_distribution_declares_only_what_a_back_end_needs() -> None:
    import tomllib

    project = tomllib.loads((REPO / "sdk" / "pyproject.toml").read_text())
    names = [
        dep.split(">")[0].split("<")[0].split("=")[0] for dep in project["project"]["dependencies"]
    ]
    # phonenumbers: the SDK's producer hashes phones in traits as the API does (pii_rules).
    assert names == ["httpx", "orjson", "confluent-kafka", "fastavro", "phonenumbers"]
    assert project["project"]["name"] == "footfall-sdk"
    assert project["tool"]["setuptools"]["packages"] == [
        "footfall_sdk",
        "eventschema",
        "eventschema.avro",
    ]
