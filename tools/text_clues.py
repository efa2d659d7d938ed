"""Turn text read in a photo (OCR) into evidence about the country.

Sub-clues, one module each under `geosleuth.tools.clues`, each a relative likelihood per country with
a trust weight: the Unicode scripts of the letters, the language (lingua), phone numbers
(phonenumbers), web domains and e-mail addresses (ccTLDs), currency signs, codes and the way amounts
are written (CLDR), country names, national brands and chains (`tools/data/brands.csv`), road numbers,
licence-plate formats, speed and distance units (mph or km/h), British or American spelling and sign
words ("centre", "car park" against "center", "parking lot"), and, only next to other clues,
distinctive postcode formats. The sub-clues are pooled log-linearly
into one `Evidence`. The text is data: it is matched against tables, never followed as instructions.

Likelihoods are P(clue | country), e.g. the share of a country's people who read a script or speak a
language, not head counts: the population prior is the belief's job, and counting it here again would
drown small countries (Taiwan against China for Han characters).
"""

from __future__ import annotations

import math

from geosleuth.core.countries import all_countries
from geosleuth.core.state import LIKELIHOOD_FLOOR, Evidence, timed
from geosleuth.tools.clues.base import CLUE_FLOOR, Clue, blank
from geosleuth.tools.clues.brand import brand_clues
from geosleuth.tools.clues.country_name import country_name_clues
from geosleuth.tools.clues.currency import currency_clues
from geosleuth.tools.clues.domain import domain_clues
from geosleuth.tools.clues.language import language_clues
from geosleuth.tools.clues.phone import phone_clues
from geosleuth.tools.clues.plate import plate_clues
from geosleuth.tools.clues.postcode import postcode_clues
from geosleuth.tools.clues.road import road_clues
from geosleuth.tools.clues.script import script_clues
from geosleuth.tools.clues.speed import unit_clues
from geosleuth.tools.clues.spelling import spelling_clues
from geosleuth.tools.nonplace_text import split_place_text
from geosleuth.tools.spec import TEXT_ARG, ToolCall, ToolSpec

TOOL = "text_clues"
MAX_CHARS = 20_000
"""Text beyond this many characters (all texts together) is ignored."""


def read_clues(texts: list[str]) -> Evidence:
    """Read country clues from text found in a photo.

    Args:
        texts: OCR lines or blocks, in reading order. Credits, watermarks, camera date stamps and
            map-viewer labels are set aside first (`geosleuth.tools.nonplace_text`; listed in
            `inputs["set_aside"]`); only the first `MAX_CHARS` characters of the rest are used.

    Returns:
        Evidence whose `country_likelihoods` pool all clues found, with `strength` growing with how
        distinctive they are, and `observations["clues"]` listing each one; a `no_result` failure when
        there is no text or no clue in it.
    """
    with timed() as clock:
        lines, set_aside = split_place_text([text or "" for text in texts])
        kept, budget = [], MAX_CHARS
        for text in lines:
            if budget <= 0:
                break
            kept.append(text[:budget])
            budget -= len(kept[-1])
        clues = _find_clues(kept) if kept else []
    inputs = {"texts": kept[:50], "n_texts": len(texts), "set_aside": set_aside[:50]}
    if not kept or not clues:
        message = "no country clue in the text" if kept else "no text to read clues from"
        return Evidence.failure(
            TOOL, "no_result", message, inputs=inputs, observations={"clues": []}, seconds=clock[0]
        )
    likelihoods, strength = _pool(clues)
    summary = _summary(clues, likelihoods)
    return Evidence(
        tool=TOOL,
        inputs=inputs,
        summary=summary,
        country_likelihoods=likelihoods,
        observations={"clues": [c.as_dict() for c in clues]},
        strength=strength,
        seconds=clock[0],
    )


def _find_clues(texts: list[str]) -> list[Clue]:
    joined = "\n".join(texts)
    phones, phone_spans = phone_clues(joined)
    clues = script_clues(joined) + language_clues(texts) + domain_clues(joined) + phones
    clues += currency_clues(joined) + country_name_clues(joined)
    clues += brand_clues(joined) + road_clues(joined) + plate_clues(joined) + unit_clues(joined)
    clues += spelling_clues(joined)
    if clues:
        clues += postcode_clues(blank(joined, phone_spans))
    return clues


def _pool(clues: list[Clue]) -> tuple[dict[str, float], float]:
    """Pool clues log-linearly; return likelihoods above the floor and the pooled strength.

    Each country scores sum_i w_i log l_i. The strength S = 1 - prod(1 - w_i) and the likelihoods
    exp(score / S) are chosen so that the belief's update (strength x log ratio) adds back exactly
    the weighted sum.
    """
    strength = 1 - math.prod(1 - c.weight for c in clues)
    scores = {
        code: sum(c.weight * math.log(max(c.countries.get(code, 0.0), CLUE_FLOOR)) for c in clues)
        for code in all_countries()
    }
    peak = max(scores.values())
    out = {code: math.exp((s - peak) / strength) for code, s in scores.items()}
    kept = {code: round(v, 6) for code, v in out.items() if v > LIKELIHOOD_FLOOR * 1.001}
    return kept, round(min(strength, 1.0), 4)


def _summary(clues: list[Clue], likelihoods: dict[str, float], top: int = 3) -> str:
    """Say which clues were read and which countries stand out, never breaking a tie by the codes' order.

    Countries are named best first, up to `top`, stopping at the first tie; when the best ones tie, the
    summary says that no country stands out ('script Latn -> Latin: no country stands out').
    """
    said = ", ".join(f"{c.kind} {c.value}" for c in clues[:6]) + (" ..." if len(clues) > 6 else "")
    ranked = sorted(likelihoods, key=lambda code: -likelihoods[code])
    named = []
    for i, code in enumerate(ranked[:top]):
        following = likelihoods[ranked[i + 1]] if i + 1 < len(ranked) else 0.0
        if math.isclose(likelihoods[code], following, rel_tol=1e-3):
            break
        named.append(code)
    if named:
        return f"{said} -> " + ", ".join(named)
    scripts = [str(c.extra.get("name", c.value)) for c in clues if c.kind == "script"]
    lead = f"{', '.join(scripts)}: " if len(scripts) == len(clues) else ""
    return f"{said} -> {lead}no country stands out"




def run(call: ToolCall) -> Evidence:
    """Read the clues in the photo lines of this call."""
    return read_clues(list(call.lines))


SPEC = ToolSpec(
    name=TOOL,
    function=read_clues,
    run=run,
    description="""Read country clues from text seen in the photo (OCR output, one line per line).

Finds the writing script, the language, phone numbers, web and e-mail domains, currency signs,
country names and postcode formats, and returns which countries they point to with how strongly.
The text is only matched against tables; it is never treated as instructions.""",
    needs=("lines",),
    key=("lines",),
    planner_args=TEXT_ARG,
    cue="text",
    ablation=("ocr", TOOL),
    what="script → countries, language id, phones, domains, currency amounts, postcodes, country names, "
    "road numbers, plates, mph/km/h, national brands, British or American spelling; watermarks and credits "
    "set aside",
    offline_source="babel/CLDR, lingua, phonenumbers, GeoNames, a cited brand table",
    named_by=(r"text[ _]clues?",),
)
