"""`footfall up --kafka-sasl`: the local broker with SCRAM logins and ACLs, one user per process.

Each child gets only its own user's FOOTFALL_KAFKA_* variables: the API writes events, the sink
reads them, the conversions uploader reads them and keeps its ledger. The passwords live in
<data_dir>/secrets/kafka_users.json (0600), because SCRAM users are created only when the
broker's storage is first formatted; a data dir formatted without --kafka-sasl has none.
"""

import json
from collections.abc import Mapping
from pathlib import Path

from eventschema.kafka_contract import Topics
from footfall.broker import BrokerError, LocalBroker
from footfall.kafka_acls import api_acls, create_acls, sink_acls, uploader_acls
from footfall.kafka_auth import BrokerAuth
from footfall_analytics.server.keyfiles import secrets_dir, write_private

CHILD_USERS = {"api": "api", "sink": "sink", "conversions": "uploader"}  # child -> Kafka user


def users_file(data_dir: Path) -> Path:
    return secrets_dir(data_dir) / "kafka_users.json"


def load_auth(data_dir: Path, broker: LocalBroker) -> BrokerAuth:
    """The users this data dir's broker was formatted with, made (and saved) on first use."""
    path = users_file(data_dir)
    if path.exists():
        return BrokerAuth(json.loads(path.read_text()))
    if broker.is_formatted():
        raise BrokerError(
            f"{broker.storage_dir} was formatted without --kafka-sasl, so it has no Kafka "
            "users; use a fresh FOOTFALL_DATA_DIR for a SASL broker"
        )
    auth = BrokerAuth.generate(CHILD_USERS.values())
    write_private(path, json.dumps(dict(auth.passwords), indent=2))
    return auth


def child_env(auth: BrokerAuth, child: str) -> dict[str, str]:
    """The child's own login; children that never talk to Kafka get none."""
    user = CHILD_USERS.get(child)
    return auth.env(user) if user else {}


def grant(broker: LocalBroker, prefix: str, env: Mapping[str, str]) -> None:
    """Create every user's ACLs (idempotent). `env` is the children's environment, for the
    group names they will use."""
    topics = Topics.for_prefix(prefix)
    sink_group = env.get("FOOTFALL_SINK_GROUP") or "footfall-clickhouse-sink"
    uploader_group = env.get("FOOTFALL_CONVERSIONS_GROUP") or "footfall-conversions"
    acls = api_acls("api", topics) + sink_acls("sink", topics, sink_group)
    # The uploader's topic names as consumers/conversions/config.py makes them.
    ledger, dead_letter = f"{prefix}conversions_ledger", f"{prefix}conversions_dlq"
    acls += uploader_acls("uploader", topics, uploader_group, sink_group, ledger, dead_letter)
    create_acls(broker.bootstrap, acls, broker.client_env)
