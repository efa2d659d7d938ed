"""What the scene tool's ImageNet labels say about a photo's place: two cited tables, no model.

`data/imagenet_geo.csv` lists the ImageNet-1k classes that general knowledge ties to a place: animals
with a restricted range (koala, giant panda, zebra, toucan), dress (kimono, sombrero, abaya), vehicles
(school bus, gondola, trolleybus), building types (mosque, stupa, totem pole, yurt) and landscapes
(alp, volcano, geyser, coral reef). Each row cites a source for the range (its `source`, mostly the
Wikipedia article on the species, garment or building type) and gives:

* `countries`: ISO alpha-2 codes, each with a share (1 when left out: 'AU PG:0.3'), or `@region`s from
  `data/imagenet_geo_regions.csv` (UN M49 regions, Pew Research Center's Muslim-majority and Christian
  countries, the safari countries, the Neotropics), which may carry a share too ('@europe:0.3');
* `telling`: how much more often such a photo is taken in a country of the row (share 1) than in any
  other country, in three tiers (`TELLING`): strong 50 (koala, platypus, giant panda, gondola: wild or
  in use almost only there), medium 8 (zebra, kimono, mosque: common there, also in zoos, shops or
  minorities elsewhere, or easily confused by the model), weak 2.5 (volcano, church, tiger: spread
  over many countries or mostly seen in zoos). The tiers are judgements written down here; nothing is
  fitted to benchmark labels.

Classes left out on purpose: `cab` (taxi colours vary by city and yellow cabs are common far beyond
New York), dog and cat breeds (pets are kept worldwide), food (dishes travel), and building types
found everywhere (palace, monastery, dome, obelisk).

`country_likelihoods` turns the top labels into a likelihood per country: a mixture over the labels,
`1 + sum over indicative labels of p(label) * (TELLING - 1) * share(country)`, so a country no label
names keeps the baseline 1 and a label's pull grows with its probability. Labels under
`MIN_LABEL_P` do not count.

`data/imagenet_scene_kinds.csv` sorts the classes into kinds by index range or name, with a rationale
per row: close-ups (dog breeds 151-268, domestic cats 281-285, insects, food 924-969 but hay,
household and hand-held objects, screens), landmarks (religious buildings, monuments, bridges),
street scenes (road and rail vehicles, street furniture, outdoor buildings, harbours) and landscapes
(970-980 without "bubble", fields); every other class is "other". `locatability` returns the photo's
expected locatability, `sum p(class) * LOCATABILITY[kind]` over the ten most probable classes, the
rest of the probability counting as "other" (the meaning of CLIP's `localizable`: the expected
locatability of the scene kind), and the close-up share of those ten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from geosleuth.core.countries import all_countries
from geosleuth.tools.clues.base import parse_shares, read_table

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DATA_FILES = ("data/imagenet_geo.csv", "data/imagenet_geo_regions.csv", "data/imagenet_scene_kinds.csv")
"""The package tables this module reads (hashed into the tool cache key by `ToolSpec.source_hash`)."""

TELLING = {"strong": 50.0, "medium": 8.0, "weak": 2.5}
"""Likelihood ratio of each tier: how much more often a photo with the label is taken in a country of
its row (share 1) than in a country the row does not name."""
MIN_LABEL_P = 0.1
"""Smallest probability at which an indicative label counts."""
LOCATABILITY = {"landmark": 0.8, "street": 0.7, "landscape": 0.4, "other": 0.1, "closeup": 0.0}
"""Expected locatability of each scene kind, on the scale of CLIP's `LOCALIZABLE_SCORES` (landmark 1,
street 0.7, landscape 0.4, people 0.1, food or pet 0): an ImageNet landmark is a building type, not
always a famous one, so 0.8; "other" (an object or animal in an unknown setting) as CLIP's people."""
KIND_CLASSES = 10
"""The most probable classes whose kind counts. About half the 1000 classes are close-ups (breeds,
dishes, household objects), so the thin probability an unsure model spreads over all of them would
otherwise read as a close-up."""
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


