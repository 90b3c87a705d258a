"""The HTTP plumbing shared by the fakes: a threaded server and a queue of scripted faults."""

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> "Reply":
        return cls(status, json.dumps(payload).encode(), headers=dict(headers))


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, used by the next request that reaches the fake.

    kind: "reply" (answer `reply` without processing), "slow" (sleep, then process), "hang_after"
    (process and store, then sleep `seconds` before answering: a client timeout after acceptance),
    "drop_after" (process and store, then close the connection without an answer).
    """

    kind: str
    reply: Reply | None = None
    seconds: float = 0.0

    @classmethod
    def answer(cls, reply: Reply) -> "Fault":
        return cls("reply", reply)

    @classmethod
    def slow(cls, seconds: float) -> "Fault":
        return cls("slow", seconds=seconds)

    @classmethod
    def hang_after_accept(cls, seconds: float) -> "Fault":
        return cls("hang_after", seconds=seconds)

    @classmethod
    def drop_after_accept(cls) -> "Fault":
        return cls("drop_after")


LISTING = "/_fake/accepted"  # GET: what the fake accepted (not part of the real APIs)


class FakeServer:
    """Subclasses implement `process(request) -> Reply` and `accepted()`; faults wrap process.
    GET /_fake/accepted lists what was accepted, for people trying the uploader out."""

    name = "fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.RLock()
        self._faults: deque[Fault] = deque()
        self.requests = 0  # every request that arrived
        self.in_flight = 0
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "FakeServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, *faults: "Fault | Reply", times: int = 1) -> None:
        """Queue faults (a bare Reply means: answer it instead of processing)."""
        queued = [f if isinstance(f, Fault) else Fault.answer(f) for f in faults]
        with self.lock:
            for _ in range(times):
                self._faults.extend(queued)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def _next_fault(self) -> Fault | None:
        with self.lock:
            return self._faults.popleft() if self._faults else None

    def process(self, request: Request) -> Reply:
        raise NotImplementedError

    def accepted(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def serve(self, request: Request) -> tuple[Reply | None, float]:
        """The reply (None: drop the connection) and how long to wait before sending it."""
        if request.method == "GET" and request.path == LISTING:  # not an API request
            with self.lock:
                return Reply.json(200, {"platform": self.name, "accepted": self.accepted()}), 0.0
        with self.lock:
            self.requests += 1
        fault = self._next_fault()
        if fault is not None and fault.kind == "reply" and fault.reply is not None:
            return fault.reply, 0.0
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        with self.lock:
            reply = self.process(request)
        if fault is not None and fault.kind == "hang_after":
            return reply, fault.seconds
        if fault is not None and fault.kind == "drop_after":
            return None, 0.0
        return reply, 0.0


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = Request(
            self.command,
            url.path,
            parse_qs(url.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        with self.fake.lock:
            self.fake.in_flight += 1
        try:
            reply, delay = self.fake.serve(request)
            if delay:
                time.sleep(delay)
            if reply is None:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (its timeout): fine for a fake
        finally:
            with self.fake.lock:
                self.fake.in_flight -= 1

    def log_message(self, format: str, *args: object) -> None:
        return
