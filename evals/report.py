"""`geosleuth eval report RUN`: the metrics of one eval run as Markdown and a self-contained HTML page.

A run folder (written by the eval runner) holds `run.json` (the header) and `results.jsonl` (one row
per photo). `load_run` reads it; `write_report` writes `report.md` and `report.html`. The HTML page
fetches nothing: its plots are inline SVG (`geosleuth.evals.plots`) and the thumbnails of the worst failures
are small inline JPEGs.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Literal

from geosleuth.core.photo import PhotoError, load_photo
from geosleuth.evals.metrics import (
    METRICS,
    THRESHOLDS_KM,
    Scored,
    bootstrap_ci,
    breakdown,
    coverage_accuracy,
    per_continent,
    per_country,
    scored_from_result,
    summarize,
)
from geosleuth.evals.plots import MapPoint, error_cdf_svg, world_map_svg
from geosleuth.tools import text_tools

THUMBNAIL_PX = 160
WORST_FAILURES = 12
TOP_CONFUSIONS = 15
TOP_COUNTRIES = 40
BOOTSTRAP_SAMPLES = 1000
FAILURE_KM = 25
"""A photo is a failure for the worst-failures table when its country is wrong or it is further off."""
METRIC_LABELS = {
    "country_accuracy": "country accuracy",
    **{f"within_{km}km": f"within {km:,} km" for km in THRESHOLDS_KM},
    "median_km_all": "median error (misses = ∞)",
    "geoscore_all": "mean GeoScore (misses = 0)",
}
"""How each of `geosleuth.evals.metrics.METRICS` is named in reports."""


@dataclass
class RunResults:
    """One eval run read back: its header, its result rows (one per photo id) and their scores."""

    path: Path
    header: dict[str, Any]
    rows: list[dict[str, Any]]
    scored: list[Scored]
    torn_last_line: bool = False
    duplicates: int = 0

    @property
    def name(self) -> str:
        """The run's name from its header, else the folder name."""
        return str(self.header.get("name") or self.path.name)


def load_run(run_dir: Path) -> RunResults:
    """Read an eval run folder.

    A last line of results.jsonl that does not parse (a run killed mid-write) is ignored; a bad line
    anywhere else is an error. When an id appears more than once the last row wins.

    Raises:
        ValueError: the folder, or its results, is missing, empty or corrupt (one-line message).
    """
    run_dir = Path(run_dir)
    results = run_dir / "results.jsonl"
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such eval run folder")
    if not results.is_file():
        raise ValueError(f"{run_dir}: no results.jsonl, so not an eval run folder")
    header = _read_header(run_dir / "run.json")
    lines = [(n, line) for n, line in enumerate(results.read_text(encoding="utf-8").splitlines(), 1)
             if line.strip()]
    by_id: dict[str, dict[str, Any]] = {}
    torn = False
    duplicates = 0
    for n, line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if n == lines[-1][0]:
                torn = True
                continue
            raise ValueError(f"{results}:{n}: corrupt line (not JSON)") from None
        if not isinstance(row, dict) or "id" not in row:
            raise ValueError(f"{results}:{n}: not a result row (no id)")
        duplicates += str(row["id"]) in by_id
        by_id[str(row["id"])] = row
    if not by_id:
        raise ValueError(f"{run_dir}: results.jsonl has no results yet")
    rows = list(by_id.values())
    scored = []
    for row in rows:
        try:
            scored.append(scored_from_result(row))
        except ValueError as exc:
            raise ValueError(f"{results}: {exc}") from None
    return RunResults(run_dir, header, rows, scored, torn, duplicates)


def _read_header(path: Path) -> dict[str, Any]:
    """Return run.json as a dict ({} when absent, since a run may be read before it is written)."""
    if not path.is_file():
        return {}
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: corrupt run header ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: corrupt run header (not a JSON object)")
    return header


