"""What the online tools (OSM, web search) share: failure classes, retries with backoff, a disk cache.

A request's failure is a `Failed` carrying one of the `ErrorType`s the Evidence reports; whether a
retry may help decides `with_retries`. Transient failures (HTTP 429, 5xx, timeouts) are retried with
exponential backoff, all within the call's time budget; a network that is not there at all
(connection refused, DNS failure, unreachable) fails at once. Successful responses are kept in an
on-disk cache, one JSON file per request named by the sha256 of endpoint and query.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
import urllib.error
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from typing import Any, TypeVar

from geosleuth.core.state import ErrorType

BACKOFF_S = 0.5
"""First wait before a retry; each further retry waits twice as long (or what Retry-After asks)."""

RETRYABLE_STATUS: dict[int, ErrorType] = {
    429: "rate_limited", 500: "unavailable", 502: "unavailable", 503: "unavailable", 504: "timeout"
}
"""HTTP statuses worth retrying, with the failure they are reported as when the retries run out."""

T = TypeVar("T")


class Failed(Exception):
    """A classified failure of one request; `retry` says whether trying again may help."""

    def __init__(self, type: ErrorType, message: str, *, retry: bool = False, wait: float | None = None):
        super().__init__(message)
        self.type: ErrorType = type
        self.message = message
        self.retry = retry
        self.wait = wait


def cache_path(cache_dir: Path | None, endpoint: str, query: str) -> Path | None:
    """Return the cache file of one request (None when caching is off)."""
    if cache_dir is None:
        return None
    digest = hashlib.sha256(f"{endpoint}\n{query}".encode()).hexdigest()
    return Path(cache_dir) / f"{digest}.json"


def cache_read(path: Path | None) -> dict[str, Any] | None:
    """Return a cached payload, None when there is none or it cannot be read."""
    if path is None or not path.is_file():
        return None
    try:
        payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))  # as cache_write wrote it
        return payload
    except (OSError, ValueError):
        return None


def cache_write(path: Path | None, payload: dict[str, Any]) -> None:
    """Store a payload atomically; an unwritable cache only costs a network call next time."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


def with_retries(
    call: Callable[[float], T], *, timeout_s: float, retries: int, backoff_s: float = BACKOFF_S
) -> T:
    """Run call(remaining_seconds), retrying retryable failures with backoff until the deadline."""
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Failed("timeout", f"no answer within {timeout_s:g} s")
        try:
            return call(remaining)
        except Failed as failure:
            wait = failure.wait if failure.wait is not None else backoff_s * 2**attempt
            if not failure.retry or attempt >= retries or time.monotonic() + wait >= deadline:
                raise
            time.sleep(wait)
            attempt += 1


def network_failure(error: BaseException) -> Failed:
    """Classify a connection-level error: a missing network fails at once, a timeout may be retried."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError | socket.timeout) or "timed out" in str(reason):
        return Failed("timeout", f"request timed out: {reason}", retry=True)
    if isinstance(reason, ConnectionResetError | HTTPException):
        return Failed("unavailable", f"connection dropped: {reason}", retry=True)
    return Failed("unavailable", f"service unreachable: {reason}")


def status_failure(status: int, body: str = "", retry_after: str | None = None) -> Failed:
    """Classify an HTTP error status."""
    if status in RETRYABLE_STATUS:
        wait = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
        return Failed(RETRYABLE_STATUS[status], f"HTTP {status}", retry=True, wait=wait)
    if status == 400:
        detail = " ".join(re.sub(r"<[^>]+>", " ", body).split())[:300]
        return Failed("bad_input", f"HTTP 400 (query rejected): {detail}")
    return Failed("unavailable", f"HTTP {status}")
