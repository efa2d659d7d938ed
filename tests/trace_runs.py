"""Trace-store helpers: start a run with default fields, and writer processes (importable by spawn)."""

from __future__ import annotations

import os
import signal

from geosleuth.run.traces import TraceStore


def start_run(store: TraceStore, **extra: object) -> str:
    """Start a locate run of a.jpg (fields overridable) and return its id."""
    fields = {"kind": "locate", "planner": "policy", "photo": "a.jpg", "photo_sha256": "ab" * 32,
              "config": {}}
    return store.start_run(**{**fields, **extra})


def process_writer(path: str, shared: str, n: int) -> None:
    """A writer process: its own run of 30 tool steps, and 30 llm steps on the shared run."""
    store = TraceStore(path)
    own = start_run(store, photo=f"proc{n}.jpg")
    for i in range(30):
        store.add_step(own, kind="tool", name=f"t{i}", output={"i": i})
        store.add_step(shared, kind="llm", name=f"proc{n}")
    store.finish_run(own, guess=None, seconds=0.1)
    store.close()


def killed_writer(path: str) -> None:
    """A writer process that records three steps and is then killed with SIGKILL."""
    store = TraceStore(path)
    run_id = start_run(store, photo="killed.jpg")
    for i in range(3):
        store.add_step(run_id, kind="tool", name=f"t{i}")
    os.kill(os.getpid(), signal.SIGKILL)
