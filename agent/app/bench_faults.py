"""`geosleuth bench --suite faults`: faults in the middle of work, each run for real on example photos.

Each fault runs an eval of copies of examples/*.jpg (ocr, text_clues, gazetteer; the policy planner,
the LLM planner for the LLM server) in a temporary folder and is scored on its run folder: rows given
(photos), rows written (distinct ids in results.jsonl), rows lost or duplicated (both must be 0), and
whether the run survived (it ended, or stopped with a one-line error and its rerun finished). The
faults: a second process on a locked run folder, then its holder killed with SIGKILL; the disk filling
while rows are written (RLIMIT_FSIZE in a subprocess); a damaged and a locked trace database; a damaged
tool cache entry; a damaged assembled model; the embedded LLM server killed while the LLM planner waits
for its reply (its process killed with SIGKILL; skipped where the embedded LLM is not installed).
OSM failures (429/500/garbage/slow) are tests/integration/test_osm.py's.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geosleuth.core.config import Settings, resolve_settings
from geosleuth.core.paths import source_root

EXAMPLES = source_root() / "examples"
TOOLS = ("ocr", "text_clues", "gazetteer")
FSIZE_LIMIT = 12_000
"""Bytes any file of the disk-full subprocess may reach: run.json fits, a few results rows do not."""


class FaultUnavailable(RuntimeError):
    """A fault cannot be tried on this machine; the message says what is missing."""


@dataclass
class Outcome:
    """One fault's row of the table."""

    fault: str
    survived: bool
    given: int
    written: int
    lost: int
    duplicated: int
    seconds: float
    note: str = ""


@dataclass
class Case:
    """A scratch folder with photos, their labels and a config whose cache is inside it."""

    root: Path
    labels: Path
    config: Path

    def settings(self) -> Settings:
        """Return the policy settings of this case (its cache, the three fast tools)."""
        flags = {"cache_dir": self.root / "cache", "planner": "policy", "tools": TOOLS}
        return resolve_settings(flags, env={})[0]

    def command(self, out: Path) -> list[str]:
        """Return the `geosleuth eval` command of this case's photos into `out`."""
        return [*_cli(), "eval", str(self.labels), "--out", str(out), "--planner", "policy", "--tools",
                ",".join(TOOLS), "--workers", "1", "--no-progress", "--config", str(self.config)]


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("geosleuth")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "geosleuth"]


def make_case(root: Path, copies: int = 1, files: tuple[str, ...] | None = None) -> Case:
    """Copy examples/*.jpg (only `files`, when given) `copies` times under `root` and label them."""
    photos = root / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    labels = root / "labels.csv"
    with (EXAMPLES / "labels.csv").open(encoding="utf-8") as handle, labels.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["image", "lat", "lon", "country"])
        for row in csv.DictReader(handle):
            if files is not None and row["file"] not in files:
                continue
            for n in range(copies):
                target = photos / f"{n}_{row['file']}"
                shutil.copyfile(EXAMPLES / row["file"], target)
                writer.writerow([target, row["lat"], row["lon"], row["country_code"]])
    config = root / "geosleuth.toml"
    config.write_text(f'cache_dir = "{root / "cache"}"\n', encoding="utf-8")
    return Case(root, labels, config)


def given(case: Case) -> list[str]:
    """Return the ids of a case's photos."""
    with case.labels.open(encoding="utf-8") as handle:
        return [Path(r["image"]).stem for r in csv.DictReader(handle)]


