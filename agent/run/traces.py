"""The trace store: every run's header and each of its steps, in one SQLite file.

A *run* is one photo located once (by `locate`, `chat` or an eval); a *step* is one thing that
happened in it: an LLM call, a tool call, a guard decision, the commit, a user message. The store is
SQLite in WAL mode so several threads and processes (eval workers) can write to one file at once and a
killed process loses at most the step it was writing. Each thread (and each process after a fork) gets
its own connection; writers wait up to `BUSY_TIMEOUT_MS` for the lock.

Secrets never reach the file: config keys naming a key, token, secret or password are dropped, and
key-like strings (OpenAI/HF/GitHub/AWS/Slack tokens, bearer headers, the values of secret-named
environment variables) are replaced by `[redacted]` in everything stored. Inline images (`data:`
URLs) are replaced by a placeholder with their size; traces refer to photos by path and sha256.

Schema (version `SCHEMA_VERSION`, kept in `PRAGMA user_version`):
`runs` is the header (kind, planner, model, photo, config, truth, guess, status, usage, timings,
error_km / country_correct when the truth is known); `steps` holds (run_id, idx) -> kind, name, input,
output, error, seconds, token counts, the Belief's top countries after the step and, when the run's
truth is known, `p_truth`, the probability of the true country after the step.

`LenientTraceStore` is the one batch and eval workers write: the first write that fails (a locked,
full or damaged file) is logged once with the file's name and tracing stops, so the photos still get
their answers and results rows.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from pydantic import BaseModel

from geosleuth.core.geo import distance_km

if TYPE_CHECKING:
    from geosleuth.core.config import Settings

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000
BELIEF_TOP_K = 5
STEP_KINDS = ("llm", "tool", "guard", "commit", "user")
RUN_STATUSES = ("running", "ok", "error")
REDACTED = "[redacted]"

_SECRET_NAME = re.compile(r"key|secret|passw|credential|token(?!s)|auth", re.IGNORECASE)
"""Config keys (and environment variable names) that hold secrets; `*tokens*` are counts, kept."""

_SECRET_VALUE = re.compile(
    r"sk-[A-Za-z0-9_\-]{16,}"  # OpenAI and compatible
    r"|hf_[A-Za-z0-9]{20,}"  # Hugging Face
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/\-]{12,}=*"  # Authorization headers
)
_DATA_URL = re.compile(r"data:[a-z]+/[A-Za-z0-9.+\-]+;base64,[A-Za-z0-9+/=]+")

_SCHEMA = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    planner TEXT NOT NULL,
    model TEXT,
    photo TEXT NOT NULL,
    photo_sha256 TEXT,
    eval_run TEXT,
    config TEXT NOT NULL,
    truth TEXT,
    truth_country TEXT,
    prior_top TEXT,
    prior_p_truth REAL,
    status TEXT NOT NULL DEFAULT 'running',
    started REAL NOT NULL,
    finished REAL,
    seconds REAL,
    guess TEXT,
    guess_country TEXT,
    error TEXT,
    error_km REAL,
    country_correct INTEGER,
    llm_calls INTEGER NOT NULL DEFAULT 0,
    tool_calls INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_eval ON runs (eval_run, started);
CREATE INDEX runs_started ON runs (started);
CREATE INDEX runs_photo ON runs (photo_sha256);
CREATE TABLE steps (
    run_id TEXT NOT NULL REFERENCES runs (id),
    idx INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    seconds REAL NOT NULL DEFAULT 0,
    tokens_in INTEGER,
    tokens_out INTEGER,
    belief_top TEXT,
    p_truth REAL,
    at REAL NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX steps_tool ON steps (kind, name);
"""

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
_RUN_JSON = ("config", "truth", "guess", "prior_top")
_STEP_JSON = ("input", "output", "belief_top")


class TraceStoreError(Exception):
    """The trace file cannot be used (not SQLite, written by a newer geosleuth, unknown run)."""


def scrub_config(config: Any) -> Any:
    """Return `config` without any entry whose key names a secret (recursively through dicts/lists)."""
    if isinstance(config, dict):
        return {
            str(k): scrub_config(v) for k, v in config.items() if not _SECRET_NAME.search(str(k))
        }
    if isinstance(config, list | tuple):
        return [scrub_config(v) for v in config]
    return config


def _secret_env_values() -> list[str]:
    """Values of environment variables whose names mark them as secrets (8+ characters only)."""
    return sorted(
        {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8}, key=len, reverse=True
    )


