"""Several API processes on one port (FOOTFALL_API_WORKERS): one listening socket, N forks.

One Python process tops out at one core, so the API forks N workers. The parent binds the port
first (a taken port fails as it always did), then forks before any thread, event loop or Kafka
producer exists; each worker serves the shared socket with its own loop and its own producer,
and the kernel hands each new connection to one of them. The parent forwards SIGTERM (and
Ctrl-C) to the workers, which drain and flush as a single process does, and waits. A worker
that dies takes the others down, so whoever supervises the API sees it stop rather than serve
on with fewer processes. A worker gets SIGTERM when the parent dies (PR_SET_PDEATHSIG), so a
SIGKILLed parent leaves no orphan holding the port.
"""

import atexit
import contextlib
import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import socket
import tempfile
import traceback
from collections.abc import Callable, MutableMapping
from types import FrameType

# Read by prometheus_client when it is imported: each process counts into files there and
# GET /metrics (producer_api.app) sums them, whichever worker answers.
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger("footfall.api")
_PR_SET_PDEATHSIG = 1
# uvicorn re-raises the stop signal once it has shut down cleanly: those exits are clean.
_CLEAN = (0, -signal.SIGTERM, -signal.SIGINT)


def cores() -> int:
    """The cores this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def requested_workers(environ: MutableMapping[str, str]) -> int:
    """FOOTFALL_API_WORKERS, default one per core (Settings.from_env parses it strictly)."""
    try:
        return int(environ.get("FOOTFALL_API_WORKERS") or cores())
    except ValueError:
        return 1  # Settings.from_env refuses it with the variable's name


def prepare_metrics(environ: MutableMapping[str, str] = os.environ) -> None:
    """With several workers, a fresh metrics folder for prometheus_client's multiprocess mode,
    removed when the parent exits. Must run before prometheus_client is imported."""
    if METRICS_DIR in environ or requested_workers(environ) <= 1:
        return
    path = tempfile.mkdtemp(prefix="footfall-api-metrics-")
    environ[METRICS_DIR] = path
    atexit.register(shutil.rmtree, path, True)


def serve(workers: int, sock: socket.socket, serve_one: Callable[[socket.socket], int]) -> int:
    """Run `serve_one(sock)` in `workers` forked processes; the exit code for the parent."""
    children = {_fork(serve_one, sock) for _ in range(workers)}
    sock.close()  # the workers hold their own copies; the parent never accepts
    log.info("API serving with %d worker processes: %s", workers, sorted(children))
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        _signal_all(children)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_code = 0
    while children:
        pid, status = os.wait()
        children.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if not stopping:  # a worker died on its own: stop the rest and report failure
            log.error("API worker %d exited with %d: stopping the others", pid, code)
            stopping, exit_code = True, code or 1
            _signal_all(children)
        elif code not in _CLEAN and not exit_code:
            exit_code = code
    return exit_code


def _signal_all(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def _fork(serve_one: Callable[[socket.socket], int], sock: socket.socket) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _die_with_parent()
        code = serve_one(sock)
    except BaseException:  # noqa: BLE001 - the worker must end in os._exit, never return
        traceback.print_exc()
    finally:
        os._exit(code)


def _die_with_parent() -> None:
    """SIGTERM this worker when the parent ends, even by SIGKILL (Linux; elsewhere a no-op)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the parent was already gone before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