def score(fault: str, case: Case, run_dir: Path, started: float, ok: bool, note: str = "") -> Outcome:
    """Score a run folder against the case's photos: written, lost and duplicated ids (torn lines fail)."""
    ids = [str(json.loads(line)["id"]) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    wanted = given(case)
    lost = len(set(wanted) - set(ids))
    duplicated = len(ids) - len(set(ids))
    return Outcome(fault, ok and not lost and not duplicated, len(wanted), len(set(ids)), lost, duplicated,
                   time.perf_counter() - started, note)


@contextmanager
def warnings_logged() -> Iterator[list[str]]:
    """Collect the geosleuth warnings logged inside the block."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler, logger = Keep(logging.WARNING), logging.getLogger("geosleuth")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def _eval(case: Case, out: Path, settings: Settings | None = None) -> None:
    from geosleuth.evals.runner import EvalOptions, run_eval

    run_eval(EvalOptions(dataset=str(case.labels), out=out, workers=1, progress=False),
             settings or case.settings())


def fault_lock(root: Path) -> Outcome:
    """Run a second eval on a folder in use (refused, naming the holder), then SIGKILL the holder."""
    case, started = make_case(root), time.perf_counter()
    out = root / "run"
    holder = subprocess.Popen(case.command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / ".lock").is_file() or not (out / ".lock").read_text():
        if time.monotonic() > deadline or holder.poll() is not None:
            raise RuntimeError("the holder never locked the run folder")
        time.sleep(0.05)
    second = subprocess.run(case.command(out), capture_output=True, text=True, timeout=120)
    error = second.stderr.strip().splitlines()
    refused = second.returncode != 0 and len(error) == 1 and f"pid {holder.pid}" in error[0]
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    rerun = subprocess.run(case.command(out), capture_output=True, text=True, timeout=600)
    return score("second process on a locked run folder; holder SIGKILLed", case, out, started,
                 refused and rerun.returncode == 0, error[0] if error else "")


def fault_disk_full(root: Path) -> Outcome:
    """Fill the "disk" (RLIMIT_FSIZE) while rows are written: a one-line error, then a clean rerun."""
    case, started = make_case(root, copies=3), time.perf_counter()
    out = root / "run"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))

    full = subprocess.run(case.command(out), capture_output=True, text=True, timeout=600, preexec_fn=limit)
    errors = [line for line in full.stderr.splitlines() if line.startswith("geosleuth: error:")]
    stopped = full.returncode != 0 and len(errors) == 1 and "cannot write" in errors[0]
    rerun = subprocess.run(case.command(out), capture_output=True, text=True, timeout=600)
    return score("disk full while rows are written (RLIMIT_FSIZE)", case, out, started,
                 stopped and rerun.returncode == 0, errors[0] if errors else full.stderr[-200:])


def fault_corrupt_traces(root: Path) -> Outcome:
    """Run on a trace database that is not SQLite: the warning names it; every row is written."""
    case, started = make_case(root), time.perf_counter()
    out = root / "run"
    out.mkdir()
    (out / "traces.sqlite").write_bytes(b"this is not a database" * 100)
    with warnings_logged() as lines:
        _eval(case, out)
    named = [line for line in lines if str(out / "traces.sqlite") in line]
    return score("damaged trace database", case, out, started, bool(named), named[0] if named else "")


def fault_locked_traces(root: Path, busy_ms: int = 1000) -> Outcome:
    """Run on a trace database another connection holds locked: the warning names it; rows written.

    The busy timeout is shortened to `busy_ms` for the run (60 s by default) so the table comes quickly.
    """
    from geosleuth.run import traces

    case, started = make_case(root), time.perf_counter()
    out = root / "run"
    out.mkdir()
    traces.TraceStore(out / "traces.sqlite").close()
    blocker = sqlite3.connect(out / "traces.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    saved, traces.BUSY_TIMEOUT_MS = traces.BUSY_TIMEOUT_MS, busy_ms
    try:
        with warnings_logged() as lines:
            _eval(case, out)
    finally:
        traces.BUSY_TIMEOUT_MS = saved
        blocker.execute("ROLLBACK")
        blocker.close()
    named = [line for line in lines if str(out / "traces.sqlite") in line and "locked" in line]
    return score("locked trace database", case, out, started, bool(named), named[0] if named else "")


def damage(path: Path) -> None:
    """Change one character of a tool cache entry's summary, so it still parses but fails its checksum."""
    entry = json.loads(path.read_text(encoding="utf-8"))
    entry["evidence"]["summary"] = entry["evidence"]["summary"] + "!"
    path.write_text(json.dumps(entry), encoding="utf-8")


def fault_tool_cache(root: Path) -> Outcome:
    """Damage an OCR cache entry: it is logged, recomputed and rewritten; the answers do not change."""
    from geosleuth.evals import tool_cache

    case, started = make_case(root), time.perf_counter()
    _eval(case, root / "first")
    entries = sorted((root / "cache" / "tool-cache" / "ocr").rglob("*.json"))
    damage(entries[0])
    with warnings_logged() as lines:
        _eval(case, root / "run")
    tool_cache.activate(None)
    rebuilt = tool_cache.read_entry(entries[0]) is not None
    named = [line for line in lines if str(entries[0]) in line]
    first = [json.loads(x)["guess"] for x in (root / "first" / "results.jsonl").read_text().splitlines()]
    again = [json.loads(x)["guess"] for x in (root / "run" / "results.jsonl").read_text().splitlines()]
    return score("damaged tool cache entry", case, root / "run", started,
                 bool(named) and rebuilt and first == again, named[0] if named else "")


def fault_model(root: Path) -> Outcome:
    """Damage the assembled model: its sha256 check fails, it is logged and assembled again."""
    from geosleuth.run.local_llm import assemble_model, is_verified

    started = time.perf_counter()
    path = assemble_model(root)
    with path.open("r+b") as handle:
        handle.seek(1 << 20)
        byte = handle.read(1)
        handle.seek(1 << 20)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with warnings_logged() as lines:
        assemble_model(root)
    named = [line for line in lines if str(path) in line]
    ok = bool(named) and is_verified(root)
    return Outcome("damaged assembled model file", ok, 0, 0, 0, 0, time.perf_counter() - started,
                   named[0] if named else "")


LLM_PHOTOS = ("kr_seoul_namsan.jpg", "fr_paris_cafe_de_flore.jpg")
"""Two examples whose signs the LLM planner asks the model about: one loses its server, one gets a new one."""
LLM_SECONDS = 600.0
"""Each photo's budget in that fault: a loaded 2-core machine takes over 120 s for one reply."""


def _busy(port: int) -> bool:
    """Tell whether the llama.cpp server on `port` is working on a request (its /slots say so)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/slots", timeout=5) as reply:  # noqa: S310
            return any(slot.get("is_processing") for slot in json.loads(reply.read()))
    except (OSError, ValueError):
        return False


def _kill_mid_call(done: threading.Event, killed: list[int]) -> None:
    """Once the shared embedded server works on a request, SIGKILL its process; put its port in `killed`."""
    from geosleuth.run.local_llm import running_server

    while not done.wait(0.1):
        server = running_server()
        if server is not None and server.port is not None and server.pid is not None and _busy(server.port):
            killed.append(server.port)
            os.kill(server.pid, signal.SIGKILL)
            return


def fault_llm_server(root: Path) -> Outcome:
    """Kill the embedded LLM server while the LLM planner waits for its reply (an eval of two photos).

    The photo whose call died must keep the look-first answer (the policy's, from an eval of the same
    photos) and its trace must say that the model failed and why; the next photo's run must find the
    server dead, start a new one and get a reply from it.

    Raises:
        FaultUnavailable: The embedded LLM is not installed.
    """
    from geosleuth.evals.runner import EvalOptions, run_eval
    from geosleuth.run.llm import llm_available
    from geosleuth.run.local_llm import running_server
    from geosleuth.run.traces import TraceStore

    flags = {"tools": TOOLS, "stop_confidence": 1.0, "max_seconds": LLM_SECONDS}  # always ask the model
    settings = resolve_settings(flags, env={})[0]
    available = llm_available(settings)
    if available is not True:
        raise FaultUnavailable(f"the embedded LLM is not installed: {available}")
    case, started = make_case(root, files=LLM_PHOTOS), time.perf_counter()

    def evaluate(planner: str) -> dict[str, dict[str, Any]]:
        out = root / planner
        run_eval(EvalOptions(dataset=str(case.labels), out=out, planner=planner, workers=1, progress=False,
                             tool_cache=False, time_limit_s=2 * LLM_SECONDS), settings)
        return {row["id"]: row for row in map(json.loads, (out / "results.jsonl").read_text().splitlines())}

    floor = evaluate("policy")
    done = threading.Event()
    killed: list[int] = []
    killer = threading.Thread(target=_kill_mid_call, args=(done, killed), daemon=True)
    killer.start()
    try:
        with warnings_logged() as lines:
            rows = evaluate("llm")
    finally:
        done.set()
        killer.join()
    store = TraceStore(root / "llm" / "traces.sqlite")
    calls = {key: [step for step in store.steps(row["trace_id"]) if step["kind"] == "llm"]
             for key, row in rows.items()}
    store.close()
    failed = [key for key, steps in calls.items() if steps and all(s["error"] for s in steps)]
    answered = [key for key, steps in calls.items() if any(not s["error"] and s["tokens_out"] for s in steps)]
    restarted = [line for line in lines if killed and f"port {killed[0]} is dead" in line]
    server = running_server()
    ok = (
        len(failed) == 1 and len(answered) == 1 and bool(restarted)
        and rows[failed[0]]["guess"] == floor[failed[0]]["guess"]
        and server is not None and server.port not in (None, *killed)
        and all(row["error"] is None for row in rows.values())
    )
    note = (
        f"{failed[0]}: {calls[failed[0]][-1]['error']}; next photo: {restarted[0]}" if failed and restarted
        else f"killed port {killed}; failed {failed}; answered {answered}; logged {lines[:2]}"
    )
    name = "embedded LLM server process killed mid-call (SIGKILL)"
    return score(name, case, root / "llm", started, ok, note)


FAULTS: list[Callable[[Path], Outcome]] = [
    fault_lock, fault_disk_full, fault_corrupt_traces, fault_locked_traces, fault_tool_cache, fault_model,
    fault_llm_server,
]


def run(settings: Settings) -> None:
    """Run every fault in a temporary folder and print the table (the settings are not used)."""
    from rich.table import Table

    from geosleuth.app.cli_common import make_console

    table = Table(title="faults in the middle of work (ocr, text_clues, gazetteer; the policy planner, the "
                        "LLM planner for the LLM server)", title_justify="left")
    for column in ("fault", "survived", "rows given", "rows written", "lost/duplicated", "s", "what it said"):
        table.add_column(column)
    for fault in FAULTS:
        with tempfile.TemporaryDirectory(prefix="geosleuth-fault-") as folder:
            try:
                o = fault(Path(folder))
            except FaultUnavailable as exc:
                table.add_row(fault.__name__, "skipped", "", "", "", "", str(exc)[:160])
                continue
        table.add_row(o.fault, "yes" if o.survived else "NO", str(o.given), str(o.written),
                      f"{o.lost}/{o.duplicated}", f"{o.seconds:.1f}", o.note[:160])
    make_console().print(table)