def scrub_text(text: str) -> str:
    """Replace key-like strings, secret environment values and inline images in `text`."""
    for value in _secret_env_values():
        for form in {value, json.dumps(value)[1:-1]}:
            text = text.replace(form, REDACTED)
    text = _SECRET_VALUE.sub(REDACTED, text)
    return _DATA_URL.sub(lambda m: f"[inline image, {len(m.group(0))} characters]", text)


def _dump(value: Any) -> str | None:
    """Serialise `value` as scrubbed JSON (None stays NULL); non-JSON objects become their str()."""
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return scrub_text(json.dumps(value, ensure_ascii=False, default=str))


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _belief_summary(
    belief: dict[str, float] | None, truth_country: str | None
) -> tuple[list[list[Any]] | None, float | None]:
    """Return a full belief's top BELIEF_TOP_K [code, p] and the truth's probability (None if unknown)."""
    if belief is None:
        return None, None
    top = sorted(belief.items(), key=lambda item: (-item[1], item[0]))[:BELIEF_TOP_K]
    p_truth = None if truth_country is None else float(belief.get(truth_country, 0.0))
    return [[str(code), float(p)] for code, p in top], p_truth


def _guess_country(guess: dict[str, Any] | None) -> str | None:
    """Return the ISO2 code of a guess: a Guess dump has `country_code`, an eval results row has `country`."""
    if not guess:
        return None
    code = guess.get("country_code") or guess.get("country")
    return code if isinstance(code, str) and len(code) == 2 else None


def _truth_country(truth: dict[str, Any] | None) -> str | None:
    if not truth:
        return None
    code = truth.get("country") or truth.get("country_code")
    return str(code).upper() if code else None


