"""`footfall up`: broker, topics, API and sink in the foreground, with ordered shutdown.

Start order is broker -> topics -> sink -> API; stop order is API -> sink -> broker, so no event
accepted by the API is left without a running consumer and the sink can commit before Kafka goes.
"""

import signal
import time
from types import FrameType
from typing import Any

from footfall import kafka_local, runstate
from footfall.broker import LocalBroker
from footfall.children import Child, ChildSpec, module_argv
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
        self.broker = LocalBroker(cfg.kafka_dir, cfg.kafka_port, cfg.controller_port, java=cfg.java)
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
                print("\n".join(self._access_lines()), flush=True)
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
        if self.broker.is_running():  # orphaned by an `up` that was killed hard
            say(f"stopping a broker left over from an earlier run (pid {self.broker.pid()})")
            self.broker.stop()
        say(f"starting Kafka on {self.cfg.bootstrap} (data {self.broker.storage_dir})")
        self.broker.start()
        self._write_state()
        took = self.broker.wait_ready()
        say(f"Kafka ready in {took:.1f}s")
        topics = ensure_topics(
            self.cfg.bootstrap, self.cfg.topic_prefix, env=self.broker.client_env
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
        while True:
            self._tick()
            if not self.broker.is_running():
                say(f"Kafka exited; see {self.broker.server_log}. Stopping everything.")
                return
            time.sleep(TICK)

    def _tick(self) -> None:
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
        if self.broker.is_running():
            say("stopping Kafka")
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
            "api_url": cfg.api_url,
            "sink_url": cfg.sink_url,
            "demo_url": cfg.demo_url if cfg.demo_enabled else None,
            "analytics_url": cfg.analytics_url,
            "children": children,
        }

    def _print_banner(self) -> None:
        cfg = self.cfg
        lines = [
            "",
            "Footfall is running.",
            f"  Event API     {cfg.api_url}   (POST /v1/batch ...; metrics {cfg.api_url}/metrics)",
            f"  Sink          {cfg.sink_url}   (POST /query; metrics {cfg.sink_url}/metrics)",
            f"  Analytics     {cfg.analytics_url}   (dashboard; JSON reports under /api/)",
            f"  Kafka         {cfg.bootstrap}   topics prefix {cfg.topic_prefix!r}",
            *(
                [f"  Demo shop     {cfg.demo_url}   (click around, then query its events)"]
                if cfg.demo_enabled
                else []
            ),
            f"  Logs          {cfg.log_dir}   (Kafka: {self.broker.server_log})",
            f"  Data          {cfg.data_dir}",
            '  Query         scripts/query "SELECT count() FROM footfall.events FINAL"',
            "  Status        python -m footfall status",
            "  Stop          Ctrl-C here, or `python -m footfall down` (or scripts/run again)",
            *self._access_lines(),
            "",
        ]
        print("\n".join(lines), flush=True)
        self._banner_shown = True

    def _access_lines(self) -> list[str]:
        """How to read: the key and the first password only when just made (this terminal is
        the one place they are shown; the children's logs never see them)."""
        creds = self.credentials
        key_file = creds.secrets_dir / "read_key"
        key = creds.operator_key if creds.new_operator_key else f"in {key_file}"
        lines = ["", f"  Read key      {key}   (send it as `Authorization: Bearer <key>`)"]
        if creds.new_operator_key:
            lines.append(f"                saved in {key_file}; `footfall query` uses it")
        if creds.admin_password is not None:
            lines.append(
                f"  Log in        user admin, password {creds.admin_password}   (shown once)"
            )
        add = "python -m footfall user add NAME"
        lines.append(f"  Users         {add}   (dashboard logins)")
        return lines


def run_up(cfg: RunConfig) -> int:
    return Supervisor(cfg).run()
