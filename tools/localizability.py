"""How locatable is this photo? A score in [0, 1] from what the tools found (the GeoReasoner idea).

GeoReasoner (Li et al., 2024) scores street views by how many locatable cues they hold and trains
only on the locatable ones. Here the score is computed at run time from the evidence and the belief,
so the agent can stop early on a hopeless photo (a close-up of a cat) and evals can measure accuracy
under abstention. It needs no CLIP weights; it uses CLIP's scene prompts and the scene tool's labels
when they ran.

Cues, each a signal in [0, 1]; which tool feeds which cue is its spec's `cue`:

* `metadata` - a GPS fix read from the file (exif evidence with a candidate point): 1.
* `text` - text clues: the strength of the text_clues evidence times how concentrated its country
  likelihoods are (the top country's share); readable text alone (ocr lines) counts half of
  `min(1, characters / 40)`.
* `places` - the strength of gazetteer/osm evidence that placed candidate points.
* `belief` - how concentrated the country belief is: 1 - entropy / log2(number of countries), once
  some evidence has spoken about countries (the prior alone says nothing about the photo).
* `spread` - how close the belief's candidate points lie together: exp(-d / 500 km), d the weighted
  mean distance of the points from their weighted centre (0 without points).
* `scene` - the expected locatability of the scene kind (`observations["localizable"]`): CLIP's
  (landmark, signs, street ... close-up, generic) from clip_zero_shot, or the ImageNet labels' from
  `scene` (landmark, street, landscape, other, close-up; `geosleuth.tools.scene_labels`).

They are combined by a weighted noisy-OR, `1 - prod(1 - w_i * s_i)`: any one strong cue makes a photo
locatable, and weak cues add up. A noisy-OR can only rise, so a close-up lowers the score another
way: the scene tool's close-up share c (`observations["closeup"]`, the probability of pet, food,
insect and household-object classes) scales every cue but the GPS fix by `1 - CLOSEUP_WEIGHT * c`.
`CLOSEUP_WEIGHT` = 0.5: a photo that is surely a close-up keeps half of what its other cues say,
since a pet, a dish or a product travels with its owner and the text on a package or a menu names
where it was made or sold more than where it was photographed, yet such text often still names the
place; a GPS fix is where the camera was and keeps its full weight. The weights (`WEIGHTS`,
`CLOSEUP_WEIGHT`) are judgements written down here; nothing is fitted to benchmark labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from geosleuth.core.geo import distance_km
from geosleuth.core.state import Belief, Evidence
from geosleuth.tools import registry

WEIGHTS = {"metadata": 1.0, "text": 0.8, "places": 0.7, "belief": 0.6, "spread": 0.4, "scene": 0.6}
"""How far each cue alone can take the score towards 1."""
CLOSEUP_WEIGHT = 0.5
"""How far a sure close-up scales down every cue but the GPS fix (see the module docstring)."""
SPREAD_SCALE_KM = 500.0
TEXT_CHARS = 40
"""Characters of readable text that count as a full 'there is text' signal."""


def _concentration(likelihoods: dict[str, float]) -> float:
    total = sum(likelihoods.values())
    return max(likelihoods.values()) / total if total > 0 else 0.0


def _spread(belief: Belief) -> float:
    points = belief.candidates
    if not points:
        return 0.0
    total = sum(p.weight for p in points)
    # centre: the weighted mean of unit vectors, back to lat/lon
    x = sum(p.weight * math.cos(math.radians(p.lat)) * math.cos(math.radians(p.lon)) for p in points) / total
    y = sum(p.weight * math.cos(math.radians(p.lat)) * math.sin(math.radians(p.lon)) for p in points) / total
    z = sum(p.weight * math.sin(math.radians(p.lat)) for p in points) / total
    lat, lon = math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))
    mean_km = sum(p.weight * distance_km(lat, lon, p.lat, p.lon) for p in points) / total
    return math.exp(-mean_km / SPREAD_SCALE_KM)


def localizability_cues(evidence: Sequence[Evidence], belief: Belief) -> dict[str, float]:
    """Each cue's signal in [0, 1] (see the module docstring)."""
    ok = [e for e in evidence if e.ok]
    specs = registry()
    cues = dict.fromkeys(WEIGHTS, 0.0)
    for e in ok:
        cue = specs[e.tool].cue if e.tool in specs else None
        if cue == "metadata" and e.candidates:
            cues["metadata"] = 1.0
        elif cue == "text" and e.country_likelihoods:
            cues["text"] = max(cues["text"], e.strength * _concentration(e.country_likelihoods))
        elif cue == "reads":
            chars = len(str(e.observations.get("text", "")).strip())
            cues["text"] = max(cues["text"], 0.5 * min(1.0, chars / TEXT_CHARS))
        elif cue == "places" and e.candidates:
            cues["places"] = max(cues["places"], e.strength)
        elif cue == "scene" and "localizable" in e.observations:
            cues["scene"] = max(cues["scene"], float(e.observations["localizable"]))
    countries = len(belief.log_probs)
    if countries > 1 and any(e.country_likelihoods for e in ok):  # a prior alone says nothing of the photo
        cues["belief"] = max(0.0, 1.0 - belief.entropy_bits() / math.log2(countries))
    cues["spread"] = _spread(belief)
    return cues


def closeup_share(evidence: Sequence[Evidence]) -> float:
    """How surely the photo is a close-up, in [0, 1]: the largest `closeup` a scene-cue evidence reports."""
    specs = registry()
    shares = [
        float(e.observations["closeup"])
        for e in evidence
        if e.ok and e.tool in specs and specs[e.tool].cue == "scene" and "closeup" in e.observations
    ]
    return min(1.0, max(0.0, *shares)) if shares else 0.0


def localizability(evidence: Sequence[Evidence], belief: Belief) -> float:
    """Score in [0, 1] of how locatable the photo is from the evidence so far.

    A weighted noisy-OR of the cues, every cue but `metadata` scaled down by the close-up share.
    """
    cues = localizability_cues(evidence, belief)
    damping = 1.0 - CLOSEUP_WEIGHT * closeup_share(evidence)
    miss = 1.0
    for name, signal in cues.items():
        scale = 1.0 if name == "metadata" else damping
        miss *= 1.0 - WEIGHTS[name] * scale * min(1.0, max(0.0, signal))
    return 1.0 - miss