class TraceStore:
    """A SQLite trace file shared by threads and processes; see the module docstring for the schema."""

    def __init__(self, path: Path | str) -> None:
        """Open (creating folders and schema as needed) the trace store at `path`.

        Raises:
            TraceStoreError: the file is not a SQLite database or has a newer schema.
        """
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._truths: dict[str, str | None] = {}
        self._migrate(self._conn())

    @staticmethod
    def default_path(settings: Settings) -> Path:
        """Return the store `settings` name: `settings.trace_db`, default `<cache_dir>/traces.sqlite`."""
        return Path(settings.trace_db or Path(settings.cache_dir) / "traces.sqlite")

    @classmethod
    def for_settings(cls, settings: Settings) -> TraceStore:
        """Open the store named by `settings.trace_db`, default `<cache_dir>/traces.sqlite`."""
        return cls(cls.default_path(settings))

    # connections -----------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        """Return this thread's connection (new after a fork: SQLite handles must not cross processes)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise TraceStoreError(f"{self.path} is not a usable SQLite trace store: {exc}") from exc
        if str(mode).lower() != "wal":
            raise TraceStoreError(f"{self.path}: could not switch to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.row_factory = sqlite3.Row
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._connections.append(conn)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Create the schema in an empty file; refuse a file written by a newer schema."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise TraceStoreError(f"{self.path} is not a usable SQLite trace store: {exc}") from exc
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise TraceStoreError(
                    f"{self.path} has trace schema {version}, newer than this geosleuth's {SCHEMA_VERSION}"
                )
            if version == 0:
                tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
                if tables:
                    raise TraceStoreError(f"{self.path} is a SQLite file but not a geosleuth trace store")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> TraceStore:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()

    # writing ---------------------------------------------------------------------------------------
    def start_run(
        self, *, kind: str, planner: str, photo: str, photo_sha256: str | None, config: dict[str, Any],
        model: str | None = None, eval_run: str | None = None, truth: dict[str, Any] | None = None,
        prior: dict[str, float] | None = None,
    ) -> str:
        """Record the start of a run and return its id; `config` is stored without secrets.

        `truth` ({"lat", "lon", "country"}) is kept for analysis only (p_truth per step, error_km).
        `prior` ({ISO2: probability}, the Belief before any step) is kept as its top countries and,
        with the truth, the true country's prior probability, so the first step's effect is known.
        """
        run_id = uuid.uuid4().hex[:16]
        truth_country = _truth_country(truth)
        prior_top, prior_p_truth = _belief_summary(prior, truth_country)
        self._conn().execute(
            "INSERT INTO runs (id, kind, planner, model, photo, photo_sha256, eval_run, config, truth, "
            "truth_country, prior_top, prior_p_truth, started) VALUES (" + ", ".join("?" * 13) + ")",
            (run_id, kind, planner, model, scrub_text(str(photo)), photo_sha256, eval_run,
             _dump(scrub_config(config)), _dump(truth), truth_country, _dump(prior_top), prior_p_truth,
             time.time()),
        )
        self._truths[run_id] = truth_country
        return run_id

    def _truth_of(self, run_id: str) -> str | None:
        if run_id not in self._truths:
            row = self._conn().execute("SELECT truth_country FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise TraceStoreError(f"no run {run_id!r} in {self.path}")
            self._truths[run_id] = row[0]
        return self._truths[run_id]

    def add_step(
        self, run_id: str, *, kind: str, name: str, input: Any = None, output: Any = None,
        error: str | None = None, seconds: float = 0.0, tokens_in: int | None = None,
        tokens_out: int | None = None, belief_top: list[tuple[str, float]] | None = None,
        belief: dict[str, float] | None = None,
    ) -> int:
        """Append one step to a run and return its index (0, 1, ...).

        `kind` is one of STEP_KINDS. Give the Belief after the step either as `belief_top` (the top
        countries) or as the full `belief` mapping {ISO2: probability}; from the full mapping the store
        keeps the top BELIEF_TOP_K and, when the run's truth is known, the true country's probability
        (`p_truth`); from `belief_top` alone p_truth is known only when the truth is among them.
        """
        if kind not in STEP_KINDS:
            raise ValueError(f"unknown step kind {kind!r}; expected one of {', '.join(STEP_KINDS)}")
        truth = self._truth_of(run_id)
        if belief is not None:
            top, p_truth = _belief_summary(belief, truth)
        else:
            top = None if belief_top is None else [[str(code), float(p)] for code, p in belief_top]
            p_truth = next((p for code, p in top or [] if code == truth), None)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            idx = conn.execute(
                "SELECT coalesce(max(idx) + 1, 0) FROM steps WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO steps (run_id, idx, kind, name, input, output, error, seconds, tokens_in, "
                "tokens_out, belief_top, p_truth, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, idx, kind, name, _dump(input), _dump(output),
                 None if error is None else scrub_text(error), float(seconds), tokens_in, tokens_out,
                 _dump(top), p_truth, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(idx)

    def finish_run(
        self, run_id: str, *, guess: dict[str, Any] | BaseModel | None, error: str | None = None,
        seconds: float, llm_calls: int = 0, tool_calls: int = 0, tokens: int = 0,
    ) -> None:
        """Record how a run ended: its guess (or error), usage and time; scores it when truth is known."""
        row = self._conn().execute("SELECT truth FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise TraceStoreError(f"no run {run_id!r} in {self.path}")
        truth = _load(row["truth"]) or {}
        if isinstance(guess, BaseModel):
            guess = guess.model_dump(mode="json")
        guess_country = _guess_country(guess)
        error_km = None
        if guess and guess.get("lat") is not None and truth.get("lat") is not None:
            error_km = distance_km(truth["lat"], truth["lon"], guess["lat"], guess["lon"])
        truth_country = _truth_country(truth)
        correct = None if truth_country is None else int(guess_country == truth_country)
        self._conn().execute(
            "UPDATE runs SET status = ?, finished = ?, seconds = ?, guess = ?, guess_country = ?, error = ?, "
            "error_km = ?, country_correct = ?, llm_calls = ?, tool_calls = ?, tokens = ? WHERE id = ?",
            ("error" if error else "ok", time.time(), float(seconds), _dump(guess), guess_country,
             None if error is None else scrub_text(error), error_km, correct, llm_calls, tool_calls,
             tokens, run_id),
        )

    # reading ---------------------------------------------------------------------------------------
    @staticmethod
    def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
        run = dict(row)
        for column in _RUN_JSON:
            run[column] = _load(run[column])
        if run["country_correct"] is not None:
            run["country_correct"] = bool(run["country_correct"])
        return run

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """Return one run's header as a dict (JSON columns parsed), or None when there is no such run."""
        row = self._conn().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else self._run_dict(row)

    def resolve_id(self, prefix: str) -> str:
        """Return the one run id starting with `prefix` (ids are long; people type the first few characters).

        Raises:
            TraceStoreError: no run or several runs match.
        """
        rows = self._conn().execute(
            "SELECT id FROM runs WHERE id >= ? AND id < ? LIMIT 2", (prefix, prefix + "\uffff")
        ).fetchall()
        if len(rows) != 1:
            what = "no run" if not rows else "several runs"
            raise TraceStoreError(f"{what} with id starting {prefix!r} in {self.path}")
        return str(rows[0][0])

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """Return a run's steps in order, each a dict with JSON columns parsed."""
        rows = self._conn().execute("SELECT * FROM steps WHERE run_id = ? ORDER BY idx", (run_id,)).fetchall()
        out = []
        for row in rows:
            step = dict(row)
            for column in _STEP_JSON:
                step[column] = _load(step[column])
            out.append(step)
        return out

    def list_runs(self, **filters: Any) -> list[dict[str, Any]]:
        """Return run headers, newest first, that match every given filter.

        Filters: `eval_run` (str), `planner` (str), `kind` (str), `status` (str), `photo_sha256` (str),
        `wrong_country` (bool: guess country differs from the truth; runs without truth never match),
        `min_error_km` (float: error above this distance), `tool` (str: a tool step of that name),
        `since` / `until` (Unix seconds of the start), `limit` (int).

        Raises:
            ValueError: an unknown filter name.
        """
        equal = ("eval_run", "planner", "kind", "status", "photo_sha256")
        known = {*equal, "wrong_country", "min_error_km", "tool", "since", "until", "limit"}
        unknown = set(filters) - known
        if unknown:
            raise ValueError(
                f"unknown trace filter(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        where, args = [], []
        for name in equal:
            if filters.get(name) is not None:
                where.append(f"{name} = ?")
                args.append(filters[name])
        if filters.get("wrong_country") is not None:
            where.append("country_correct = ?")
            args.append(0 if filters["wrong_country"] else 1)
        if filters.get("min_error_km") is not None:
            where.append("error_km > ?")
            args.append(float(filters["min_error_km"]))
        if filters.get("tool") is not None:
            where.append(
                "EXISTS (SELECT 1 FROM steps s WHERE s.run_id = runs.id AND s.kind = 'tool' AND s.name = ?)"
            )
            args.append(filters["tool"])
        if filters.get("since") is not None:
            where.append("started >= ?")
            args.append(float(filters["since"]))
        if filters.get("until") is not None:
            where.append("started < ?")
            args.append(float(filters["until"]))
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY started DESC, id"
        if filters.get("limit") is not None:
            sql += " LIMIT ?"
            args.append(int(filters["limit"]))
        return [self._run_dict(row) for row in self._conn().execute(sql, args).fetchall()]

    def tools_used(self, run_id: str) -> list[str]:
        """Return the distinct tool names a run called, in first-call order."""
        rows = self._conn().execute(
            "SELECT name FROM steps WHERE run_id = ? AND kind = 'tool' GROUP BY name ORDER BY min(idx)",
            (run_id,),
        ).fetchall()
        return [row[0] for row in rows]


def _lenient(
    method: Callable[Concatenate[TraceStore, P], R], off: R
) -> Callable[Concatenate[TraceStore, P], R]:
    """Wrap a TraceStore write: once one has failed (or for an untraced run id "") it returns `off`."""

    def write(store: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if store.failure is None and (not args or args[0]):
            try:
                return method(store, *args, **kwargs)
            except (sqlite3.Error, TraceStoreError, OSError) as exc:
                store.failure = f"{type(exc).__name__}: {exc}"
                log.warning("traces not recorded in %s from now on: %s", store.path, store.failure)
        return off

    return write


class LenientTraceStore(TraceStore):
    """A TraceStore whose first failed write is logged (naming the file) and turns tracing off.

    `start_run` then returns "" (no trace id) and the other writes do nothing; `failure` says why.
    """

    failure: str | None = None
    start_run = _lenient(TraceStore.start_run, "")
    add_step = _lenient(TraceStore.add_step, -1)
    finish_run = _lenient(TraceStore.finish_run, None)


def write_jsonl(traces: list[tuple[dict[str, Any], list[dict[str, Any]]]], stream: IO[str]) -> None:
    """Write one JSON object per run: the run header with its steps under "steps"."""
    for run, steps in traces:
        stream.write(json.dumps({**run, "steps": steps}, ensure_ascii=False) + "\n")


def _json_cell(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def write_parquet(traces: list[tuple[dict[str, Any], list[dict[str, Any]]]], path: Path) -> None:
    """Write one Parquet row per step, with its run's header columns; JSON values as JSON strings."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for run, steps in traces:
        head = {f"run_{k}": _json_cell(v) if k in _RUN_JSON else v for k, v in run.items()}
        for step in steps:
            body = {k: _json_cell(v) if k in _STEP_JSON else v for k, v in step.items()}
            rows.append({**head, **body})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
