"""One process per run folder: an exclusive `fcntl.flock` on the folder's `.lock` file.

`acquire(run_dir)` takes the lock without waiting and writes who holds it (pid, host, command, since)
into the file; a second eval or batch on the same folder is refused with a one-line `RunLocked` that
names the holder. The kernel drops the lock when the holder's file is closed, so a holder killed with
SIGKILL frees the folder at once; the stale holder text left in the file is overwritten by the next
holder. `release(run_dir)` frees it early (the runner does when a run ends or fails).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

LOCK = ".lock"
"""The lock file inside a run folder."""
_HELD: dict[str, int] = {}
"""Locks this process holds: the resolved folder and the lock file's descriptor."""
_HELD_LOCK = threading.Lock()


class RunLocked(RuntimeError):
    """The run folder is in use by another process."""


def _holder() -> dict[str, object]:
    """Describe this process: pid, host, its command line (one line, at most 200 characters), since."""
    command = " ".join(" ".join(sys.argv).split())[:200]
    return {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "since": datetime.now(UTC).isoformat(timespec="seconds")}


def _describe(fd: int) -> str:
    """Return the holder written in an open lock file, in words ("unknown holder" when unreadable)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return (f"pid {info['pid']} on {info['host']} since {info['since']} "
                f"(command: {info['command'] or '?'})")
    except (OSError, ValueError, KeyError, TypeError):
        return "an unknown holder"


def acquire(run_dir: Path) -> None:
    """Lock `run_dir` (which must exist) for this process and record the holder in its lock file.

    A folder this process holds already stays held (one process, one writer: the runner's parent).

    Raises:
        RunLocked: another process holds the folder.
    """
    key = str(run_dir.resolve())
    if held(run_dir):
        return
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _describe(fd)
        os.close(fd)
        raise RunLocked(f"{run_dir} is in use by {holder}; wait for it to end or stop it") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_holder()).encode() + b"\n", 0)
    except OSError:
        pass  # a full disk leaves the holder unnamed; the lock itself holds
    with _HELD_LOCK:
        _HELD[key] = fd


def held(run_dir: Path) -> bool:
    """Tell whether this process holds the lock of `run_dir`."""
    with _HELD_LOCK:
        return str(run_dir.resolve()) in _HELD


def release(run_dir: Path) -> None:
    """Unlock `run_dir` if this process holds it (harmless otherwise)."""
    with _HELD_LOCK:
        fd = _HELD.pop(str(run_dir.resolve()), None)
    if fd is not None:
        os.close(fd)  # closing the only descriptor drops the flock
