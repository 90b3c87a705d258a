"""`footfall up`: broker(s), topics, API and sink in the foreground, with ordered shutdown.

Start order is broker -> topics -> sink -> API; stop order is API -> sink -> broker, so no event
accepted by the API is left without a running consumer and the sink can commit before Kafka goes.
Any process that dies, a broker included, is restarted with backoff: the main job ends only on
Ctrl-C, SIGTERM or `footfall down`.
"""

import signal
import time
from types import FrameType
from typing import Any

from footfall import kafka_local, runstate
from footfall.banner import access_lines, banner_lines
from footfall.broker import BrokerError, LocalBroker
from footfall.broker_watch import BrokerWatch
from footfall.children import Child, ChildSpec, module_argv
from footfall.cluster import LocalCluster
from footfall.config import RunConfig
from footfall.credentials import ensure_local_credentials
from footfall.topics import ensure_topics

HEALTH_WAIT = 60.0
TICK = 0.5


class Shutdown(BaseException):
    """Raised from the signal handler; BaseException so `except Exception` cannot swallow it."""


def say(msg: str) -> None:
    print(f"footfall: {msg}", flush=True)


class Supervisor:
    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.cluster: LocalCluster | None = None
        if cfg.brokers > 1:
            self.cluster = LocalCluster(cfg.cluster_dir, cfg.node_ports, java=cfg.java)
            self.brokers = self.cluster.nodes
        else:
            port, cport = cfg.node_ports[0]
            self.brokers = [LocalBroker(cfg.kafka_dir, port, cport, java=cfg.java)]
        self.broker = self.brokers[0]
        self.watches = [BrokerWatch(b, _broker_name(b, cfg.brokers)) for b in self.brokers]
        if cfg.kafka_sasl and self.cluster is not None:
            raise BrokerError("--kafka-sasl runs a single broker; leave out --brokers")
        if cfg.kafka_sasl:  # SCRAM logins and ACLs; each child logs in as its own user
            self.broker.auth = kafka_local.load_auth(cfg.data_dir, self.broker)
        # Made on the first run (and shown once); the read servers get only key digests.
        self.credentials = ensure_local_credentials(cfg.data_dir, cfg.users_file)
        env = cfg.child_env()
        configured_keys = env.get("FOOTFALL_READ_KEYS", "")  # the operator's, kept for all
        readers = cfg.child_env(self.credentials.reader_env(configured_keys))
        analytics = cfg.child_env(self.credentials.analytics_env(configured_keys))
        # Stopped in this order; started in reverse. The demo shop goes first, so the events
        # its back end still holds reach the API before the API stops. The analytics server
        # only reads (through the sink's /query), so it starts after the sink and stops first.
        self.children = [
            Child(self._analytics_spec(), analytics),
            Child(self._api_spec(), env),
            Child(self._sink_spec(), readers),
        ]
        if cfg.conversions_enabled:  # only with ad-platform credentials; reads, never blocks
            self.children.insert(0, Child(self._conversions_spec(), env))
        if cfg.demo_enabled:
            self.children.insert(0, Child(self._demo_spec(), env))
        if self.broker.auth:  # a new dict each: some children share one env
            for child in self.children:
                child.env = {**child.env, **kafka_local.child_env(self.broker.auth, child.name)}
        self._stopping = False
        self._started = time.time()
        self._banner_shown = False

    def _api_spec(self) -> ChildSpec:
        argv = module_argv("producer_api", self.cfg.commands.get("api"))
        log = self.cfg.log_dir / "api.log"
        return ChildSpec("api", argv, f"{self.cfg.api_url}/readyz", log, stop_timeout=15.0)

    def _sink_spec(self) -> ChildSpec:
        argv = module_argv("consumers.clickhouse_sink", self.cfg.commands.get("sink"))
        log = self.cfg.log_dir / "sink.log"
        # The sink flushes its last batch and commits on SIGTERM: give it time.
        return ChildSpec("sink", argv, f"{self.cfg.sink_url}/healthz", log, stop_timeout=45.0)

    def _analytics_spec(self) -> ChildSpec:
        argv = module_argv("footfall_analytics.server", self.cfg.commands.get("analytics"))
        log = self.cfg.log_dir / "analytics.log"
        url = f"{self.cfg.analytics_url}/healthz"
        return ChildSpec("analytics", argv, url, log, stop_timeout=10.0)

    def _conversions_spec(self) -> ChildSpec:
        argv = module_argv("consumers.conversions", self.cfg.commands.get("conversions"))
        log = self.cfg.log_dir / "conversions.log"
        url = f"{self.cfg.conversions_url}/healthz"
        return ChildSpec("conversions", argv, url, log, stop_timeout=30.0)

    def _demo_spec(self) -> ChildSpec:
        argv = module_argv("demo", self.cfg.commands.get("demo"))
        log = self.cfg.log_dir / "demo.log"
        return ChildSpec("demo", argv, f"{self.cfg.demo_url}/healthz", log, stop_timeout=10.0)

    def run(self) -> int:
        runstate.claim(self.cfg.data_dir)
        self._install_signals()
        try:
            self._start_all()
            self._wait_healthy()
            self._print_banner()
            self._supervise()
        except Shutdown:
            say("shutting down")
        finally:
            self._stop_all()
            runstate.release(self.cfg.data_dir)
            if not self._banner_shown:  # stopped early: new credentials must still be seen once
                print("\n".join(access_lines(self.credentials)), flush=True)
        return 0

    def _install_signals(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            say("already stopping, please wait")
            return
        self._stopping = True
        raise Shutdown

    def _start_all(self) -> None:
        self._start_kafka()
        replication = self.cluster.replication if self.cluster else 1
        topics = ensure_topics(
            self.cfg.bootstrap,
            self.cfg.topic_prefix,
            env=self.broker.client_env,
            replication=replication,
        )
        if self.broker.auth:
            # The group names the children will use, from the environment they are given.
            kafka_local.grant(self.broker, self.cfg.topic_prefix, self.cfg.child_env())
            say(f"Kafka SASL/SCRAM with ACLs; users in {kafka_local.users_file(self.cfg.data_dir)}")
        say(f"topics ready: {', '.join(topics)}")
        for child in reversed(self.children):
            say(f"starting {child.name}: logs in {child.spec.log_file}")
            child.start()
        self._write_state()

    def _start_kafka(self) -> None:
        for broker in self.brokers:
            if broker.is_running():  # orphaned by an `up` that was killed hard
                say(f"stopping a broker left over from an earlier run (pid {broker.pid()})")
                broker.stop()
        where = self.cluster.data_dir if self.cluster else self.broker.storage_dir
        say(f"starting Kafka on {self.cfg.bootstrap} (data {where})")
        if self.cluster:
            self.cluster.start()
        else:
            self.broker.start()
        self._write_state()
        took = self.cluster.wait_ready() if self.cluster else self.broker.wait_ready()
        for watch in self.watches:
            watch.started()
        say(f"Kafka ready in {took:.1f}s")

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_WAIT
        while not all(c.healthy for c in self.children):
            self._tick()
            if time.monotonic() > deadline:
                for c in self.children:
                    if not c.healthy:
                        say(
                            f"WARNING: {c.name} not healthy at {c.spec.health_url}; "
                            f"see {c.spec.log_file}"
                        )
                return
            time.sleep(TICK)

    def _supervise(self) -> None:
        """Until a signal: heal whatever died (Shutdown is raised from the signal handler)."""
        while True:
            self._tick()
            time.sleep(TICK)

    def _tick(self) -> None:
        self._tick_brokers()
        self._tick_children()

    def _tick_brokers(self) -> None:
        for watch in self.watches:
            if watch.check_exit():
                meanwhile = "the other nodes serve" if self.cluster else "the API answers 503"
                say(
                    f"{watch.name} exited; restarting in {watch.backoff():.0f}s "
                    f"(log {watch.broker.server_log}); {meanwhile} meanwhile"
                )
            line = watch.restart()
            if line:
                say(line)
                self._write_state()
            down = watch.became_ready()
            if down is not None:
                say(f"{watch.name} ready again, {down:.1f}s after it died")

    def _tick_children(self) -> None:
        for child in self.children:
            if child.check_exit():
                say(
                    f"{child.name} exited with code {child.last_code}; restarting in "
                    f"{child.backoff():.0f}s (log {child.spec.log_file})"
                )
            if child.restart_due():
                child.restarts += 1
                child.start()
                self._write_state()
            if child.probe():
                say(f"{child.name} healthy ({child.spec.health_url})")

    def _stop_all(self) -> None:
        self._stopping = True  # a second Ctrl-C must not interrupt the ordered stop
        for child in self.children:
            if child.pid is not None:
                say(f"stopping {child.name} (pid {child.pid})")
            child.stop()
        if any(b.is_running() for b in self.brokers):
            say("stopping Kafka")
        if self.cluster:
            self.cluster.stop()
        else:
            self.broker.stop()
        say("stopped")

    def _write_state(self) -> None:
        runstate.write_state(self.cfg.data_dir, self._state())

    def _state(self) -> dict[str, Any]:
        cfg = self.cfg
        children = {
            c.name: {
                "pid": c.pid,
                "health": c.spec.health_url,
                "log": str(c.spec.log_file),
                "restarts": c.restarts,
            }
            for c in self.children
        }
        return {
            "started_at": self._started,
            "data_dir": str(cfg.data_dir),
            "bootstrap": cfg.bootstrap,
            "broker": {"pid": self.broker.pid(), "log": str(self.broker.server_log)},
            "brokers": [
                {
                    "name": w.name,
                    "pid": w.broker.pid(),
                    "restarts": w.restarts,
                    "bootstrap": w.broker.bootstrap,
                    "log": str(w.broker.server_log),
                }
                for w in self.watches
            ],  # fmt: skip
            "api_url": cfg.api_url,
            "sink_url": cfg.sink_url,
            "demo_url": cfg.demo_url if cfg.demo_enabled else None,
            "analytics_url": cfg.analytics_url,
            "children": children,
        }

    def _print_banner(self) -> None:
        lines = banner_lines(self.cfg, str(self.broker.server_log), self.credentials)
        print("\n".join(lines), flush=True)
        self._banner_shown = True


def _broker_name(broker: LocalBroker, count: int) -> str:
    return f"Kafka node {broker.quorum.node_id}" if count > 1 else "Kafka"


def run_up(cfg: RunConfig) -> int:
    return Supervisor(cfg).run()
