"""Issue 12, point 4, where Docker runs: the compose profile `chcluster` (ClickHouse Keeper and
2 shards x 2 replicas) with the cluster migrations, applied the way the product applies them: a
sink started with FOOTFALL_MIGRATIONS_DIR=deploy/clickhouse/cluster/migrations and its DSN on
ch-s1r1 (as the compose services sink-cluster-*). Events of several persons go through the API;
one sink writes them to the cluster, a second sink (own group, same topic) to chDB. Then: every
event is stored once, each person's events are on one shard, the two replicas of a shard hold the
same rows, and the analytics reports answer the same on the cluster as on chDB; also for the
generated data set of tests/test_cluster_clickhouse_migrations.py, inserted through Distributed.

Only the ClickHouse nodes come from compose (with their HTTP ports published by an override
file); Kafka is tests/test_docker_stack.py's container; the API and sinks run as `python -m`.
Without a Docker engine (or without `docker compose`) it skips with the reason."""

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.report_parity import assert_reports_agree
from tests.test_docker_stack import (  # noqa: F401  (fixtures used by name)
    CH_DATABASE,
    CH_PASSWORD,
    CH_USER,
    REPO,
    WRITE_KEY,
    _free_port,
    _start,
    _stop,
    _wait_for,
    docker_engine,
    kafka_bootstrap,
)

pytestmark = pytest.mark.docker

SHARDS = {1: ("ch-s1r1", "ch-s1r2"), 2: ("ch-s2r1", "ch-s2r2")}
NODES = tuple(node for pair in SHARDS.values() for node in pair)
CLUSTER_SQL = REPO / "deploy" / "clickhouse" / "cluster" / "migrations"
# The sharding key of the cluster's `events` (and the Kafka message key): who a person is.
PERSON = "if(anonymous_id != '', anonymous_id, user_id)"
DAY0 = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday (weekly retention cohorts)


def _compose(project: str, override: Path, *args: str) -> list[str]:
    files = ["-f", str(REPO / "docker-compose.yml"), "-f", str(override)]
    return ["docker", "compose", *files, "-p", project, "--profile", "chcluster", *args]


def _compose_env() -> dict[str, str]:
    """The variables compose insists on (`:?`) for every service, even ones not started."""
    return {
        **os.environ,
        "FOOTFALL_CLICKHOUSE_PASSWORD": CH_PASSWORD,
        "FOOTFALL_CLICKHOUSE_DATABASE": CH_DATABASE,
        "FOOTFALL_WRITE_KEYS": WRITE_KEY,
        "FOOTFALL_READ_KEYS": "chcluster-test-read-key",
    }


