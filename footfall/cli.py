"""`footfall up|down|status|query|user|topics|privacy`: the local runner's command line."""

import argparse
import getpass
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import httpx

from eventschema.kafka_contract import DEFAULT_KAFKA_PORT
from eventschema.read_key_file import local_read_key
from footfall import privacy, runstate
from footfall.broker import BrokerError, LocalBroker
from footfall.children import health_ok
from footfall.config import RunConfig
from footfall.procs import pid_alive, wait_exit

NOT_RUNNING = 3  # LSB status code for "program is not running"


def cmd_up(args: argparse.Namespace) -> int:
    from footfall.supervisor import run_up

    kafka, controller = args.kafka_port, args.controller_port
    cfg = replace(
        RunConfig.from_env(kafka[0], controller[0]),
        kafka_sasl=args.kafka_sasl,
        brokers=args.brokers,
        ports=tuple(zip(kafka, controller, strict=False)) if len(kafka) > 1 else (),
    )
    if len(kafka) > 1 and not len(kafka) == len(controller) == args.brokers:
        print("footfall: give one port, or one per broker, to each port option", file=sys.stderr)
        return 2
    try:
        return run_up(cfg)
    except (BrokerError, RuntimeError) as exc:
        print(f"footfall: {exc}", file=sys.stderr)
        return 1


