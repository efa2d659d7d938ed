"""`geosleuth eval split DATASET --by COLUMN`: retrieval against a gallery sharing no group with its queries.

A photo's look-alikes in a gallery from the same photographer (or the same camera rig, or the same
trip) are not evidence about an unseen photo: k-NN on a set that shares sources with its queries
recognises the source, not the place. So the photos are split into two halves of about equal size
by a label column (Im2GPS3k's `flickr_owner`): a group's photos all fall in one half, so no group
is on both sides, and no location label decides the split (`halves`). For each half,
an index is built from the other half's photos (pixels and their labelled points; never a file's
metadata), and the half is evaluated as an ordinary, resumable eval run whose `retrieval` tool
queries that index. The two runs together score every photo once.

Layout of the output folder: `index-0/`, `index-1/` (the galleries), `fold-0/`, `fold-1/` (eval run
folders, for `eval report` and `eval compare`), and `summary.json` (both folds' metrics, overall and
per continent of the truth).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosleuth.core.config import Settings
from geosleuth.evals.datasets import (
    DatasetError,
    Sample,
    get_spec,
    label_column,
    load_samples,
    resolve_data_root,
)
from geosleuth.evals.metrics import per_continent, scored_from_result, summarize
from geosleuth.evals.runner import EvalOptions, EvalSummary, run_eval
from geosleuth.tools.embedders import load_embedder
from geosleuth.tools.retrieval import Entry, build_index

if TYPE_CHECKING:
    from rich.console import Console

FOLDS = 2
SUMMARY = "summary.json"


@dataclass(frozen=True)
class SplitSummary:
    """Both folds of a split eval: their run summaries and the metrics over all their rows."""

    folds: list[EvalSummary]
    metrics: dict[str, float | int]
    continents: dict[str, dict[str, float | int]]


def _order(group: str) -> str:
    """Return a stable, label-free sort key of a group: the sha256 of its value."""
    return hashlib.sha256(group.encode("utf-8")).hexdigest()


def halves(samples: list[Sample], groups: dict[str, str]) -> list[list[Sample]]:
    """Split samples into two halves of about equal size, keeping each group's photos together.

    Groups go, largest first (ties in sha256 order of their value), to the half with fewer photos so
    far; so the split depends on group sizes and names, never on where a photo was taken.

    Raises:
        DatasetError: a sample has no value in the group column.
    """
    members: dict[str, list[Sample]] = {}
    for sample in samples:
        group = groups.get(sample.id, "")
        if not group:
            raise DatasetError(f"photo {sample.id!r} has no value in the split column; every photo needs one")
        members.setdefault(group, []).append(sample)
    out: list[list[Sample]] = [[] for _ in range(FOLDS)]
    for group in sorted(members, key=lambda g: (-len(members[g]), _order(g))):
        min(out, key=len).extend(members[group])
    return out


def gallery_index(gallery: list[Sample], settings: Settings, out: Path,
                  on_batch: Callable[[int, int], None] | None = None) -> Path:
    """Build (once) the index of a gallery half at `out` with the run's embedder; return `out`.

    An index already at `out` is kept when it was built from the same photos and embedder.

    Raises:
        RetrievalError: the index cannot be built (no photo loads, the folder is not writable).
        EmbedderUnavailable: the run's embedder cannot run here.
    """
    embedder = load_embedder(settings)
    files = sorted(str(s.image) for s in gallery)
    digest = hashlib.sha256("\n".join(files).encode()).hexdigest()
    wanted = {"gallery_sha256": digest, "embedder": embedder.name}
    stamp = out / "gallery.json"
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == wanted:
        return out
    entries = [
        Entry(path=s.image, name=s.image.name, country_code=s.country,
              point=None if s.lat is None or s.lon is None else (s.lat, s.lon))
        for s in gallery
    ]
    build_index(entries, embedder, out, force=True, on_batch=on_batch)
    stamp.write_text(json.dumps(wanted), encoding="utf-8")
    return out


def run_split(
    options: EvalOptions, settings: Settings, column: str, console: Console | None = None
) -> SplitSummary:
    """Evaluate each half of the dataset against an index of the other half (see the module docstring).

    `options.out` is the output folder; each fold's run goes to `out/fold-N`. The settings' tools
    get `retrieval` right after `scene` (or first) when they lack it.

    Raises:
        DatasetError: the dataset or its group column is missing, or a half is empty.
        RetrievalError, EmbedderUnavailable: a gallery index cannot be built.
        RunError: a fold's run folder belongs to another configuration.
    """
    spec = get_spec(options.dataset)
    data_root = resolve_data_root(options.data_root, settings)
    samples = [s for s in load_samples(spec, data_root=data_root, limit=options.limit) if s.image.is_file()]
    parts = halves(samples, label_column(spec, column, data_root=data_root))
    if not all(parts):
        raise DatasetError(f"splitting by {column!r} left a half empty; it needs at least two groups")
    tools = settings.tools
    if "retrieval" not in tools:
        at = tools.index("scene") + 1 if "scene" in tools else 0
        tools = (*tools[:at], "retrieval", *tools[at:])
    folds = []
    for fold, queries in enumerate(parts):
        gallery = [s for other, part in enumerate(parts) if other != fold for s in part]
        index = gallery_index(gallery, settings, options.out / f"index-{fold}")
        fold_settings = settings.model_copy(update={"retrieval_index": index, "tools": tools})
        fold_options = replace(options, out=options.out / f"fold-{fold}",
                               only=frozenset(s.id for s in queries), limit=None)
        folds.append(run_eval(fold_options, fold_settings, console))
    rows = [r for f in folds for r in f.rows]
    scored = [scored_from_result(r) for r in rows]
    summary = SplitSummary(folds, summarize(scored), per_continent(scored))
    record: dict[str, Any] = {
        "dataset": options.dataset, "split_by": column, "tools": list(tools),
        "folds": [{"run": str(f.run_dir), "photos": len(f.rows)} for f in folds],
        "metrics": summary.metrics, "per_continent": summary.continents,
    }
    (options.out / SUMMARY).write_text(json.dumps(record, indent=1), encoding="utf-8")
    return summary

