"""SCRAM users for a local SASL broker and the FOOTFALL_KAFKA_* env that logs in as one of them.

The client listener speaks SASL_PLAINTEXT with SCRAM-SHA-512 (loopback only; use SASL_SSL across
hosts). The controller listener stays PLAINTEXT on 127.0.0.1: KRaft controllers cannot check
SCRAM passwords (they live in the metadata log the controller serves), so its connections
arrive as User:ANONYMOUS, which must be a super user; no client listener accepts ANONYMOUS.
"""

import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eventschema.kafka_contract import KafkaCluster, client_config

ADMIN = "admin"
MECHANISM = "SCRAM-SHA-512"
LISTENER = "SASL_PLAINTEXT"


def sasl_env(user: str, password: str, mechanism: str = MECHANISM) -> dict[str, str]:
    """The environment that makes a Footfall process log in as `user` (kafka_contract reads it)."""
    return {
        "FOOTFALL_KAFKA_SECURITY_PROTOCOL": LISTENER,
        "FOOTFALL_KAFKA_SASL_MECHANISM": mechanism,
        "FOOTFALL_KAFKA_SASL_USERNAME": user,
        "FOOTFALL_KAFKA_SASL_PASSWORD": password,
    }


@dataclass(frozen=True, repr=False)  # no repr: it holds passwords
class BrokerAuth:
    """SCRAM users the storage is formatted with (only on the first format); `admin` is the
    super user that creates topics and ACLs."""

    passwords: Mapping[str, str]

    @classmethod
    def generate(cls, users: Iterable[str]) -> "BrokerAuth":
        # token_urlsafe never contains ',', '=' or ']', which --add-scram would misparse.
        return cls({name: secrets.token_urlsafe(24) for name in {ADMIN, *users}})

    def env(self, user: str) -> dict[str, str]:
        return sasl_env(user, self.passwords[user])

    def format_args(self) -> list[str]:
        # On the format tool's command line for its second or two: fine on a one-user dev box.
        args: list[str] = []
        for name, password in sorted(self.passwords.items()):
            args += ["--add-scram", f"{MECHANISM}=[name={name},password={password}]"]
        return args

    def properties(self, host: str, port: int, controller_port: int) -> dict[str, str]:
        jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required"
        jaas += f' username="{ADMIN}" password="{self.passwords[ADMIN]}";'
        return {
            "listeners": f"{LISTENER}://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"{LISTENER}://{host}:{port}",
            "inter.broker.listener.name": LISTENER,
            "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{LISTENER}:{LISTENER}",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            f"listener.name.{LISTENER.lower()}.{MECHANISM.lower()}.sasl.jaas.config": jaas,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN};User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        }


def admin_config(bootstrap: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings of the runner's admin clients, as the user `env` names (an admin's on a SASL
    broker); None: the runner's own environment, read here, where each admin call is made."""
    return client_config(KafkaCluster.from_env(bootstrap, os.environ if env is None else env))
