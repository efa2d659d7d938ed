"""`geosleuth trace serve` refuses non-loopback addresses (the served viewer: tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geosleuth.app.trace_view import TraceViewError, make_server
from geosleuth.run.traces import TraceStore


def test_refuses_non_loopback_addresses(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")
    for host in ("0.0.0.0", "192.168.1.10", "example.com", ""):
        with pytest.raises(TraceViewError, match="loopback only"):
            make_server(store, host, 0)