@pytest.fixture(scope="module")
def ch_nodes(
    docker_engine: None,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, int]]:
    """Keeper and the four servers of the profile, up and healthy; node -> published HTTP port."""
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI (with the compose plugin) is not installed")
    override = tmp_path_factory.mktemp("chcluster") / "ports.yml"
    override.write_text("services:\n" + "".join(
        f"  {node}:\n    ports: [\"127.0.0.1::8123\"]\n" for node in NODES))  # fmt: skip
    project, env = f"fftest{uuid.uuid4().hex[:8]}", _compose_env()
    run = partial(subprocess.run, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    up = run(_compose(project, override, "up", "-d", "--wait", "keeper", *NODES))
    try:
        assert up.returncode == 0, f"compose up failed:\n{up.stderr[-4000:]}"
        ports = {}
        for node in NODES:
            out = run(_compose(project, override, "port", node, "8123"), check=True).stdout
            ports[node] = int(out.strip().rsplit(":", 1)[1])
        _wait_for("cluster and Keeper", partial(_cluster_ready, ports), timeout=120)
        yield ports
    finally:
        run(_compose(project, override, "down", "-v", "--remove-orphans"))


def _client(port: int, database: str = CH_DATABASE) -> Any:
    import clickhouse_connect

    return clickhouse_connect.get_client(host="127.0.0.1", port=port, username=CH_USER,
                                         password=CH_PASSWORD, database=database)  # fmt: skip


def _cluster_ready(ports: dict[str, int]) -> bool:
    for port in ports.values():
        client = _client(port)
        try:
            nodes = client.query("SELECT count() FROM system.clusters WHERE cluster = 'footfall'")
            client.query("SELECT count() FROM system.zookeeper WHERE path = '/'")  # Keeper up
        finally:
            client.close()
        if nodes.result_rows[0][0] != 4:
            return False
    return True


def _person_events(run: str, n: int) -> list[dict[str, Any]]:
    """A visit from a campaign, a sign-up, maybe an order, maybe visits in later weeks: the
    founding question's path, attribution and retention. Every event carries the person's
    anonymousId (the sharding key), the later ones the userId too."""
    anon, user, t = f"{run}-anon-{n}", f"{run}-user-{n}", DAY0 + timedelta(days=n % 10, hours=n)
    source = ("facebook", "google", "newsletter")[n % 3]
    url = f"https://shop.example/cameras?utm_source={source}&utm_medium=cpc&utm_campaign=c{n % 2}"
    page = {"path": "/cameras", "url": url, "referrer": "https://www.facebook.com/"}
    timed: list[tuple[timedelta, dict[str, Any]]] = [
        (timedelta(0), {"type": "page", "name": "Cameras", "properties": page,
                        "context": {"page": page}}),
        (timedelta(minutes=2), {"type": "track", "event": "Product Viewed",
                                "properties": {"section": "cameras"}}),
        (timedelta(minutes=5), {"type": "track", "event": "Signed Up", "userId": user}),
        (timedelta(minutes=6), {"type": "identify", "userId": user, "traits": {"plan": "pro"}}),
    ]  # fmt: skip
    if n % 2 == 0:
        order = {"type": "track", "event": "Order Completed", "userId": user,
                 "properties": {"revenue": 10.0 + n, "currency": "EUR"}}  # fmt: skip
        timed.append((timedelta(hours=2), order))
    for week in range(1, 1 + n % 4):  # came back in later weeks: retention
        again = {"type": "page", "name": "Again", "userId": user, "properties": {"path": "/again"}}
        timed.append((timedelta(weeks=week), again))
    for k, (offset, event) in enumerate(timed):
        at = (t + offset).isoformat()
        event.update(messageId=f"{run}-{n}-{k}", anonymousId=anon, timestamp=at)
    return [event for _, event in timed]


def _env(kafka: str, prefix: str, data: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ, "FOOTFALL_DATA_DIR": str(data), "FOOTFALL_KAFKA_BOOTSTRAP": kafka,
        "FOOTFALL_TOPIC_PREFIX": prefix, "FOOTFALL_WRITE_KEYS": WRITE_KEY,
        "FOOTFALL_CLICKHOUSE_DATABASE": CH_DATABASE, "FOOTFALL_SINK_BATCH_SECONDS": "0.2",
        "FOOTFALL_SINK_HTTP_HOST": "127.0.0.1", "FOOTFALL_SINK_HTTP_PORT": str(port),
        "FOOTFALL_API_HOST": "127.0.0.1", "FOOTFALL_API_PORT": str(port),
        "FOOTFALL_API_WORKERS": "1", **extra,
    }  # fmt: skip


def _healthy(proc: subprocess.Popen[bytes], port: int) -> bool:
    assert proc.poll() is None, f"exited with {proc.returncode}"
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200


def _start_all(
    procs: dict[str, Any], kafka: str, ports: dict[str, int], prefix: str, work: Path
) -> None:
    """The cluster sink (it applies the cluster migrations), a chDB sink and the API, into
    `procs` as they start (the caller stops those that did)."""
    cluster_dsn = f"http://{CH_USER}:{CH_PASSWORD}@127.0.0.1:{ports['ch-s1r1']}"
    chdb = work / "chdb"
    services = {
        "sink-cluster": {"FOOTFALL_CLICKHOUSE_DSN": cluster_dsn,
                         "FOOTFALL_MIGRATIONS_DIR": str(CLUSTER_SQL),
                         "FOOTFALL_SINK_GROUP": f"{prefix}cluster"},
        "sink-chdb": {"FOOTFALL_CLICKHOUSE_DSN": f"chdb://{chdb}",
                      "FOOTFALL_SINK_GROUP": f"{prefix}chdb"},
        "api": {},
    }  # fmt: skip
    procs["chdb"] = chdb
    for name, extra in services.items():
        port, data = _free_port(), work / name
        data.mkdir()
        module = "producer_api" if name == "api" else "consumers.clickhouse_sink"
        procs[name] = _start(module, _env(kafka, prefix, data, port, **extra), work / f"{name}.log")
        _wait_for(name, partial(_healthy, procs[name], port), timeout=120)
        procs[f"{name}-url"] = f"http://127.0.0.1:{port}"


def _send(api: str, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 50):
        answer = httpx.post(f"{api}/v1/batch", auth=(WRITE_KEY, ""),
                            json={"batch": events[i : i + 50]}, timeout=30)  # fmt: skip
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text


def test_events_through_the_api_are_sharded_replicated_and_report_alike(
    kafka_bootstrap: str,  # noqa: F811
    ch_nodes: dict[str, int],
    tmp_path: Path,
) -> None:
    from footfall.topics import ensure_topics
    from tests.support.consumed import wait_group_caught_up

    run = uuid.uuid4().hex[:8]
    prefix = f"chcluster_{run}_"
    ensure_topics(kafka_bootstrap, prefix)
    procs: dict[str, Any] = {}
    try:
        _start_all(procs, kafka_bootstrap, ch_nodes, prefix, tmp_path)
        events = [e for n in range(24) for e in _person_events(run, n)]
        _send(procs["api-url"], events)
        ids = {e["messageId"] for e in events}
        cluster = _client(ch_nodes["ch-s1r1"])
        _wait_for("every event in the cluster", lambda: _stored(cluster, run) >= len(ids), 180)
        wait_group_caught_up(kafka_bootstrap, f"{prefix}chdb", f"{prefix}events", timeout=180)
        _check_stored_once(cluster, run, ids)
        _check_shards_and_replicas(ch_nodes, run)
    finally:
        for name in ("api", "sink-cluster", "sink-chdb"):
            if name in procs:
                _stop(procs[name])  # the chDB sink lets go of its path: this process opens it next
    single = _chdb_client(procs["chdb"])
    try:
        assert_reports_agree(cluster, single, DAY0 - timedelta(days=1))
    finally:
        single.close()  # chDB: one data path per process at a time
        cluster.close()


def _stored(client: Any, run: str) -> int:
    sql = "SELECT count() FROM events FINAL WHERE message_id LIKE {p:String}"
    return int(client.query(sql, parameters={"p": f"{run}-%"}).result_rows[0][0])


def _check_stored_once(cluster: Any, run: str, ids: set[str]) -> None:
    sql = "SELECT message_id FROM events WHERE message_id LIKE {p:String}"  # no FINAL: copies too
    stored = [r[0] for r in cluster.query(sql, parameters={"p": f"{run}-%"}).result_rows]
    assert sorted(stored) == sorted(ids), "an event is missing or stored twice"


def _check_shards_and_replicas(ports: dict[str, int], run: str) -> None:
    """Each shard's replicas hold the same rows; no person has rows on both shards."""
    sql = (f"SELECT {PERSON}, message_id, event, timestamp FROM events_local FINAL "
           "WHERE message_id LIKE {p:String} ORDER BY message_id")  # fmt: skip
    persons: dict[int, set[str]] = {}
    for shard, replicas in SHARDS.items():
        rows = []
        for node in replicas:
            client = _client(ports[node])
            try:
                client.command("SYSTEM SYNC REPLICA events_local")
                rows.append(client.query(sql, parameters={"p": f"{run}-%"}).result_rows)
            finally:
                client.close()
        assert rows[0] == rows[1], f"shard {shard}: the replicas differ"
        persons[shard] = {row[0] for row in rows[0]}
    assert persons[1] and persons[2], "one shard got nothing: sharding is not spreading persons"
    assert not persons[1] & persons[2], "a person's events are on both shards"


def _chdb_client(path: Path) -> Any:
    from consumers.clickhouse_sink.writer import connect

    return connect(f"chdb://{path}", CH_DATABASE)


def test_generated_data_reports_alike_on_the_cluster(
    ch_nodes: dict[str, int], tmp_path: Path
) -> None:
    """The data set of the one-shard chDB test, inserted through the cluster's Distributed
    `events` (duplicates included: FINAL must drop them on each shard)."""
    from consumers.clickhouse_sink import migrations
    from consumers.clickhouse_sink.writer import connect, ensure_database
    from footfall import ch_cluster
    from footfall_analytics.generate import COLUMNS, START, generate

    database = f"gen_{uuid.uuid4().hex[:8]}"
    admin = _client(ch_nodes["ch-s1r1"])
    admin.command(f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER 'footfall'")
    admin.close()
    cluster = _client(ch_nodes["ch-s1r1"], database)
    migrations.apply(cluster, CLUSTER_SQL)
    dsn = f"chdb://{tmp_path / 'ch'}"
    ensure_database(dsn, database)
    single = connect(dsn, database)
    try:
        migrations.apply(single, ch_cluster.source_dir())
        rows, _ = generate(seed=11, persons=150)
        for client in (cluster, single):
            for part in (rows[: len(rows) // 2], rows[len(rows) // 2 :], rows[::13]):
                client.insert("events", part, column_names=list(COLUMNS))
        assert_reports_agree(cluster, single, START - timedelta(days=1))
    finally:
        single.close()  # chDB: one data path per process at a time
        cluster.close()