def cmd_down(args: argparse.Namespace) -> int:
    data_dir = RunConfig.from_env().data_dir
    pid = runstate.running_pid(data_dir)
    if pid is None:
        print("footfall: not running")
        return 0
    print(f"footfall: stopping pid {pid} ...", flush=True)
    os.kill(pid, signal.SIGTERM)
    if wait_exit(pid, None, args.timeout):
        print("footfall: stopped")
        return 0
    print(f"footfall: pid {pid} still running after {args.timeout:.0f}s", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    cfg = RunConfig.from_env()
    pid = runstate.running_pid(cfg.data_dir)
    if args.quiet:
        return 0 if pid is not None else NOT_RUNNING
    print(f"data dir   {cfg.data_dir}")
    print(f"up         {f'running (pid {pid})' if pid else 'not running'}")
    state = runstate.read_state(cfg.data_dir) if pid else {}
    _print_brokers(cfg, state)
    for name, child in state.get("children", {}).items():
        health = "healthy" if health_ok(child["health"]) else "NOT healthy"
        print(
            f"{name:<10} pid {child['pid']}  {health}  {child['health']}  "
            f"restarts {child['restarts']}  log {child['log']}"
        )
    return 0 if pid is not None else NOT_RUNNING


def _print_brokers(cfg: RunConfig, state: dict[str, Any]) -> None:
    nodes = state.get("brokers")
    if not nodes:  # not running: the single broker's pid file may still name a live JVM
        bpid = LocalBroker(cfg.kafka_dir).pid()
        where = state.get("bootstrap", cfg.bootstrap)
        print(f"kafka      {f'running (pid {bpid})' if bpid else 'not running'}  {where}")
        return
    for node in nodes:
        pid = node["pid"]
        running = f"running (pid {pid})" if pid and pid_alive(pid) else "not running"
        print(f"{node['name']:<10} {running}  {node['bootstrap']}  restarts {node['restarts']}")


def cmd_query(args: argparse.Namespace) -> int:
    sql = sys.stdin.read() if args.sql == "-" else args.sql
    cfg = RunConfig.from_env()
    url = f"{cfg.sink_url}/query"
    params = {"format": args.format} if args.format else None
    # FOOTFALL_READ_KEY, else the key `footfall up` keeps in <data dir>/secrets/read_key.
    key = cfg.read_key or local_read_key(cfg.data_dir)
    headers = {"Authorization": f"Bearer {key}"} if key else None
    try:
        resp = httpx.post(
            url, content=sql.encode(), params=params, headers=headers, timeout=args.timeout
        )
    except httpx.HTTPError as exc:
        print(
            f"footfall: cannot reach the sink at {url} ({exc}); is `footfall up` running?",
            file=sys.stderr,
        )
        return 2
    if resp.status_code != 200:
        print(resp.text.rstrip(), file=sys.stderr)
        return 1
    sys.stdout.buffer.write(resp.content)
    sys.stdout.flush()
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    """Dashboard users (Argon2id hashes in <data_dir>/secrets/users.json or FOOTFALL_USERS_FILE)."""
    from footfall.credentials import new_password
    from footfall_analytics.server.keyfiles import users_file
    from footfall_analytics.server.users import UserError, UserStore

    cfg = RunConfig.from_env()
    store = UserStore(users_file(cfg.data_dir, cfg.users_file))
    if args.action != "list" and not args.name:
        print(f"footfall: `footfall user {args.action} NAME`", file=sys.stderr)
        return 2
    if args.action == "list":
        print("\n".join(store.names()))
        return 0
    if args.action == "remove":
        if store.remove(args.name):
            print(f"footfall: removed {args.name}; their sessions end at their next request")
            return 0
        print(f"footfall: no user {args.name!r}", file=sys.stderr)
        return 1
    if args.generate:
        password = new_password()
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            print("footfall: the passwords differ", file=sys.stderr)
            return 1
    try:
        store.add(args.name, password, replace=args.replace)
    except UserError as exc:
        print(f"footfall: {exc}", file=sys.stderr)
        return 1
    if args.generate:
        print(f"footfall: password for {args.name}: {password}")
    print(f"footfall: {args.name} can log in to the dashboard (users in {store.path})")
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    """Create the topics on any broker (docker-compose runs this once before the services)."""
    from footfall.topics import ensure_topics

    cfg = RunConfig.from_env()
    bootstrap, prefix = cfg.topics_bootstrap, cfg.topic_prefix
    try:
        names = ensure_topics(
            bootstrap, prefix, timeout=args.timeout, replication=args.replication_factor
        )
    except Exception as exc:  # the admin client raises several types; all mean "not done"
        print(f"footfall: creating topics on {bootstrap} failed: {exc}", file=sys.stderr)
        return 1
    print(f"footfall: topics ready on {bootstrap}: {', '.join(names)}")
    return 0


def _ports(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port or a list of ports: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="footfall", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run Kafka, the API and the sink in the foreground")
    ports = "a port, or one per broker (comma-separated)"
    up.add_argument("--kafka-port", type=_ports, default=[DEFAULT_KAFKA_PORT], help=ports)
    up.add_argument("--controller-port", type=_ports, default=[9093], help=ports)
    up.add_argument(
        "--brokers",
        type=int,
        choices=[1, 3],
        default=1,
        help="3: a local cluster, topics replicated 3 times with min.insync.replicas=2",
    )
    up.add_argument("--kafka-sasl", action="store_true", help="Kafka with SCRAM logins and ACLs")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop a running `up` and wait for it to exit")
    down.add_argument("--timeout", type=float, default=150.0)
    down.set_defaults(func=cmd_down)
    status = sub.add_parser("status", help="show what runs (exit 3 when `up` is not running)")
    status.add_argument("-q", "--quiet", action="store_true", help="exit code only")
    status.set_defaults(func=cmd_status)
    query = sub.add_parser("query", help="run read-only SQL through the sink's /query")
    query.add_argument("sql", help="SQL text, or - to read it from stdin")
    query.add_argument("--format", "-f", help="ClickHouse output format")
    query.add_argument("--timeout", type=float, default=60.0)
    query.set_defaults(func=cmd_query)
    user = sub.add_parser("user", help="add, remove or list dashboard users")
    user.add_argument("action", choices=["add", "remove", "list"])
    user.add_argument("name", nargs="?", default="")
    how = user.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    how.add_argument("--generate", action="store_true", help="make and print a random password")
    user.add_argument("--replace", action="store_true", help="set a new password for a user")
    user.set_defaults(func=cmd_user)
    topics = sub.add_parser("topics", help="create the topics on FOOTFALL_KAFKA_BOOTSTRAP")
    topics.add_argument("--timeout", type=float, default=60.0)
    topics.add_argument(
        "--replication-factor",
        type=int,
        default=1,
        help="copies of each partition; above 1 also min.insync.replicas=2 (a cluster: 3)",
    )
    topics.set_defaults(func=cmd_topics)
    privacy.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code
