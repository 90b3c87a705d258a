"""`footfall up --kafka-sasl`: a SCRAM broker with ACLs, and each child logs in as its own user.
Stand-in servers replace the children; their environments are read from /proc."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from eventschema.kafka_contract import KafkaCluster, client_config
from footfall.broker import BrokerError, LocalBroker, find_free_ports, metadata_ok
from footfall.kafka_local import load_auth, users_file
from footfall.paths import repo_root

STANDIN = f"{sys.executable} -m tests.support.standin_server"
CHILDREN = {"api": "FOOTFALL_API_PORT", "sink": "FOOTFALL_SINK_HTTP_PORT",
            "demo": "FOOTFALL_DEMO_PORT", "analytics": "FOOTFALL_ANALYTICS_PORT"}  # fmt: skip


def _child_env(data_dir: Path, name: str) -> dict[str, str]:
    pid = json.loads((data_dir / "up.json").read_text())["children"][name]["pid"]
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_up_kafka_sasl_gives_each_child_its_own_login(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTFALL_KAFKA_")}
    env["FOOTFALL_DATA_DIR"] = str(data_dir)
    for (name, port_var), port in zip(CHILDREN.items(), find_free_ports(4), strict=True):
        env[port_var] = str(port)
        env[f"FOOTFALL_{name.upper()}_CMD"] = f"{STANDIN} {port_var}"
    kafka_port, controller_port = find_free_ports(2)
    args = ["--kafka-port", str(kafka_port), "--controller-port", str(controller_port)]
    out_path = tmp_path / "up.out"
    with out_path.open("w") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "footfall", "up", *args, "--kafka-sasl"],
            env=env, cwd=repo_root(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "Footfall is running" not in out_path.read_text():
            assert up.poll() is None and time.monotonic() < deadline, out_path.read_text()
            time.sleep(0.3)

        users_file = data_dir / "secrets" / "kafka_users.json"
        assert users_file.stat().st_mode & 0o077 == 0
        passwords = json.loads(users_file.read_text())
        assert sorted(passwords) == ["admin", "api", "sink", "uploader"]

        for child, user in (("api", "api"), ("sink", "sink")):
            child_env = _child_env(data_dir, child)
            assert child_env["FOOTFALL_KAFKA_SASL_USERNAME"] == user
            assert child_env["FOOTFALL_KAFKA_SASL_PASSWORD"] == passwords[user]
        assert "FOOTFALL_KAFKA_SASL_USERNAME" not in _child_env(data_dir, "demo")

        bootstrap = f"127.0.0.1:{kafka_port}"
        assert not metadata_ok(bootstrap, timeout=3, env={})  # no login, no service
        admin_env = {
            "FOOTFALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "FOOTFALL_KAFKA_SASL_USERNAME": "admin",
            "FOOTFALL_KAFKA_SASL_PASSWORD": passwords["admin"],
        }
        topics = (
            AdminClient(client_config(KafkaCluster.from_env(bootstrap, admin_env)))
            .list_topics(timeout=10)
            .topics
        )
        assert {"events", "events_quarantine", "events_dlq"} <= set(topics)
        output = out_path.read_text()
        assert [user for user, pw in passwords.items() if pw in output] == []
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(120) == 0


def test_a_data_dir_formatted_without_sasl_is_refused(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path / "kafka")
    broker.storage_dir.mkdir(parents=True)
    (broker.storage_dir / "meta.properties").write_text("")  # formatted, so no SCRAM users
    with pytest.raises(BrokerError, match="without --kafka-sasl"):
        load_auth(tmp_path, broker)
    assert not users_file(tmp_path).exists()
