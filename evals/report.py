"""`geosleuth eval report RUN`: the metrics of one eval run as Markdown and a self-contained HTML page.

A run folder (written by the eval runner) holds `run.json` (the header) and `results.jsonl` (one row
per photo). `load_run` reads it; `write_report` writes `report.md` and `report.html`, and the full
per-country scores and confusion matrix as `country_metrics.json` and `country_confusion.csv` (the
report shows the largest countries). The HTML page fetches nothing: its plots are inline SVG
(`geosleuth.evals.plots`) and the thumbnails of the worst failures are small inline JPEGs.
"""

from __future__ import annotations

import base64
import csv
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
    NO_GUESS,
    THRESHOLDS_KM,
    Scored,
    bootstrap_ci,
    breakdown,
    confusion_matrix,
    country_scores,
    coverage_accuracy,
    macro_f1,
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
MATRIX_COUNTRIES = 10
"""The confusion matrix in the report has the largest true countries; the rest are merged into OTHER."""
OTHER = "other"
COUNTRY_METRICS_JSON = "country_metrics.json"
CONFUSION_CSV = "country_confusion.csv"
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

    Next to them go the full country metrics, `country_metrics.json` and `country_confusion.csv`.

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
    _write_country_files(run.scored, out_dir)
    return [md_path, html_path]


def _write_country_files(scored: list[Scored], out_dir: Path) -> None:
    """Write every country's precision/recall/F1 (JSON) and the full confusion matrix (JSON and CSV).

    The CSV has a row per true country and a column per guessed country (NO_GUESS: no country).
    """
    matrix = confusion_matrix(scored)
    summary = {
        "rows": len(scored),
        "rows_with_country": sum(1 for s in scored if s.true_country),
        "country_accuracy": METRICS["country_accuracy"](scored),
        "macro_f1": _json_number(macro_f1(scored)),
        "countries": [{"country": c.country, "support": c.support, "predicted": c.predicted,
                       "correct": c.correct, "precision": c.precision, "recall": c.recall, "f1": c.f1}
                      for c in country_scores(scored)],
        "confusion": matrix,
    }
    json_path, csv_path = out_dir / COUNTRY_METRICS_JSON, out_dir / CONFUSION_CSV
    json_path.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    columns = list(dict.fromkeys([*matrix, *(g for row in matrix.values() for g in row if g != NO_GUESS),
                                  NO_GUESS]))
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["truth / guess", *columns])
        writer.writerows([truth, *(row.get(c, 0) for c in columns)] for truth, row in matrix.items())


def _json_number(value: float) -> float | None:
    """Return the value, None for NaN (JSON has no NaN)."""
    return None if math.isnan(value) else value


def build_sections(run: RunResults) -> list[Section]:
    """Compute every table of the report (and the plots of the HTML page) from a run."""
    scored = run.scored
    map_points = [
        MapPoint(s.true_lat, s.true_lon, s.pred_lat, s.pred_lon, s.country_correct, str(row["id"]))
        for row, s in zip(run.rows, scored, strict=True)
        if s.true_lat is not None and s.true_lon is not None
    ]
    overall = _overall(scored)
    located = [s.error_km for s in scored if s.located]
    overall.html_before = error_cdf_svg({run.name: located}) if located else ""
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
        _country_scores(scored),
        _confusion_matrix(scored),
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
    answered = sum(s.distance_km is not None for s in scored)
    rows += [
        ["macro-F1 over the true countries", _pct(summary["macro_f1"]), ""],
        [f"median error, {answered} answered only", format_km(summary["median_km"]), ""],
        [f"mean error, {answered} answered only", format_km(summary["mean_km"]), ""],
        [f"mean GeoScore, {answered} answered only", _num(summary["geoscore"]), ""],
    ]
    note = (f"{summary['n']} photos, {summary['unanswered']} misses (no predicted point: wrong at every "
            f"threshold, infinite error, GeoScore 0). {located_note(summary)} Intervals: 95% bootstrap "
            f"percentiles, {BOOTSTRAP_SAMPLES} resamples, seed 0.")
    return Section("Overall", ["metric", "value", "95% CI"], rows, note)


