"""The eval runner's bookkeeping: torn results lines, run folders of another configuration refused.

The runner on real photos (kill -9 and resume, errors and timeouts as rows, metadata withheld, tool
results reused by photo hash): tests/integration.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_runs import settings_for

from geosleuth.evals.runner import (
    EvalOptions,
    RunError,
    make_header,
    prepare_run_dir,
    read_results,
)


def test_torn_last_line_is_cut_and_ignored(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": "b"}\n{"id": "c", "gu')
    assert list(read_results(path)) == ["a", "b"]
    assert path.read_bytes().endswith(b'"gu')  # read only: untouched
    assert list(read_results(path, repair=True)) == ["a", "b"]
    assert path.read_bytes() == b'{"id": "a"}\n{"id": "b"}\n'
    path.write_bytes(b'{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(RunError, match="line 2: not JSON"):
        read_results(path)


def test_run_folder_of_another_configuration_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    run_dir = tmp_path / "runs" / "r"
    options = EvalOptions(dataset="streetscapes-sample", out=run_dir)
    prepare_run_dir(run_dir, make_header(options, settings, "policy", 1), force_new=False)
    (run_dir / "results.jsonl").write_text('{"id": "x"}\n')
    other = settings.model_copy(update={"tools": ("ocr",)})
    with pytest.raises(RunError, match=r"tools=.*--force-new"):
        prepare_run_dir(run_dir, make_header(options, other, "policy", 1), force_new=False)
    with pytest.raises(RunError, match="planner='policy' \\(now 'llm'\\)"):
        prepare_run_dir(run_dir, make_header(options, settings, "llm", 1), force_new=False)
    done = prepare_run_dir(run_dir, make_header(options, other, "policy", 1), force_new=True)
    assert done == {}
    aside = [p for p in run_dir.parent.iterdir() if p.name.startswith("r.replaced-")]
    assert len(aside) == 1 and (aside[0] / "results.jsonl").read_text() == '{"id": "x"}\n'  # nothing lost
