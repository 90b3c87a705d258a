"""Issue 12, point 2: `footfall up --brokers 3` runs a 3-node KRaft cluster from the same jars,
with the topics replicated 3 times and min.insync.replicas=2; a SIGKILLed node is restarted by the
main job while the API keeps accepting, and `down` leaves no JVM behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource  # not re-exported for the type checker

from footfall.paths import repo_root
from footfall.procs import pid_alive
from tests.support.consumed import wait_group_caught_up
from tests.support.load import Load, wait_until
from tests.support.main_job import WRITE_KEY, MainJob


def topic_settings(bootstrap: str, topic: str) -> tuple[int, str, str]:
    """(replicas per partition, min.insync.replicas, unclean.leader.election.enable)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    meta = admin.list_topics(topic, timeout=10).topics[topic]
    replicas = {len(p.replicas) for p in meta.partitions.values()}
    assert len(replicas) == 1, replicas
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    return (replicas.pop(), configs["min.insync.replicas"].value,
            configs["unclean.leader.election.enable"].value)  # fmt: skip


def test_up_with_three_brokers_replicates_and_heals(tmp_path: Path) -> None:
    job = MainJob(tmp_path, brokers=3)
    load = Load("", WRITE_KEY)
    try:
        job.start()
        bootstrap = job.state()["bootstrap"]
        assert bootstrap.count(",") == 2, bootstrap
        for topic in ("events", "events_quarantine", "events_dlq"):
            assert topic_settings(bootstrap, topic) == (3, "2", "false"), topic
        argv = [sys.executable, "-m", "footfall", "status"]
        status = subprocess.run(argv, env=job.env(), cwd=repo_root(), capture_output=True,
                                text=True, timeout=60)  # fmt: skip
        assert status.stdout.count("Kafka node") == 3, status.stdout
        # `footfall topics` (docker-compose's one-shot) makes the same topics on any cluster.
        env = {**job.env(), "FOOTFALL_KAFKA_BOOTSTRAP": bootstrap, "FOOTFALL_TOPIC_PREFIX": "x_"}
        topics = [*argv[:-1], "topics", "--replication-factor", "3"]
        made = subprocess.run(topics, env=env, cwd=repo_root(), capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert topic_settings(bootstrap, "x_events") == (3, "2", "false")

        load.url = job.api_url
        load.start()
        wait_until(lambda: load.log.count(200, after=0) >= 10, "no 2xx on the cluster")
        old = job.pid("broker2")
        killed_at = time.monotonic()
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: job.pid("broker2") not in (0, old), "node 2 was not restarted", 120)
        wait_until(lambda: "Kafka node 2 ready again" in job.output.read_text(), "not ready", 120)
        print(f"node 2 back {time.monotonic() - killed_at:.1f}s after its SIGKILL", flush=True)
        mark = time.monotonic()
        wait_until(lambda: load.log.count(200, after=mark) >= 10, "no 2xx after the restart")
        log = load.finish()
        # Two nodes were up all along: nothing was refused.
        assert {status for _, status, _ in log.statuses} == {200}

        wait_group_caught_up(bootstrap, "footfall-clickhouse-sink", "events", timeout=180)
        stored = job.query("SELECT message_id FROM events FINAL").split()
        assert len(stored) == len(set(stored)) and not log.acked - set(stored)
        pids = job.all_pids()
        assert len(pids) == 3 + 3  # three brokers, API, sink, analytics
        assert job.stop() == 0
        assert [p for p in pids if pid_alive(p)] == [], "a process outlived `footfall down`"
    finally:
        load.finish()
        job.stop()