def located_note(summary: dict[str, float | int]) -> str:
    """One sentence: over how many rows (those whose truth has coordinates) the distance metrics are."""
    n, located = summary["n"], summary["n_located"]
    if located == n:
        return f"Distance metrics over all {n} rows (every truth has coordinates)."
    return (f"Distance metrics over {located} of {n} rows with coordinates; the others are labelled "
            "with a country only and count for the country metrics alone.")


def _country_scores(scored: list[Scored]) -> Section:
    """Per-country precision, recall and F1 (the largest countries), with accuracy and macro-F1 above."""
    scores = country_scores(scored)
    true_countries = sum(1 for c in scores if c.support)
    rows = [[c.country, str(c.support), str(c.predicted), str(c.correct), _pct(c.precision), _pct(c.recall),
             _pct(c.f1)] for c in scores[:TOP_COUNTRIES]]
    labelled = sum(1 for s in scored if s.true_country)
    note = (f"Country accuracy {_pct(METRICS['country_accuracy'](scored))} over {len(scored)} rows; "
            f"macro-F1 {_pct(macro_f1(scored))} (mean F1 over the {true_countries} true countries of the "
            f"{labelled} rows with a known country; countries only ever guessed are listed, not averaged). "
            "A row with no guess counts against its country's recall.")
    if len(scores) > len(rows):
        note += f" {len(scores) - len(rows)} more countries not shown; all in {COUNTRY_METRICS_JSON}."
    return Section("Country classification", ["country", "photos", "guessed", "right", "precision", "recall",
                                              "F1"], rows, note)


def _confusion_matrix(scored: list[Scored]) -> Section:
    """Tabulate the confusion matrix of the largest true countries, the others merged into OTHER."""
    matrix = confusion_matrix(scored)
    top = list(matrix)[:MATRIX_COUNTRIES]
    merged: dict[str, Counter[str]] = {name: Counter() for name in [*top, OTHER]}
    for truth, guesses in matrix.items():
        for guess, count in guesses.items():
            column = guess if guess in top or guess == NO_GUESS else OTHER
            merged[truth if truth in top else OTHER][column] += count
    merging = bool(merged[OTHER]) or any(cells[OTHER] for cells in merged.values())
    columns = [*top, *([OTHER] if merging else []), NO_GUESS]
    rows = [[truth, *(str(cells[c]) for c in columns), str(sum(cells.values()))]
            for truth, cells in merged.items() if cells]
    note = f"Rows: true country; columns: guessed country ({NO_GUESS}: no country guessed)."
    if merging:
        note += (f" The {len(top)} largest true countries; other true and guessed countries are merged "
                 f"into '{OTHER}'.")
    note += f" Full matrix: {CONFUSION_CSV}."
    return Section("Country confusion matrix", ["truth / guess", *columns, "total"], rows, note)


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
    """List the failures with the largest errors (misses first); country-only truths come last."""
    ranked = sorted(zip(run.rows, run.scored, strict=True),
                    key=lambda pair: -pair[1].error_km if pair[1].located else 0.0)
    failed = [(row, s) for row, s in ranked
              if not (s.country_correct and (not s.located or s.error_km <= FAILURE_KM))]
    worst = failed[:WORST_FAILURES]
    rows = [[str(row["id"]), s.true_country or "?", s.pred_country or "—", _error_cell(s),
             f"{s.confidence:.2f}", _error_text(row)] for row, s in worst]
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


def _error_cell(s: Scored) -> str:
    """Return a failure's error cell: the distance, 'no answer' (no point) or 'no true point'."""
    if s.pred_lat is None or s.pred_lon is None:
        return "no answer"
    return format_km(s.distance_km) if s.distance_km is not None else "no true point"


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
    return "n/a" if math.isnan(value) else f"{value:.1%}"


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