@dataclass
class Section:
    """One table of the report, rendered both as Markdown and as HTML."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""
    html_before: str = ""  # raw HTML (an SVG plot) shown above the table, HTML page only
    thumbnails: list[str | None] = field(default_factory=list)  # data URIs, one per row, HTML only


def write_report(run_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """Write report.md and report.html for an eval run and return their paths.

    Args:
        run_dir: the run folder (run.json + results.jsonl).
        out_dir: where to write; default the run folder itself.

    Raises:
        ValueError: the run folder is missing, empty or corrupt.
    """
    run = load_run(Path(run_dir))
    out_dir = Path(out_dir) if out_dir is not None else run.path
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = build_sections(run)
    title = f"geosleuth eval report: {run.name}"
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(render_markdown(title, _header_lines(run), sections), encoding="utf-8")
    html_path.write_text(render_html(title, _header_lines(run), sections), encoding="utf-8")
    return [md_path, html_path]


def build_sections(run: RunResults) -> list[Section]:
    """Compute every table of the report (and the plots of the HTML page) from a run."""
    scored = run.scored
    map_points = [
        MapPoint(s.true_lat, s.true_lon, s.pred_lat, s.pred_lon, s.country_correct, str(row["id"]))
        for row, s in zip(run.rows, scored, strict=True)
    ]
    overall = _overall(scored)
    overall.html_before = error_cdf_svg({run.name: [s.error_km for s in scored]})
    countries = _breakdown("Per country (truth)", per_country(scored), TOP_COUNTRIES)
    countries.html_before = world_map_svg(map_points) + (
        '<p class="note">Map: dots are the true places (green: country right, red: wrong), rings the '
        "guesses, joined by a line.</p>")
    return [
        overall,
        _breakdown("Per continent (truth)", per_continent(scored)),
        _by_text(run),
        countries,
        _coverage(scored),
        *([_coverage(scored, by="localizability")] if any(r.localizability is not None for r in scored)
          else []),
        _worst(run),
        _confusions(scored),
        _usage(run),
    ]


def _overall(scored: list[Scored]) -> Section:
    summary = summarize(scored)
    rows = []
    for name in METRICS:
        low, high = bootstrap_ci(scored, name, n=BOOTSTRAP_SAMPLES, seed=0)
        interval = f"{format_metric(name, low)} – {format_metric(name, high)}"
        rows.append([METRIC_LABELS[name], format_metric(name, summary[name]), interval])
    answered = summary["n"] - summary["unanswered"]
    rows += [
        [f"median error, {answered} answered only", format_km(summary["median_km"]), ""],
        [f"mean error, {answered} answered only", format_km(summary["mean_km"]), ""],
        [f"mean GeoScore, {answered} answered only", _num(summary["geoscore"]), ""],
    ]
    note = (f"{summary['n']} photos, {summary['unanswered']} misses (no predicted point: wrong at every "
            "threshold, infinite error, GeoScore 0). Intervals: 95% bootstrap percentiles, "
            f"{BOOTSTRAP_SAMPLES} resamples, seed 0.")
    return Section("Overall", ["metric", "value", "95% CI"], rows, note)


def _breakdown(title: str, table: dict[str, dict[str, float | int]], limit: int | None = None) -> Section:
    headers = ["group", "n", "misses", "country acc.", "≤25 km", "≤200 km", "≤750 km", "median", "GeoScore"]
    rows = [
        [name, str(s["n"]), str(s["unanswered"]), _pct(s["country_accuracy"]), _pct(s["within_25km"]),
         _pct(s["within_200km"]), _pct(s["within_750km"]), format_km(s["median_km_all"]),
         _num(s["geoscore_all"])]
        for name, s in list(table.items())[:limit]
    ]
    note = f"{len(table) - len(rows)} more groups not shown." if len(rows) < len(table) else ""
    return Section(title, headers, rows, note)


def _by_text(run: RunResults) -> Section:
    """Split the photos by whether a text tool ran on text read in them (OCR found lines)."""
    readers = set(text_tools())
    group = {
        id(s): "text read" if readers & set(row.get("tools_used") or ()) else "no text read"
        for row, s in zip(run.rows, run.scored, strict=True)
    }
    section = _breakdown("By text read", breakdown(run.scored, lambda s: group[id(s)]))
    section.note = f"'text read': a text tool ({', '.join(sorted(readers))}) ran on lines OCR read."
    return section


def _coverage(
    scored: list[Scored], by: Literal["confidence", "localizability"] = "confidence"
) -> Section:
    rows = [[f"{p.coverage:.0%}", str(p.n), f"{p.min_confidence:.2f}", _pct(p.country_accuracy),
             _pct(p.within_200km)] for p in coverage_accuracy(scored, by=by)]
    if by == "confidence":
        note = "Photos sorted by the agent's confidence in its country, most sure first."
        return Section("Coverage vs accuracy", ["coverage", "n", "min confidence", "country acc.", "≤200 km"],
                       rows, note)
    note = ("Abstention: photos sorted by localizability (tools/localizability.py), most locatable first; "
            "answering only the top c% is what abstaining on the rest would score.")
    return Section("Abstention by localizability",
                   ["coverage", "n", "min localizability", "country acc.", "≤200 km"], rows, note)


def _worst(run: RunResults) -> Section:
    ranked = sorted(zip(run.rows, run.scored, strict=True), key=lambda pair: -pair[1].error_km)
    failed = [(row, s) for row, s in ranked if not (s.country_correct and s.error_km <= FAILURE_KM)]
    worst = failed[:WORST_FAILURES]
    rows = [[str(row["id"]), s.true_country or "?", s.pred_country or "—",
             "no answer" if s.distance_km is None else format_km(s.distance_km), f"{s.confidence:.2f}",
             _error_text(row)] for row, s in worst]
    thumbnails = [_thumbnail(row.get("image"), run.path) for row, _ in worst]
    return Section("Worst failures", ["id", "truth", "guess", "error", "confidence", "error raised"], rows,
                   f"{len(failed)} photos have the wrong country or are over {FAILURE_KM} km off; the "
                   "largest errors first, misses (infinite) at the top.", thumbnails=thumbnails)


def _confusions(scored: list[Scored]) -> Section:
    pairs = Counter((s.true_country or "?", s.pred_country or "—") for s in scored if not s.country_correct)
    rows = [[truth, guess, str(count)] for (truth, guess), count in pairs.most_common(TOP_CONFUSIONS)]
    return Section("Country confusions", ["truth", "guessed", "photos"], rows,
                   "Most frequent wrong (truth, guess) pairs; — is no country.")


def _usage(run: RunResults) -> Section:
    rows = run.rows
    errors = Counter((row.get("error") or {}).get("type", "?") for row in rows if row.get("error"))
    seconds = [float(row.get("seconds") or 0.0) for row in rows]
    table = [
        ["photos", str(len(rows))],
        ["photos that raised an error", ", ".join(f"{t}: {c}" for t, c in errors.most_common()) or "0"],
        ["mean seconds per photo", f"{sum(seconds) / len(seconds):.2f}"],
        ["LLM calls / tool calls / tokens",
         " / ".join(f"{sum(int(row.get(k) or 0) for row in rows):,}" for k in ("llm_calls", "tool_calls",
                                                                               "tokens"))],
    ]
    if run.torn_last_line:
        table.append(["torn last line of results.jsonl", "ignored"])
    if run.duplicates:
        table.append(["duplicate ids (last row kept)", str(run.duplicates)])
    return Section("Cost and errors", ["", ""], table)


def _error_text(row: dict[str, Any]) -> str:
    error = row.get("error")
    return f"{error.get('type', '?')}: {error.get('message', '')}"[:120] if isinstance(error, dict) else ""


def _header_lines(run: RunResults) -> list[str]:
    h = run.header
    tools = h.get("tools")
    fields = [("dataset", h.get("dataset")), ("planner", h.get("planner")),
              ("tools", (", ".join(map(str, tools)) or None) if isinstance(tools, list) else tools),
              ("metadata allowed", h.get("allow_metadata")),
              ("started", h.get("started")), ("finished", h.get("finished")),
              ("geosleuth", h.get("geosleuth_version")), ("git", _git_text(h.get("git")))]
    return [f"{name}: {value}" for name, value in fields if value is not None]


def _git_text(git: Any) -> str | None:
    if isinstance(git, dict):
        commit = str(git.get("commit") or "unknown")[:12]
        return f"{commit} (with uncommitted changes)" if git.get("dirty") else commit
    return None if git is None else str(git)


def _thumbnail(image: Any, run_dir: Path) -> str | None:
    """Return a data: URI of a small JPEG of the photo (metadata-free), or None when it cannot be read."""
    if not image:
        return None
    candidates = [Path(str(image)), run_dir / str(image)]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return None
    try:
        photo = load_photo(path, max_side=THUMBNAIL_PX)
    except (PhotoError, OSError):
        return None
    buffer = io.BytesIO()
    photo.image.save(buffer, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def format_metric(name: str, value: float) -> str:
    """Format a value of one of `METRICS`: a percentage, a distance or a GeoScore."""
    if name == "median_km_all":
        return format_km(value)
    return _num(value) if name == "geoscore_all" else _pct(value)


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}"


def format_km(value: float) -> str:
    """Format a distance in km; infinity (a miss, or a median over half misses) is '> 20,000 km'."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "> 20,000 km"
    return f"{value:,.0f} km" if value >= 10 else f"{value:.1f} km"


