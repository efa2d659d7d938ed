"""The embedded model's system prompt, prefilled once per machine: its prompt cache saved and restored.

Every locate decision starts with the same system prompt (`geosleuth.run.prompts.SYSTEM`). llama.cpp
keeps it in the slot's cache within one process, but each new process (a `locate`, a `chat`, a batch)
paid its prefill again: measured 6.9 s for a 298-token prompt on 2 cores, 0.1 s once restored. So
after a process's first successful decision the slot is saved under `<cache_dir>/llm-slots/` with a
sha256 sidecar, and the first decision of a later process (a new server) restores it when the sidecar
matches. The
file's key is the model file, the context size and the system text; a file whose checksum fails is
deleted (and saved again later), so a damaged cache never reaches the model. Only the embedded server
(`geosleuth.run.local_llm`) does this; any other endpoint is left alone.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from geosleuth.run.local_llm import LocalLLMServer, running_server

log = logging.getLogger(__name__)
_done: set[tuple[int, str]] = set()
"""(server port, file) pairs restored or saved already: each server restores or saves a prompt once."""
_lock = threading.Lock()


def _files(base_url: str, system: str) -> tuple[LocalLLMServer, int, str, Path, Path] | None:
    """Return (server, its port, slot file name, slot file, sha256 sidecar) for a system prompt.

    None unless the shared embedded server is the one serving `base_url` and can save its slot.
    """
    server = running_server()
    if server is None or server.port is None or server.slot_dir is None or server.base_url != base_url:
        return None
    name = prefix_file(server, system)
    return server, server.port, name, server.slot_dir / name, server.slot_dir / f"{name}.sha256"


def prefix_file(server: LocalLLMServer, system: str) -> str:
    """Return the slot file's name for a system prompt on this server's model and context size."""
    key = f"{server.model.name}|{server.model.stat().st_size}|{server.context}|{system}"
    return f"prefix-{hashlib.sha256(key.encode()).hexdigest()[:16]}.bin"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def restore(base_url: str, system: str) -> bool:
    """Before a server's first decision: load the saved prompt cache of `system`; return whether it did.

    Does nothing for another endpoint, once this server restored or saved it, or without a valid file.
    """
    found = _files(base_url, system)
    if found is None:
        return False
    server, port, name, path, sidecar = found
    with _lock:
        if (port, name) in _done or not (path.is_file() and sidecar.is_file()):
            return False
        if sidecar.read_text().strip() != _digest(path):
            log.warning("the saved prompt cache %s is damaged (sha256 mismatch); deleting it", path)
            path.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
            return False
        done = server.slot("restore", name)
        if done:
            _done.add((port, name))
        return done


def save(base_url: str, system: str) -> bool:
    """After a successful decision: save the slot (its cache begins with `system`) once; say if it did."""
    found = _files(base_url, system)
    if found is None:
        return False
    server, port, name, path, sidecar = found
    with _lock:
        if (port, name) in _done or sidecar.is_file():
            return False
        _done.add((port, name))
        if not server.slot("save", name) or not path.is_file():
            return False
        sidecar.write_text(_digest(path) + "\n")
        return True
