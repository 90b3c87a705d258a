"""The pid and state files through which `down` and `status` find a running `up`."""

import json
import os
from pathlib import Path
from typing import Any

from footfall.procs import cmdline, pid_alive, read_pid


def pid_file(data_dir: Path) -> Path:
    return data_dir / "up.pid"


def state_file(data_dir: Path) -> Path:
    return data_dir / "up.json"


def running_pid(data_dir: Path) -> int | None:
    """The pid of a live `footfall up` for this data dir, or None (stale files are ignored)."""
    pid = read_pid(pid_file(data_dir))
    if pid is None or not pid_alive(pid) or "footfall" not in cmdline(pid):
        return None
    return pid


def claim(data_dir: Path) -> None:
    """Write our pid file, refusing if another `up` owns this data dir."""
    other = running_pid(data_dir)
    if other is not None and other != os.getpid():
        raise RuntimeError(f"footfall up is already running (pid {other}); use `footfall down`")
    data_dir.mkdir(parents=True, exist_ok=True)
    pid_file(data_dir).write_text(f"{os.getpid()}\n")


def release(data_dir: Path) -> None:
    if read_pid(pid_file(data_dir)) == os.getpid():
        pid_file(data_dir).unlink(missing_ok=True)
        state_file(data_dir).unlink(missing_ok=True)


def write_state(data_dir: Path, state: dict[str, Any]) -> None:
    tmp = state_file(data_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(state_file(data_dir))  # atomic, so `status` never reads half a file


def read_state(data_dir: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(state_file(data_dir).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}
