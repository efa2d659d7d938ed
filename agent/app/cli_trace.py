"""`geosleuth trace ...`: list, show, failures, diff, serve and export the recorded traces.

A trace store is `--db PATH` (a file, or a folder holding traces.sqlite), else `Settings.trace_db`, else
`<cache_dir>/traces.sqlite` (the user store). A RUN argument is an eval run folder (runs/NAME, with
traces.sqlite and results.jsonl), the name of one under runs/ (without --db), or the name of an eval
run recorded in the store.

A trace id (`show`, `diff`; a unique prefix is enough) is looked up, in order: with `--db`, in that
store only; with `--run RUN`, in that eval run's store only; else in the user store, then in every eval
run folder under runs/ (`geosleuth eval`'s default place, relative to the working directory; also one
level deeper, for the runs of `eval ablate` and `eval split`), in name order. The first store holding
the id wins; a prefix that names several runs, or no run anywhere, is a one-line error (the latter
says where it looked).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from geosleuth.app.cli_common import ConfigOption, fail, load_settings, make_console

if TYPE_CHECKING:
    from geosleuth.evals.trace_analysis import Run, Step
    from geosleuth.run.traces import TraceStore

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Trace store file, or a folder holding traces.sqlite (default: trace_db)."),
]
RunOption = Annotated[
    str | None,
    typer.Option("--run", help="Look the id up only in this eval run (a folder, or a run name under runs/)."),
]
RUN_HELP = "Eval run folder (runs/NAME), a run NAME under runs/, or an eval run name in --db."
SHOWN_FOLDERS = 5
"""How many of the run folders searched an unknown-id error names."""


def _store(db: Path | None, config: Path | None) -> TraceStore:
    """Open an existing trace store (never create one for reading) or fail with one line."""
    from geosleuth.run.traces import TraceStore, TraceStoreError

    if db is None:
        db = TraceStore.default_path(load_settings(config))
    if db.is_dir():
        db = db / "traces.sqlite"
    if not db.is_file():
        fail(f"no trace store at {db}")
    try:
        return TraceStore(db)
    except TraceStoreError as exc:
        fail(str(exc))


def _run_traces(
    run: str, db: Path | None, config: Path | None
) -> tuple[TraceStore, list[tuple[Run, list[Step]]]]:
    """Return the store and the (run, steps) pairs of an eval run folder (runs/NAME without --db) or name."""
    folder = _run_folder(run) if db is None else Path(run)
    if folder is not None and folder.is_dir():
        store = _store(folder, config)
        results = folder / "results.jsonl"
        if results.is_file():
            ids = []
            for number, line in enumerate(results.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    trace_id = json.loads(line).get("trace_id") if line.strip() else None
                except json.JSONDecodeError:
                    fail(f"{results}:{number} is not a JSON line")
                if trace_id:
                    ids.append(trace_id)
            runs = [r for r in (store.get_run(i) for i in ids) if r is not None]
        else:
            runs = store.list_runs()
    else:
        store = _store(db, config)
        runs = store.list_runs(eval_run=run)
    if not runs:
        fail(f"no traces for run {run!r} (an eval run folder, or an eval run name in the store)")
    return store, [(r, store.steps(r["id"])) for r in runs]


def _run_folder(run: str) -> Path | None:
    """Return the eval run folder RUN names: the path itself, else runs/RUN; None when neither is a folder."""
    from geosleuth.app.cli_eval import RUNS_ROOT

    return next((folder for folder in (Path(run), RUNS_ROOT / run) if folder.is_dir()), None)


def _search_path(db: Path | None, run: str | None, config: Path | None) -> tuple[list[Path], str]:
    """Return the stores a trace id is looked up in, in order (module docstring), and a line naming them."""
    from geosleuth.app.cli_eval import RUNS_ROOT
    from geosleuth.run.traces import TraceStore

    if db is not None:
        path = db / "traces.sqlite" if db.is_dir() else db
        return [path], f"{path}{'' if path.is_file() else ' (absent)'}"
    if run is not None:
        folder = _run_folder(run)
        if folder is None:
            fail(f"--run {run}: no eval run folder {run} or {RUNS_ROOT / run}")
        return [folder / "traces.sqlite"], f"eval run {folder}"
    user = TraceStore.default_path(load_settings(config))
    stores = (*RUNS_ROOT.glob("*/traces.sqlite"), *RUNS_ROOT.glob("*/*/traces.sqlite"))
    runs = sorted({p.parent for p in stores})
    where = f"the user store {user}{'' if user.is_file() else ' (absent)'}, and "
    if not runs:
        where += f"no eval run folder under {RUNS_ROOT}/ (here: {Path.cwd()})"
    else:
        listed = ", ".join(str(p) for p in runs[:SHOWN_FOLDERS])
        more = f" and {len(runs) - SHOWN_FOLDERS} more" if len(runs) > SHOWN_FOLDERS else ""
        where += f"{len(runs)} eval run folder(s) under {RUNS_ROOT}/ ({listed}{more})"
    return [user, *(p / "traces.sqlite" for p in runs)], where


def _one(trace_id: str, db: Path | None, run: str | None, config: Path | None) -> tuple[Run, list[Step]]:
    """Return the trace with this id (or unique prefix), searched as the module docstring says, or fail."""
    from geosleuth.run.traces import TraceStore, TraceStoreError

    paths, where = _search_path(db, run, config)
    found: dict[str, TraceStore] = {}
    for path in paths:
        if not path.is_file():
            continue
        try:
            store = TraceStore(path)
            full = store.resolve_id(trace_id)
        except TraceStoreError as exc:
            if str(exc).startswith("several"):
                fail(str(exc))
            continue
        found.setdefault(full, store)
    if not found:
        fail(f"no run with id starting {trace_id!r}: looked in {where}; give --db or --run")
    if len(found) > 1:
        fail(f"several runs with id starting {trace_id!r} ({', '.join(found)}); give more of the id")
    full, store = next(iter(found.items()))
    return store.get_run(full), store.steps(full)  # type: ignore[return-value]


def _when(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        fail(f"{option} {value!r} is not an ISO date or date-time (e.g. 2025-06-01 or 2025-06-01T12:00)")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _truth_text(p: float | None) -> str:
    return "" if p is None else f"  P(truth) {p:.3f}"


def list_command(
    eval_run: Annotated[str | None, typer.Option(help="Only runs of this eval run.")] = None,
    planner: Annotated[str | None, typer.Option(help="Only this planner: policy or llm.")] = None,
    wrong_country: Annotated[bool, typer.Option("--wrong-country", help="Only wrong-country runs.")] = False,
    min_error_km: Annotated[float | None, typer.Option(help="Only runs with error above this (km).")] = None,
    tool: Annotated[str | None, typer.Option(help="Only runs that called this tool.")] = None,
    since: Annotated[str | None, typer.Option(help="Started at or after (ISO date/time, local).")] = None,
    until: Annotated[str | None, typer.Option(help="Started before (ISO date/time, local).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List recorded runs, newest first, with filters."""
    store = _store(db, config)
    runs = store.list_runs(
        eval_run=eval_run, planner=planner, wrong_country=True if wrong_country else None,
        min_error_km=min_error_km, tool=tool, since=_when(since, "--since"), until=_when(until, "--until"),
        limit=limit,
    )
    if as_json:
        for run in runs:
            row = {**run, "tools": store.tools_used(run["id"])}
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    from rich.table import Table

    table = Table(title=f"{len(runs)} run(s) in {store.path}")
    table.add_column("id", no_wrap=True, min_width=16)
    for column in ("started", "planner", "photo", "truth", "guess", "error km", "tools", "s"):
        table.add_column(column, justify="right" if column in ("error km", "s") else "left")
    for run in runs:
        started = datetime.fromtimestamp(run["started"]).strftime("%m-%d %H:%M")
        table.add_row(
            run["id"], started, run["planner"], Path(run["photo"]).name, run["truth_country"] or "-",
            run["guess_country"] or ("error" if run["status"] == "error" else run["status"]),
            _fmt(run["error_km"], 0), ",".join(store.tools_used(run["id"])), _fmt(run["seconds"], 1),
        )
    make_console().print(table)


