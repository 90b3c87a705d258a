"""`footfall privacy delete`: erase a person and every identity linked to them (GDPR Art. 17).

The person is resolved exactly as `footfall privacy export` does (privacy.Store.resolve, through
the sink's read-only /query). The command itself deletes nothing: it writes the request to the
compacted suppression topic (eventschema/suppressions.py), one record per identity id, and
returns once Kafka acked every record (acks=all). The sink then deletes the person's rows and
writes the audit log; the sink and the uploader keep every later event of theirs out.
"""

import argparse
import getpass
import os
import socket
import sys

from eventschema.kafka_contract import KafkaCluster, Topics
from eventschema.kafka_delivery import DeliveryFailed
from eventschema.read_key_file import local_read_key
from eventschema.suppressions import Request, publish
from footfall.config import RunConfig
from footfall.privacy import PrivacyError, Store


def requester() -> str:
    """Who asked, for the audit log: the operator's login on this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def cmd_delete(args: argparse.Namespace) -> int:
    if args.user_id is None and args.anonymous_id is None:
        print("footfall privacy delete: give --user-id or --anonymous-id (whom to erase)",
              file=sys.stderr)  # fmt: skip
        return 2
    from eventschema.sink_query import SinkQuery, SinkQueryError

    cfg = RunConfig.from_env()
    key = cfg.read_key or local_read_key(cfg.data_dir)
    query = SinkQuery(f"{cfg.sink_url}/query", key, timeout=args.timeout)
    try:
        person = Store(query).resolve(args.user_id, args.anonymous_id)
    except (PrivacyError, SinkQueryError) as exc:
        print(f"footfall privacy delete: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SinkQueryError) and exc.status is None else 1
    finally:
        query.close()
    request = Request.of(person, requester(), args.reason)
    topic = Topics.for_prefix(cfg.topic_prefix).suppressions
    kafka = KafkaCluster.from_env(cfg.topics_bootstrap, os.environ)
    try:
        publish(kafka, topic, request, args.timeout)
    except DeliveryFailed as exc:
        print(f"footfall privacy delete: the request was not stored in {topic}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    ids = len(request.record_keys())
    print(f"footfall: erasure {request.request_id} requested for {person.describe()}: "
          f"{ids} ids suppressed in {topic}; the sink deletes their rows and logs it in "
          "<data dir>/privacy/audit.jsonl")  # fmt: skip
    return 0


def add_command(actions: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    delete = actions.add_parser(
        "delete", help="erase a person and their linked ids, and keep them out afterwards"
    )
    who = delete.add_mutually_exclusive_group()
    who.add_argument("--user-id", help="the person's user id")
    who.add_argument("--anonymous-id", help="one of the person's anonymous ids")
    delete.add_argument(
        "--reason", default="", help="why (kept in the audit log: no personal data)"
    )
    delete.add_argument("--timeout", type=float, default=60.0, help="seconds per query or write")
    delete.set_defaults(func=cmd_delete)
