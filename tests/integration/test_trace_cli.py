"""`geosleuth trace list|show|failures|diff|export` on real policy traces (the failure rules: tests/unit)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from geosleuth.core.paths import source_root
from geosleuth.run.traces import TraceStore

REPO = source_root()
EXAMPLES = REPO / "examples"
GEOSLEUTH = str(Path(sys.executable).with_name("geosleuth"))
PHOTOS = ("fr_paris_cafe_de_flore.jpg", "jp_tokyo_shibuya.jpg", "ru_moscow_tverskaya.jpg")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GEOSLEUTH, "trace", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def eval_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An eval run folder (runs/NAME layout) of real policy traces: full tools, and OCR alone.

    OCR alone gives the policy no country evidence, so it answers the prior's leader (US) and fails.
    """
    from geosleuth.core.config import Settings
    from geosleuth.core.photo import load_photo
    from geosleuth.run.locate import locate_photo

    folder = tmp_path_factory.mktemp("runs") / "examples-policy"
    store = TraceStore(folder / "traces.sqlite")
    labels = {row["file"]: row for row in csv.DictReader((EXAMPLES / "labels.csv").open(encoding="utf-8"))}
    rows = []
    for tools in (("ocr", "text_clues", "gazetteer"), ("ocr",)):
        settings = Settings(use_metadata=False, tools=tools)
        for name in PHOTOS:
            photo = load_photo(EXAMPLES / name)
            label = labels[name]
            truth = {"lat": float(label["lat"]), "lon": float(label["lon"]), "country": label["country_code"]}
            result = locate_photo(photo, settings, planner="policy", traces=store, truth=truth,
                                 eval_run="examples-policy", photo_path=str(EXAMPLES / name))
            rows.append({"id": name, "image": name, "truth": truth, "trace_id": result.trace_id,
                         "guess": {"country": result.guess.country_code}})
    rows.append({"id": "untraced", "image": "x.jpg", "truth": None, "trace_id": None, "guess": None})
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store.close()
    return folder


@pytest.mark.slow
def test_list_filters_and_show(eval_folder: Path) -> None:
    db = str(eval_folder)
    listed = run_cli("list", "--db", db, "--json")
    assert listed.returncode == 0, listed.stderr
    runs = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(runs) == 6
    def listed_json(*args: str) -> list[dict]:
        return [json.loads(x) for x in run_cli("list", "--db", db, "--json", *args).stdout.splitlines()]

    wrong = listed_json("--wrong-country")
    assert len(wrong) == 3 and {r["guess_country"] for r in wrong} == {"US"}
    assert {r["truth_country"] for r in wrong} == {"FR", "JP", "RU"}
    assert len(listed_json("--min-error-km", "1000")) == 3
    gaz = listed_json("--tool", "gazetteer")
    assert len(gaz) == 3 and all(r["country_correct"] for r in gaz)
    assert run_cli("list", "--db", db, "--json", "--since", "2999-01-01").stdout == ""
    table = run_cli("list", "--db", db, "--eval-run", "examples-policy")
    assert table.returncode == 0 and "6 run(s)" in table.stdout and gaz[0]["id"] in table.stdout

    paris = next(r for r in gaz if "paris" in r["photo"])
    shown = run_cli("show", paris["id"][:8], "--db", db)
    assert shown.returncode == 0, shown.stderr
    for text in ("0 tool ocr", "1 tool text_clues", "2 tool gazetteer", "3 commit", "Café de Flore",
                 "P(truth)", "belief FR", "truth FR"):
        assert text in shown.stdout, text
    as_json = json.loads(run_cli("show", paris["id"], "--db", db, "--json").stdout)
    p_truth = [s["p_truth"] for s in as_json["steps"]]
    assert p_truth[-1] > 0.5 > as_json["run"]["prior_p_truth"] and p_truth == sorted(p_truth)