@dataclass(frozen=True)
class Indicative:
    """One row of imagenet_geo.csv: an ImageNet class and the countries it points to."""

    label: str
    countries: dict[str, float]
    """Share per ISO alpha-2 code (regions expanded), in (0, 1]."""
    spec: str
    """The `countries` cell as written (codes and @regions)."""
    telling: str
    where: str
    """A few words for the summary, e.g. "Australia"."""
    source: str


@cache
def regions() -> dict[str, dict[str, float]]:
    """Return the regions of imagenet_geo_regions.csv: name -> share per ISO alpha-2 code."""
    return {row["region"]: parse_shares(row["countries"]) for row in read_table(DATA_FILES[1])}


def expand(spec: str) -> dict[str, float]:
    """Read a `countries` cell ('KE TZ @sub_saharan_africa:0.4') into shares per code (the largest wins).

    Raises:
        KeyError: the cell names a region the region table lacks.
    """
    out: dict[str, float] = {}
    for name, share in parse_shares(spec).items():
        members = regions()[name[1:]] if name.startswith("@") else {name: 1.0}
        for code, part in members.items():
            out[code] = max(out.get(code, 0.0), part * share)
    return out


@cache
def label_table() -> dict[str, Indicative]:
    """Return the indicative classes of imagenet_geo.csv by class name."""
    return {
        row["class"]: Indicative(
            label=row["class"],
            countries=expand(row["countries"]),
            spec=row["countries"],
            telling=row["telling"],
            where=row["where"],
            source=row["source"],
        )
        for row in read_table(DATA_FILES[0])
    }


def country_likelihoods(labels: Sequence[tuple[str, float]]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Return the likelihood per country of the photo's labels, and the indicative labels used.

    `labels` are (class name, probability) pairs. Every country gets `1 + sum p * (ratio - 1) * share`
    over the indicative labels with p >= MIN_LABEL_P (see the module docstring); with none, both
    results are empty (no claims).
    """
    table = label_table()
    used = [(name, p, table[name]) for name, p in labels if name in table and p >= MIN_LABEL_P]
    if not used:
        return {}, []
    likes = dict.fromkeys(all_countries(), 1.0)
    for _name, p, row in used:
        for code, share in row.countries.items():
            likes[code] = likes.get(code, 1.0) + p * (TELLING[row.telling] - 1.0) * share
    mapped = [
        {"label": name, "p": round(p, 4), "countries": row.spec, "where": row.where, "telling": row.telling}
        for name, p, row in used
    ]
    return {code: round(like, 4) for code, like in likes.items()}, mapped


@cache
def scene_kinds(names: tuple[str, ...]) -> tuple[str, ...]:
    """Return each class's kind from imagenet_scene_kinds.csv, in class-index order ("other" if unlisted).

    `names` are the 1000 class names in index order. Raises KeyError for a name the list lacks.
    """
    index = {name: i for i, name in enumerate(names)}
    kinds = ["other"] * len(names)
    for row in read_table(DATA_FILES[2]):
        for part in row["classes"].split(";"):
            span = _RANGE.fullmatch(part)
            if span:
                first = int(span[1])
                chosen: Sequence[int] = range(first, int(span[2] or first) + 1)
            else:
                chosen = [index[part]]
            for i in chosen:
                kinds[i] = row["kind"]
    return tuple(kinds)


def locatability(probs: npt.NDArray[np.float32], names: tuple[str, ...]) -> tuple[float, float]:
    """Return (expected locatability, close-up share) of a photo from its class probabilities.

    `probs` holds the softmax over the classes `names` (index order). Only the KIND_CLASSES most
    probable classes count by their kind; the rest of the probability, spread thin over the other
    classes, counts as "other". The locatability is sum p * LOCATABILITY[kind], the close-up share
    the probability of the close-up classes among the counted ones.
    """
    kinds = scene_kinds(names)
    top = [(float(probs[i]), kinds[i]) for i in probs.argsort()[::-1][:KIND_CLASSES]]
    rest = max(0.0, 1.0 - sum(p for p, _ in top))
    score = sum(p * LOCATABILITY[kind] for p, kind in top) + rest * LOCATABILITY["other"]
    return score, sum(p for p, kind in top if kind == "closeup")
