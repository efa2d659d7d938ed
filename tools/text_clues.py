"""Turn text read in a photo (OCR) into evidence about the country.

Sub-clues, one module each under `geosleuth.tools.clues`, each a relative likelihood per country with
a trust weight: the Unicode scripts of the letters, the language (lingua), phone numbers
(phonenumbers), web domains and e-mail addresses (ccTLDs), currency signs and codes, country names,
and, only next to other clues, distinctive postcode formats. The sub-clues are pooled log-linearly
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
from geosleuth.tools.clues.country_name import country_name_clues
from geosleuth.tools.clues.currency import currency_clues
from geosleuth.tools.clues.domain import domain_clues
from geosleuth.tools.clues.language import language_clues
from geosleuth.tools.clues.phone import phone_clues
from geosleuth.tools.clues.postcode import postcode_clues
from geosleuth.tools.clues.script import script_clues
from geosleuth.tools.spec import TEXT_ARG, ToolCall, ToolSpec

TOOL = "text_clues"
MAX_CHARS = 20_000
"""Text beyond this many characters (all texts together) is ignored."""


def read_clues(texts: list[str]) -> Evidence:
    """Read country clues from text found in a photo.

    Args:
        texts: OCR lines or blocks, in reading order. Only the first `MAX_CHARS` characters are used.

    Returns:
        Evidence whose `country_likelihoods` pool all clues found, with `strength` growing with how
        distinctive they are, and `observations["clues"]` listing each one; a `no_result` failure when
        there is no text or no clue in it.
    """
    with timed() as clock:
        kept, budget = [], MAX_CHARS
        for text in texts:
            if budget <= 0:
                break
            piece = (text or "").strip()[:budget]
            budget -= len(piece)
            if piece:
                kept.append(piece)
        clues = _find_clues(kept) if kept else []
    inputs = {"texts": kept[:50], "n_texts": len(texts)}
    if not kept or not clues:
        message = "no country clue in the text" if kept else "no text to read clues from"
        return Evidence.failure(TOOL, "no_result", message, inputs=inputs, seconds=clock[0])
    likelihoods, strength = _pool(clues)
    top = sorted(likelihoods.items(), key=lambda item: (-item[1], item[0]))[:3]
    said = ", ".join(f"{c.kind} {c.value}" for c in clues[:6]) + (" ..." if len(clues) > 6 else "")
    summary = f"{said} -> " + ", ".join(code for code, _ in top)
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
    before_commit=True,
    cue="text",
    ablation=("ocr", TOOL),
    what="script → countries, language id, phone numbers, web domains, currency, postcodes, country names",
    offline_source="babel/CLDR, lingua, phonenumbers, GeoNames",
)
