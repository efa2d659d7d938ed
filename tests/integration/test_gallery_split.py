"""`geosleuth eval split`: halves that share no group, each evaluated against an index of the other."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from eval_runs import settings_for
from typer.testing import CliRunner

from geosleuth.app.cli import app
from geosleuth.core.paths import source_root
from geosleuth.evals.datasets import DatasetError, Sample, get_spec, label_column
from geosleuth.evals.gallery_split import halves, run_split
from geosleuth.evals.runner import EvalOptions, RunError

EXAMPLES = source_root() / "examples"


def sample(i: int) -> Sample:
    return Sample(f"p{i}", Path(f"/photos/p{i}.jpg"), 0.0, 0.0, "FR")


def test_halves_keep_each_group_together_and_balance_the_sizes():
    samples = [sample(i) for i in range(10)]
    groups = {f"p{i}": owner for i, owner in enumerate("aaaabbbcdd")}
    first, second = halves(samples, groups)
    assert {len(first), len(second)} == {5}  # a (4) + c (1) against b (3) + d (2)
    owners = [{groups[s.id] for s in half} for half in (first, second)]
    assert not owners[0] & owners[1] and owners[0] | owners[1] == set("abcd")
    assert [s.id for s in halves(samples, groups)[0]] == [s.id for s in first]  # deterministic
    with pytest.raises(DatasetError, match="p3' has no value"):
        halves(samples, {**groups, "p3": ""})


def owners_csv(tmp_path: Path) -> Path:
    """The six example photos as a labels CSV with three photographers."""
    with (EXAMPLES / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    path = tmp_path / "owners.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "lat", "lon", "country", "owner"])
        for i, row in enumerate(rows):
            owner = "xyz"[i % 3]
            writer.writerow([EXAMPLES / row["file"], row["lat"], row["lon"], row["country_code"], owner])
    return path


def test_a_missing_group_column_is_a_clear_error(tmp_path):
    spec = get_spec(str(owners_csv(tmp_path)))
    assert set(label_column(spec, "owner").values()) == {"x", "y", "z"}
    with pytest.raises(DatasetError, match="has no column 'photographer'; its columns: image, lat"):
        label_column(spec, "photographer")


@pytest.mark.slow
def test_each_half_is_evaluated_against_an_index_of_the_other_half_only(tmp_path):
    labels = owners_csv(tmp_path)
    settings = settings_for(tmp_path, tools=("retrieval",), device="cpu")
    out = tmp_path / "split"
    options = EvalOptions(dataset=str(labels), out=out, workers=1, progress=False)
    summary = run_split(options, settings, "owner")
    groups = label_column(get_spec(str(labels)), "owner")
    queried = [{r["id"] for r in fold.rows} for fold in summary.folds]
    assert sorted(len(q) for q in queried) == [2, 4] and not queried[0] & queried[1]
    for fold, ids in enumerate(queried):
        with (out / f"index-{fold}" / "points.csv").open(newline="") as handle:
            gallery = {Path(row["file"]).stem for row in csv.DictReader(handle)}
        assert gallery and not gallery & ids  # no query photo is in its own gallery
        assert not {groups[i] for i in gallery} & {groups[i] for i in ids}  # nor its photographer
        header = json.loads((out / f"fold-{fold}" / "run.json").read_text())
        assert header["tools"] == ["retrieval"] and header["subset"].startswith(f"{len(ids)} photos")
    assert all(r["tools_used"] == ["retrieval"] and r["error"] is None for f in summary.folds for r in f.rows)
    record = json.loads((out / "summary.json").read_text())
    assert record["metrics"]["n"] == 6 and sum(f["photos"] for f in record["folds"]) == 6
    assert set(record["per_continent"]) <= {"AS", "EU", "NA"}

    again = run_split(options, settings, "owner")  # resumed: nothing is evaluated twice
    assert [f.new_rows for f in again.folds] == [0, 0]
    with pytest.raises(RunError, match="subset"):  # a fold folder is not reused for other photos
        from geosleuth.evals.runner import run_eval

        run_eval(EvalOptions(dataset=str(labels), out=out / "fold-0", workers=1, progress=False), settings)


def test_the_cli_says_what_is_wrong_in_one_line(tmp_path):
    done = CliRunner().invoke(app, ["eval", "split", str(owners_csv(tmp_path)), "--by", "nobody",
                                    "--out", str(tmp_path / "out")])
    assert done.exit_code != 0 and "has no column 'nobody'" in done.output