@pytest.mark.slow
def test_failures_diff_and_export(eval_folder: Path, tmp_path: Path) -> None:
    done = run_cli("failures", str(eval_folder), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["runs"] == 6 and report["failures"] == 3
    assert report["classes"]["no_usable_evidence"]["primary"] == 3
    assert {e["truth"] for e in report["classes"]["no_usable_evidence"]["examples"]} == {"FR", "JP", "RU"}
    confused = sorted((c["truth"], c["guess"]) for c in report["confusions"])
    assert confused == [("FR", "US"), ("JP", "US"), ("RU", "US")]
    tools = {row["tool"]: row for row in report["attribution"]}
    assert tools["text_clues"]["mean_delta"] > 0 and tools["gazetteer"]["mean_delta"] > 0
    assert tools["ocr"]["mean_delta"] == 0  # OCR makes no country claims of its own
    text = run_cli("failures", "examples-policy", "--db", str(eval_folder))
    assert text.returncode == 0 and "no_usable_evidence" in text.stdout and "text_clues" in text.stdout

    store = TraceStore(eval_folder / "traces.sqlite")
    paris = [r for r in store.list_runs() if "paris" in r["photo"]]
    full, bare = sorted(paris, key=lambda r: -len(store.steps(r["id"])))
    diff = json.loads(run_cli("diff", full["id"], bare["id"], "--db", str(eval_folder), "--json").stdout)
    assert diff["same_photo"] and diff["first_divergence"] == 1
    header = {name: (a, b) for name, a, b in diff["header"]}
    assert header["guess"] == ("FR", "US") and header["failure classes"] == ("-", "no_usable_evidence")
    shown = run_cli("diff", full["id"], bare["id"], "--db", str(eval_folder))
    assert shown.returncode == 0 and "first divergence at step 1" in shown.stdout

    jsonl = tmp_path / "out.jsonl"
    assert run_cli("export", str(eval_folder), "--output", str(jsonl)).returncode == 0
    exported = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert len(exported) == 6 and sum(len(r["steps"]) for r in exported) == 3 * 4 + 3 * 2
    parquet = tmp_path / "out.parquet"
    done = run_cli("export", str(eval_folder), "--format", "parquet", "--output", str(parquet))
    assert done.returncode == 0, done.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(parquet).to_pylist()
    assert len(table) == 18 and {"run_id", "run_truth_country", "idx", "name", "p_truth"} <= set(table[0])


def test_default_store_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSLEUTH_CACHE_DIR", str(tmp_path / "cache"))
    assert "no trace store at" in run_cli("list").stderr
    monkeypatch.setenv("GEOSLEUTH_TRACE_DB", str(tmp_path / "mine.sqlite"))
    from geosleuth.core.config import resolve_settings

    store = TraceStore.for_settings(resolve_settings()[0])
    assert store.path == tmp_path / "mine.sqlite"
    store.start_run(kind="locate", planner="policy", photo="a.jpg", photo_sha256=None, config={})
    listed = run_cli("list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["photo"] == "a.jpg"


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    missing = run_cli("list", "--db", str(tmp_path / "none.sqlite"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no trace store" in missing.stderr
    store = TraceStore(tmp_path / "t.sqlite")
    store.start_run(kind="locate", planner="policy", photo="a.jpg", photo_sha256=None, config={})
    for args in (("show", "zzz"), ("failures", "nope"), ("export", "nope", "--format", "csv"),
                 ("export", str(tmp_path), "--format", "parquet"), ("serve", "--host", "0.0.0.0"),
                 ("list", "--since", "yesterday")):
        done = run_cli(*args, "--db", str(tmp_path / "t.sqlite"))
        assert done.returncode == 2 and done.stderr.startswith("geosleuth: error:"), (args, done.stderr)
        assert done.stderr.count("\n") == 1, done.stderr


@pytest.mark.slow
def test_show_finds_the_ids_failures_prints_in_eval_run_folders(tmp_path: Path) -> None:
    """A real tiny eval (OCR alone: both photos fail) under ./runs; its ids open without --db."""
    import os

    labels = {row["file"]: row for row in csv.DictReader((EXAMPLES / "labels.csv").open(encoding="utf-8"))}
    csv_path = tmp_path / "two.csv"
    csv_path.write_text("image,lat,lon,country\n" + "".join(
        f"{EXAMPLES / name},{labels[name]['lat']},{labels[name]['lon']},{labels[name]['country_code']}\n"
        for name in PHOTOS[:2]), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOSLEUTH_")}
    env["GEOSLEUTH_CACHE_DIR"] = str(tmp_path / "cache")  # an empty user store: the ids are in ./runs only

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([GEOSLEUTH, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                              env=env)

    done = cli("eval", str(csv_path), "--planner", "policy", "--tools", "ocr", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "runs" / "two-policy" / "traces.sqlite").is_file()
    report = json.loads(cli("trace", "failures", "two-policy", "--json").stdout)  # a name under ./runs
    assert report["failures"] == 2 and report["offline"] == {}
    trace_id = report["classes"]["no_usable_evidence"]["examples"][0]["id"]
    shown = cli("trace", "show", trace_id[:8])
    assert shown.returncode == 0, shown.stderr
    for text in (trace_id, "0 tool ocr", "failure: no_usable_evidence"):
        assert text in shown.stdout, text
    assert cli("trace", "show", trace_id, "--run", "two-policy", "--json").returncode == 0
    other = json.loads(cli("trace", "show", trace_id, "--run", str(tmp_path / "runs" / "two-policy"),
                           "--json").stdout)
    assert other["run"]["id"] == trace_id and other["run"]["eval_run"] == "two-policy"
    unknown = cli("trace", "show", "ffffffffffff")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1, unknown.stderr
    for where in ("looked in the user store", str(tmp_path / "cache" / "traces.sqlite"), "(absent)",
                  "1 eval run folder(s) under runs/", "runs/two-policy"):
        assert where in unknown.stderr, where
    assert "no eval run folder" in cli("trace", "show", trace_id, "--run", "nope").stderr
    with_db = cli("trace", "show", trace_id, "--db", str(tmp_path / "cache"))
    assert with_db.returncode == 2 and "traces.sqlite (absent)" in with_db.stderr  # --db: that store only
    (a, b) = [e["id"] for c in report["classes"].values() for e in c["examples"]][:2]
    assert cli("trace", "diff", a, b, "--json").returncode == 0