def render_markdown(title: str, header: list[str], sections: list[Section]) -> str:
    """Render the report as GitHub-flavoured Markdown (tables only; the plots are in the HTML page)."""
    out = [f"# {title}", "", *[f"- {line}" for line in header], ""]
    for section in sections:
        out += [f"## {section.title}", ""]
        if section.note:
            out += [section.note, ""]
        if not section.rows:
            out += ["(none)", ""]
            continue
        out.append("| " + " | ".join(_md_cell(h) for h in section.headers) + " |")
        out.append("|" + "|".join("---" for _ in section.headers) + "|")
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in section.rows]
        out.append("")
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_CSS = """body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}p.note{color:#555}svg{display:block;margin:1em 0}
img{display:block}"""


def render_html(title: str, header: list[str], sections: list[Section]) -> str:
    """Render the report as one self-contained HTML page (inline CSS, SVG and images; no links out)."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>", f"<h1>{escape(title)}</h1>",
           "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in header) + "</ul>"]
    for section in sections:
        out.append(f"<h2>{escape(section.title)}</h2>")
        if section.note:
            out.append(f'<p class="note">{escape(section.note)}</p>')
        out.append(section.html_before)
        if not section.rows:
            out.append("<p>(none)</p>")
            continue
        headers = (["photo"] if section.thumbnails else []) + section.headers
        out.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>")
        for i, row in enumerate(section.rows):
            cells = [f"<td>{escape(c)}</td>" for c in row]
            if section.thumbnails:
                uri = section.thumbnails[i]
                cells.insert(0, f'<td><img src="{uri}" alt="{escape(row[0])}"></td>' if uri else "<td></td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
