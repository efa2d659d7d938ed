"""`geosleuth eval ablate`: each tool alone, the policy with every tool, and the LLM agent, on one set.

A tool that works on text needs the text first, so its "alone" row is a chain: `ocr` then the tool
(`ocr+text_clues`, `ocr+gazetteer`); OSM checks names around a candidate point, so its row is
`ocr+gazetteer+osm`. `zoom` is left out (it is the LLM's re-read of a crop, not a tool of its own);
`exif` gets a row only when metadata is allowed. Every configuration is an ordinary, resumable eval
run in its own sub-folder, and they share the tool cache, so the OCR of a photo is computed once.
The table has the papers' columns: country accuracy, accuracy within 1/25/200/750/2500 km, median
error (misses infinite) and GeoScore, plus seconds per photo and errors.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosleuth.core.config import Settings
from geosleuth.evals.metrics import THRESHOLDS_KM
from geosleuth.evals.runner import EvalOptions, RunError, resolve_eval_planner, run_eval
from geosleuth.tools import get_spec

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


@dataclass(frozen=True)
class Config:
    """One row of the ablation: a label, the planner and the tools it may use."""

    label: str
    planner: str
    tools: tuple[str, ...]


@dataclass
class AblationRow:
    """One configuration's figures, or why it did not run."""

    config: Config
    metrics: dict[str, float | int] | None
    seconds_per_photo: float | None = None
    errors: int = 0
    unavailable: str | None = None


def tool_chain(tool: str) -> tuple[str, ...]:
    """Return the tools of a tool's "alone" row, from its spec: text tools after ocr, osm after the gazetteer.

    Empty for a tool with no row of its own (zoom).
    """
    return get_spec(tool).ablation_tools()


def configurations(settings: Settings, *, allow_metadata: bool, include_agent: bool) -> list[Config]:
    """Return the ablation's rows: each tool of `settings.tools` alone (as a chain), the policy, the agent."""
    rows = []
    for tool in settings.tools:
        chain = tool_chain(tool)
        if not chain or (get_spec(tool).metadata and not allow_metadata):
            continue
        rows.append(Config("+".join(chain), "policy", chain))
    rows.append(Config("policy (all tools)", "policy", tuple(settings.tools)))
    if include_agent:
        rows.append(Config("agent (llm)", "llm", tuple(settings.tools)))
    return rows


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "+-" else "-" for c in label).strip("-")


def run_ablation(
    dataset: str,
    settings: Settings,
    *,
    out: Path,
    limit: int | None = None,
    workers: int = 2,
    allow_metadata: bool = False,
    include_agent: bool = True,
    time_limit_s: float = 300.0,
    data_root: Path | None = None,
    console: Console | None = None,
    progress_console: Console | None = None,
) -> list[AblationRow]:
    """Run every configuration on `dataset`, print the table, and write ablation.md/.json under `out`.

    The LLM row is marked unavailable (not run) when no LLM answers.

    Raises:
        DatasetError: the dataset is unknown or missing.
    """
    from rich.console import Console


    console = console or Console()
    results = []
    for config in configurations(settings, allow_metadata=allow_metadata, include_agent=include_agent):
        run_settings = settings.model_copy(update={"tools": config.tools, "planner": config.planner})
        if config.planner == "llm":
            try:
                resolve_eval_planner("llm", run_settings)
            except RunError as exc:
                results.append(AblationRow(config, None, unavailable=str(exc)))
                continue
        options = EvalOptions(
            dataset=dataset, out=out / _slug(config.label), planner=config.planner, limit=limit,
            workers=workers, backend="thread",
            time_limit_s=time_limit_s, allow_metadata=allow_metadata, data_root=data_root,
            progress=progress_console is not None,
        )
        summary = run_eval(options, run_settings, progress_console)
        seconds = statistics.fmean(r["seconds"] for r in summary.rows) if summary.rows else None
        errors = sum(r.get("error") is not None for r in summary.rows)
        results.append(AblationRow(config, summary.metrics, seconds, errors))
    table = ablation_table(results, title=f"ablation on {dataset}" + (f" (first {limit})" if limit else ""))
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.md").write_text(ablation_markdown(results, dataset), encoding="utf-8")
    (out / "ablation.json").write_text(json.dumps([_as_json(r) for r in results], indent=2) + "\n",
                                       encoding="utf-8")
    return results


COLUMNS = ("configuration", "n", "country", *(f"≤{km} km" for km in THRESHOLDS_KM), "median km", "GeoScore",
           "s/photo", "errors")


def _cells(row: AblationRow) -> list[str]:
    """Return the formatted cells of one row (dashes and the reason when it did not run)."""
    m = row.metrics
    if not m:
        return [row.config.label, "-", *["-"] * (len(COLUMNS) - 4), "-", f"unavailable: {row.unavailable}"]
    return [
        row.config.label, str(m["n"]), f"{m['country_accuracy']:.1%}",
        *(f"{m[f'within_{km}km']:.1%}" for km in THRESHOLDS_KM),
        f"{m['median_km_all']:,.0f}", f"{m['geoscore_all']:,.0f}",
        f"{row.seconds_per_photo:.2f}" if row.seconds_per_photo is not None else "-", str(row.errors),
    ]


def ablation_table(rows: list[AblationRow], title: str) -> Table:
    """Return a rich table of the ablation."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for row in rows:
        table.add_row(*_cells(row))
    return table


def ablation_markdown(rows: list[AblationRow], dataset: str) -> str:
    """Return the ablation as a Markdown table."""
    lines = [f"# Ablation on {dataset}", "", "| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _as_json(row: AblationRow) -> dict[str, Any]:
    return {
        "label": row.config.label, "planner": row.config.planner, "tools": list(row.config.tools),
        "metrics": row.metrics, "seconds_per_photo": row.seconds_per_photo, "errors": row.errors,
        "unavailable": row.unavailable,
    }
