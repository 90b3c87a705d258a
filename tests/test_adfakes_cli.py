"""README "Try it with the local fakes": `python -m adfakes` serves both fakes on the given ports
and prints the uploader's settings; with them the uploader sends a purchase there, and
`python -m adfakes list` shows what each accepted. Real broker, sink and uploader processes."""

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adfakes.harness import REPO, UploaderProcess
from footfall.broker import find_free_ports
from tests.support.sink import Sink, produce
from tests.test_conversions_upload import ev, purchase, visit, wait_for


@pytest.fixture
def fakes_process() -> Iterator[tuple[dict[str, str], list[str]]]:
    """`python -m adfakes` on two free ports: the settings it printed, and the list command."""
    meta_port, google_port = find_free_ports(2)
    ports = ["--meta-port", str(meta_port), "--google-port", str(google_port)]
    proc = subprocess.Popen([sys.executable, "-m", "adfakes", *ports], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        found: dict[str, str] = {}
        assert proc.stdout is not None
        while "FOOTFALL_GOOGLE_ADS_BASE_URL" not in found:
            line = proc.stdout.readline()
            assert line, "python -m adfakes exited"
            if line.startswith("FOOTFALL_") and "=" in line:
                name, value = line.strip().split("=", 1)
                found[name] = value
        yield found, [sys.executable, "-m", "adfakes", "list", *ports]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def listed(command: list[str]) -> list[dict[str, object]]:
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_the_fakes_run_as_a_command_and_list_what_the_uploader_sent(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
    fakes_process: tuple[dict[str, str], list[str]],
) -> None:  # fmt: skip
    settings, list_command = fakes_process
    assert listed(list_command) == []
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path)
    sink.start()
    worker = UploaderProcess(kafka_bootstrap, topic_prefix, sink.url, tmp_path, None, None,
                             {**settings, "FOOTFALL_CONVERSIONS_START_FROM": "enable",
                              "FOOTFALL_CONVERSIONS_CLIENT_SIGNALS": "user_agent"})  # fmt: skip
    try:
        worker.start()
        now = datetime.now(UTC)
        order, anon = f"try-{uuid.uuid4().hex[:6]}", f"v-{uuid.uuid4().hex[:6]}"
        produce(kafka_bootstrap, f"{topic_prefix}events", [
            visit(anon, now - timedelta(minutes=30), "G-TRY", "F-TRY"),
            ev("identify", now - timedelta(minutes=20), anonymous_id=anon,
               traits={"email": "buyer@example.com"}),
            purchase(order, now + timedelta(seconds=1), anonymous_id=anon),
        ])  # fmt: skip
        wait_for(lambda: len(listed(list_command)) == 2, 90, "both platforms to accept")
        rows = listed(list_command)
    finally:
        worker.stop()
        sink.stop()
    by_platform = {str(row["platform"]): row for row in rows}
    assert sorted(by_platform) == ["google", "meta"] and len(rows) == 2
    assert by_platform["google"]["orderId"] == order and by_platform["google"]["gclid"] == "G-TRY"
    meta = by_platform["meta"]
    assert meta["custom_data"] == {"value": 49.5, "currency": "EUR", "order_id": order}
    assert meta["action_source"] == "website"
