"""The `geosleuth doctor` command: report which models, OCR engines, data and endpoints are available."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from geosleuth.app.cli_common import ConfigOption, load_settings

_STYLE = {"ok": "green", "missing": "yellow", "unset": "dim", "offline": "yellow", "error": "red"}


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, not a table.")] = False,
    config: ConfigOption = None,
) -> None:
    """Report which LLMs, CLIP models, OCR engines, GPU, data sets and endpoints this install can use."""
    from geosleuth.app.doctor import run_checks

    settings = load_settings(config)
    checks = run_checks(settings)
    if as_json:
        sys.stdout.write(json.dumps({"checks": [c.as_dict() for c in checks]}, ensure_ascii=False) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="geosleuth doctor", show_lines=False)
    for column in ("section", "check", "status", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        style = _STYLE[check.status]
        table.add_row(check.section, check.name, f"[{style}]{check.status}[/{style}]", check.detail)
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the `doctor` command to the geosleuth app."""
    app.command("doctor")(doctor)
