"""The conversions ledger's pure decisions: the key it files an order under and what counts as
done. Written for mutation testing (docs/testing.md). Everything that talks to Kafka (load,
refresh, record) is tested only against the real broker (test_conversions_upload.py,
test_kafka_delivery.py): no stand-in for Kafka, not even here."""

import pytest

from consumers.conversions.ledger import Ledger, key


def test_key_joins_platform_account_and_order() -> None:
    assert key("meta", "act_1", "o-9") == "meta|act_1|o-9"


def _ledger_with(entries: dict[str, dict[str, object]]) -> Ledger:
    # done() reads only the entries: no Kafka client is made (none is needed, none is faked).
    ledger = Ledger.__new__(Ledger)
    ledger.entries = entries
    return ledger


@pytest.mark.parametrize(
    ("entry", "done"),
    [
        ({"status": "ok"}, True),
        ({"status": "duplicate"}, True),
        ({"status": "failed"}, False),
        ({"status": "OK"}, False),
        ({}, False),
        (None, False),
    ],
)
def test_done_means_accepted_or_already_there(entry: dict[str, object] | None, done: bool) -> None:
    ledger = _ledger_with({} if entry is None else {"meta|a|1": entry})
    assert ledger.done("meta|a|1") is done
    assert ledger.done("meta|a|2") is False
