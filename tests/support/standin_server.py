"""A stand-in for the API or the sink when testing the runner: 200 on every GET.

Usage: python -m tests.support.standin_server FOOTFALL_API_PORT  (the env var holding the port)
"""

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = f"ok {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    port = int(os.environ[sys.argv[1]])
    host = os.environ.get("FOOTFALL_API_HOST", "127.0.0.1")
    print(f"stand-in on {host}:{port}, kafka {os.environ['FOOTFALL_KAFKA_BOOTSTRAP']}", flush=True)
    ThreadingHTTPServer((host, port), Ok).serve_forever()


if __name__ == "__main__":
    main()