def _key_results(step: Step) -> list[str]:
    """Return the lines worth showing under a step: likelihoods, candidates, lines read, reasoning."""
    output = step.get("output")
    lines = []
    if not isinstance(output, dict):
        return [str(output)[:300]] if output is not None else []
    likes = output.get("country_likelihoods") or {}
    if likes:
        best = sorted(likes.items(), key=lambda kv: -kv[1])[:5]
        lines.append("claims " + ", ".join(f"{c} {v:.2f}" for c, v in best))
    for cand in (output.get("candidates") or [])[:3]:
        lines.append(f"candidate {cand.get('label') or ''} ({cand['lat']:.4f}, {cand['lon']:.4f})")
    read = [line.get("text", "") for line in (output.get("observations") or {}).get("lines", [])]
    if read:
        lines.append("read " + " | ".join(read[:8]))
    for key in ("reasoning", "content", "tool_calls", "parsed", "decision", "rationale"):
        if output.get(key):
            lines.append(f"{key}: {str(output[key])[:400]}")
    return lines


def show_command(
    trace_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the run and its steps as JSON.")] = False,
    db: DbOption = None,
    eval_run: RunOption = None,
    config: ConfigOption = None,
) -> None:
    """Show one run as a timeline: each step's reasoning, arguments, findings and the Belief after it.

    The id is looked up in the user store, then in the eval runs under runs/ (--db or --run: there only).
    """
    from geosleuth.evals.trace_analysis import classify, offline_services, step_summary

    run, steps = _one(trace_id, db, eval_run, config)
    if as_json:
        sys.stdout.write(json.dumps({"run": run, "steps": steps}, ensure_ascii=False) + "\n")
        return
    from rich.markup import escape
    from rich.tree import Tree

    guess = run.get("guess") or {}
    title = (
        f"[bold]{escape(run['id'])}[/] {escape(Path(run['photo']).name)} — {run['planner']}"
        f"{' / ' + escape(run['model']) if run.get('model') else ''}, {run['status']}, "
        f"{_fmt(run['seconds'], 1)} s, {run['llm_calls']} LLM / {run['tool_calls']} tool calls, "
        f"{run['tokens']} tokens"
    )
    tree = Tree(title)
    if run.get("truth"):
        tree.add(f"truth {run['truth_country']} ({run['truth'].get('lat')}, {run['truth'].get('lon')})"
                 f"{_truth_text(run.get('prior_p_truth'))} before any step")
    if run.get("prior_top"):
        tree.add("prior " + ", ".join(f"{c} {p:.2f}" for c, p in run["prior_top"][:3]))
    for step in steps:
        tokens = ""
        if step.get("tokens_in") is not None or step.get("tokens_out") is not None:
            tokens = f", {step.get('tokens_in') or 0}+{step.get('tokens_out') or 0} tokens"
        node = tree.add(
            f"[bold]{step['idx']} {step['kind']}[/] {escape(step['name'])} "
            f"({step['seconds']:.2f} s{tokens}): {escape(step_summary(step)[:200])}"
        )
        if step.get("input") not in (None, {}, []):
            node.add("args " + escape(json.dumps(step["input"], ensure_ascii=False)[:300]))
        for line in _key_results(step):
            node.add(escape(line))
        if step.get("belief_top"):
            node.add("belief " + ", ".join(f"{c} {p:.2f}" for c, p in step["belief_top"][:3])
                     + _truth_text(step.get("p_truth")))
    where = ", ".join(str(guess[k]) for k in ("place", "region", "country") if guess.get(k))
    end = tree.add(
        f"[bold]guess[/] {escape(where or run.get('guess_country') or 'none')} "
        f"(confidence {_fmt(guess.get('confidence'), 2)}), error {_fmt(run.get('error_km'), 0)} km"
    )
    if run.get("error"):
        end.add(f"[red]error[/] {escape(run['error'])}")
    classes = classify(run, steps)
    if classes:
        end.add("failure: " + ", ".join(classes))
    for service in offline_services(steps):
        end.add(f"[yellow]{service} offline[/] (unavailable; not a tool_error)")
    make_console().print(tree)


