"""Start a real local broker for tests (footfall.broker on free ports)."""

from pathlib import Path

from footfall.broker import LocalBroker, find_free_ports
from footfall.kafka_auth import BrokerAuth


def start_broker(data_dir: Path, *, auth: BrokerAuth | None = None) -> LocalBroker:
    """A ready broker on fresh ports; the caller stops it. With `auth`: SASL/SCRAM and ACLs."""
    port, controller_port = find_free_ports(2)
    broker = LocalBroker(data_dir, port, controller_port, auth=auth)
    broker.start()
    try:
        broker.wait_ready()
    except BaseException:
        broker.stop()
        raise
    return broker