def failures_command(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    examples: Annotated[int, typer.Option(min=0, help="Examples shown per class.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the analysis as one JSON object.")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Analyse an eval run's failures: classes, per-tool attribution, country confusions, examples."""
    from geosleuth.evals.trace_analysis import failure_report

    _store_, traces = _run_traces(run, db, config)
    report = failure_report(traces, examples=examples)
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    from rich.table import Table

    console = make_console()
    console.print(
        f"{report['runs']} traces, {report['with_truth']} with a known country, {report['failures']} failed"
    )
    classes = Table(title="Failure classes (primary = first rule that applies; see docs/traces.md)")
    for column in ("class", "primary", "any", "examples"):
        classes.add_column(column)
    for name, row in report["classes"].items():
        shown = "; ".join(
            f"{e['id']} {Path(e['photo']).name} {e['truth']}→{e['guess'] or '-'}" for e in row["examples"]
        )
        classes.add_row(name, str(row["primary"]), str(row["any"]), shown)
    console.print(classes)
    for service, counts in report["offline"].items():
        console.print(f"{service} offline on {counts['runs']} photos ({counts['failures']} of them failed): "
                      "not counted as tool_error; those failures are classed by the other rules")
    tools = Table(title="Per-tool attribution: change in P(true country) per step")
    for column in ("tool", "steps", "mean ΔP", "mean log ratio", "toward", "away", "misled"):
        tools.add_column(column, justify="left" if column == "tool" else "right")
    for row in report["attribution"]:
        tools.add_row(
            row["tool"], str(row["steps"]), f"{row['mean_delta']:+.4f}", _fmt(row["mean_log_ratio"], 3),
            str(row["toward"]), str(row["away"]), str(row["misled"]),
        )
    console.print(tools)
    confusions = Table(title="Most common country confusions")
    for column in ("truth", "guess", "count"):
        confusions.add_column(column)
    for row in report["confusions"]:
        confusions.add_row(row["truth"], row["guess"], str(row["count"]))
    console.print(confusions)


def diff_command(
    a: Annotated[str, typer.Argument(help="First run id (or unique prefix).")],
    b: Annotated[str, typer.Argument(help="Second run id (or unique prefix).")],
    db: DbOption = None,
    db_b: Annotated[
        Path | None, typer.Option("--db-b", help="Store of the second run (default: --db).")
    ] = None,
    eval_run: RunOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Compare two traces of the same photo side by side (e.g. policy vs agent, or two models).

    Each id is looked up as `trace show` does (the second in --db-b when given).
    """
    from geosleuth.evals.trace_analysis import diff_runs

    run_a, steps_a = _one(a, db, eval_run, config)
    run_b, steps_b = _one(b, db_b or db, eval_run, config)
    diff = diff_runs(run_a, steps_a, run_b, steps_b)
    if as_json:
        sys.stdout.write(json.dumps(diff, ensure_ascii=False) + "\n")
        return
    from rich.table import Table

    console = make_console()
    if not diff["same_photo"]:
        console.print("[yellow]warning:[/] the two traces are of different photos")
    header = Table(title="Runs")
    for column in ("", "A", "B"):
        header.add_column(column)
    for name, left, right in diff["header"]:
        header.add_row(name, _fmt(left), _fmt(right), style="bold" if left != right else None)
    console.print(header)
    steps = Table(title=f"Steps (first divergence at step {_fmt(diff['first_divergence'])})")
    steps.add_column("A")
    steps.add_column("B")
    for left, right in diff["steps"]:
        steps.add_row(left, right)
    console.print(steps)


def export_command(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    fmt: Annotated[
        str, typer.Option("--format", help="jsonl (a run per line) or parquet (a step per row).")
    ] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (jsonl: default stdout).")
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Export an eval run's traces for external analysis."""
    from geosleuth.run.traces import write_jsonl, write_parquet

    if fmt not in ("jsonl", "parquet"):
        fail(f"unknown export format {fmt!r}: use jsonl or parquet")
    if fmt == "parquet" and output is None:
        fail("parquet export needs --output FILE")
    _store_, traces = _run_traces(run, db, config)
    if fmt == "parquet":
        write_parquet(traces, output)  # type: ignore[arg-type]
    elif output is None:
        write_jsonl(traces, sys.stdout)
    else:
        with output.open("w", encoding="utf-8") as stream:
            write_jsonl(traces, stream)
    if output is not None:
        sys.stderr.write(f"wrote {len(traces)} run(s) to {output}\n")


def _served(
    run: str | None, db: Path | None, config: Path | None
) -> tuple[TraceStore, str | None, str | None]:
    """Return what the viewer serves: the store, the eval run its list is limited to, and its title."""
    if run is None:
        return _store(db, config), None, None
    folder = Path(run)
    if not folder.is_dir():
        store = _store(db, config)
        if not store.list_runs(eval_run=run, limit=1):
            fail(f"no traces for run {run!r} (an eval run folder, or an eval run name in the store)")
        return store, run, f"eval run {run}"
    try:  # run.json is the run's header (evals/runner.py HEADER; importing the runner loads torch)
        header = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"{folder} is not an eval run folder: cannot read its run.json ({exc})")
    details = ", ".join(f"{k} {header[k]}" for k in ("dataset", "planner") if header.get(k))
    return _store(folder, config), None, f"eval run {header.get('name') or folder.name}" + (
        f" ({details})" if details else "")


def serve_command(
    run: Annotated[
        str | None, typer.Argument(help="Eval run folder (runs/NAME) or eval run name in --db; default: all.")
    ] = None,
    host: Annotated[
        str, typer.Option(help="Loopback address to bind: 127.0.0.1, ::1 or localhost.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8765,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve a local web viewer of the traces (photo with OCR boxes, map, step timeline); loopback only."""
    from geosleuth.app.trace_view import TraceViewError, make_server

    store, eval_run, title = _served(run, db, config)
    try:
        server = make_server(store, host, port, eval_run=eval_run, title=title)
    except (TraceViewError, OSError) as exc:
        fail(str(exc))
    bound_host, bound_port = server.server_address[:2]
    if isinstance(bound_host, bytes | bytearray):  # typeshed allows bytes; a TCP server's host is a str
        bound_host = bound_host.decode()
    sys.stderr.write(f"trace viewer on http://{bound_host}:{bound_port}/ (Ctrl-C stops it)\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    """Add the `trace` command group to the geosleuth CLI."""
    group = typer.Typer(help="Inspect recorded traces: list, show, failures, diff, serve, export.",
                        no_args_is_help=True)
    group.command("list")(list_command)
    group.command("show")(show_command)
    group.command("failures")(failures_command)
    group.command("diff")(diff_command)
    group.command("export")(export_command)
    group.command("serve")(serve_command)
    app.add_typer(group, name="trace")
