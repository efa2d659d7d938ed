"""The evidence ledger: how far the prior and each Evidence moved the odds of one country against another.

Fusion is log-linear (`geosleuth.core.state.Belief.update`), so the log-odds of country A against
country B after all the evidence is the prior's log-odds plus, for each Evidence,
`weight * strength * (log r_A - log r_B)`, with `r_c = max(l_c / max(l), LIKELIHOOD_FLOOR)`; the
renormalisation cancels. The ledger lists those terms; `why_not`, `what_would_change` and `rests_on`
turn them into short, deterministic replies (chat answers them without an LLM).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from geosleuth.core.countries import find_country, get_country
from geosleuth.core.state import Belief, Evidence
from geosleuth.run.fusion import fusion_of
from geosleuth.tools import fusion_weight

SIDE_ITEMS = 4
"""Most contributions `why_not` names for each side."""

SUMMARY_CHARS = 48
"""Longest evidence summary a reply quotes (longer ones are cut with an ellipsis)."""

NOT_CODES = frozenset({"it", "me", "us", "and", "can", "is", "to", "so", "no", "be", "in", "at", "by", "or",
                       "am", "an", "my", "per"})
"""Lower-case words that are also ISO codes but in a question are just words ("what about it?")."""

QuestionKind = Literal["why_not", "change_mind"]

_ASKED = re.compile(
    r"(?:(?:but|and|so)\s+)?(?:why\s+(?:not|isn['’]?t\s+it|is\s+it\s+not)|what\s+about|"
    r"(?:could|couldn['’]?t|might|can)\s+(?:it|this)\s+(?:not\s+)?be)\s+(?:in\s+)?(?P<x>.+)",
    re.IGNORECASE,
)
_CHANGE_MIND = re.compile(r"what\s+would\s+(?:change\s+your\s+mind|make\s+you\s+change)", re.IGNORECASE)
_FILLER = re.compile(r"^(?:the\s+)|\s+(?:instead|then|either|too)$", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One line of the ledger: the prior or one Evidence, and its log odds factor for a country."""

    tool: str
    """The tool that made the Evidence, or "prior"."""
    summary: str
    evidence_id: str | None
    """The Evidence's id (None for the prior)."""
    log_factor: float
    """Natural log of the factor it multiplied the odds of `country` against `against` by."""

    @property
    def factor(self) -> float:
        """The odds factor itself (e.g. 40.0 for a clue that made the country 40 times likelier)."""
        return math.exp(self.log_factor)

    @property
    def label(self) -> str:
        """The tool and a short form of the summary, e.g. 'gazetteer (Athens, Attica, GR)'."""
        short = self.summary
        if len(short) > SUMMARY_CHARS:
            short = short[: SUMMARY_CHARS - 1] + "…"
        return f"{self.tool} ({short})" if short else self.tool


def _log_ratio(evidence: Evidence, code: str) -> float:
    """Return the term `evidence` adds to `code`'s log-probability before renormalisation."""
    scale = fusion_weight(evidence.tool) * evidence.strength
    return scale * evidence.log_ratios((code,)).get(code, 0.0) if scale > 0 else 0.0


def contributions(prior: Belief, evidence: Sequence[Evidence], country: str, against: str) -> list[Entry]:
    """Return the ledger of `country` against `against`: the prior, then each Evidence that moved it.

    Entries are ordered by size (largest |log factor| first); evidence that changed nothing (failed,
    zero strength, no country claims, or alike for both) is left out. The log factors sum to
    `log(p(country) / p(against))` of `fusion_of(prior, evidence).belief`.

    Raises:
        KeyError: either country is not in the prior.
    """
    p_country, p_against = math.exp(prior.log_probs[country]), math.exp(prior.log_probs[against])
    entries = [Entry("prior", f"{percent(p_country)} vs {percent(p_against)}", None,
                     prior.log_probs[country] - prior.log_probs[against])]
    for item in evidence:
        log_factor = _log_ratio(item, country) - _log_ratio(item, against)
        if log_factor != 0.0:
            entries.append(Entry(item.tool, item.summary, item.id, log_factor))
    return sorted(entries, key=lambda e: -abs(e.log_factor))


def factor_text(factor: float) -> str:
    """Round an odds factor readably: 1.04, 3.2, 40, 4,300, 1.2e12, 0.1, 0.0098."""
    if factor >= 1e6:
        return f"{factor:.1e}".replace("e+0", "e").replace("e+", "e")
    if factor >= 1000:
        digits = int(math.log10(factor)) + 1
        return f"{round(factor, 2 - digits):,.0f}"
    if factor >= 9.95:
        return f"{factor:,.0f}"
    if factor >= 1:
        text = f"{factor:.1f}"
        return f"{factor:.2f}" if text == "1.0" else text
    return f"{factor:.2g}"


def percent(p: float) -> str:
    """Write a probability as a percentage: '25 %', '3.1 %', '0.028 %'."""
    return f"{p * 100:.0f} %" if p >= 0.095 else f"{p * 100:.2g} %"


def _name(code: str) -> str:
    return get_country(code).name


def _items(entries: Sequence[Entry], *, inverse: bool = False) -> str:
    """'label ×factor; ...' for up to SIDE_ITEMS entries (factors inverted for the other side)."""
    parts = [f"{e.label} ×{factor_text(1 / e.factor if inverse else e.factor)}" for e in entries[:SIDE_ITEMS]]
    return "; ".join(parts) if parts else "nothing"


def _hints(code: str) -> str:
    """Evidence that would speak for a country: its phone code, web domain, a place in it."""
    country = get_country(code)
    hints = [f"a +{country.calling_codes[0]} phone number"] if country.calling_codes else []
    hints += [f"a {country.tlds[0]} web address"] if country.tlds else []
    hints += [f"a place like {country.capital}"] if country.capital else []
    if len(hints) < 2:
        return " or ".join(hints) or f"a clue found only in {country.name}"
    return ", ".join(hints[:-1]) + " or " + hints[-1]


def _runner_up(belief: Belief, country: str) -> str | None:
    """Return the most probable country other than `country` (None when there is no other)."""
    return next((code for code, _ in belief.top(2) if code != country), None)


def rests_on(prior: Belief, evidence: Sequence[Evidence], country: str) -> str:
    """Say in one line how sure the fusion is of `country` and its top 3 contributions against the runner-up.

    E.g. '25 % sure of the country, against United States: gazetteer (...) ×51, prior ×0.0098'; empty
    when the prior holds no other country.
    """
    belief = fusion_of(prior, list(evidence)).belief
    rival = _runner_up(belief, country)
    if rival is None:
        return ""
    top = contributions(prior, evidence, country, rival)[:3]
    listed = ", ".join(f"{e.label} ×{factor_text(e.factor)}" for e in top)
    sure = percent(math.exp(belief.log_probs[country]))
    return f"{sure} sure of the country, against {_name(rival)}: {listed}"


def why_not(prior: Belief, evidence: Sequence[Evidence], guess_country: str, asked_country: str) -> str:
    """Answer "why not `asked_country`?" from the ledger of the answer against it (at most 4 lines)."""
    answer, asked = _name(guess_country), _name(asked_country)
    if guess_country == asked_country:
        return f"{asked} is my answer. {rests_on(prior, evidence, guess_country)}".strip()
    entries = contributions(prior, evidence, guess_country, asked_country)
    odds = math.exp(sum(e.log_factor for e in entries))
    hints = _hints(asked_country)
    if odds >= 1:
        head = f"{answer} over {asked}, 1 : {factor_text(odds)} against {asked}."
        change = f"What would change it: evidence worth ×{factor_text(odds)} for {asked}, such as {hints}."
    else:
        head = f"{answer} is my answer, but the evidence puts {asked} ahead {factor_text(1 / odds)} : 1."
        change = f"What would change it: little; any clue for {asked}, such as {hints}."
    return "\n".join([
        head,
        f"For {answer}: {_items([e for e in entries if e.log_factor > 0])}.",
        f"For {asked}: {_items([e for e in entries if e.log_factor < 0], inverse=True)}.",
        change,
    ])


def what_would_change(prior: Belief, evidence: Sequence[Evidence], guess_country: str) -> str:
    """Answer "what would change your mind?": the two runners-up, the factor each needs, the support."""
    belief = fusion_of(prior, list(evidence)).belief
    answer, p_answer = _name(guess_country), math.exp(belief.log_probs[guess_country])
    rivals = [code for code, _ in belief.top(3) if code != guess_country][:2]
    if not rivals:
        return f"{answer} is the only country left in the prior; nothing would change it."
    lines = [f"I answer {answer} ({percent(p_answer)} sure of the country)."]
    for code in rivals:
        p = math.exp(belief.log_probs[code])
        need, rival = p_answer / p, f"{_name(code)} ({percent(p)})"
        lines.append(
            f"{rival} would need evidence worth ×{factor_text(need)}, such as {_hints(code)}."
            if need > 1 else f"{rival} is as likely on the evidence; any clue for it would do."
        )
    support = [e for e in contributions(prior, evidence, guess_country, rivals[0]) if e.log_factor > 0]
    lines.append(f"Against {_name(rivals[0])}, {answer} rests on: {_items(support[:3])}.")
    return "\n".join(lines)


def resolve_country(text: str) -> str | None:
    """Return the ISO alpha-2 code of the country `text` names ('Cyprus', 'cy', 'the US', 'UK'), or None."""
    name = _FILLER.sub("", text.strip().strip("?!.,;: ")).strip()
    if name.lower() in NOT_CODES and name.islower():
        return None
    found = find_country(name) or find_country(name.replace(".", ""))
    return found.code if found else None


def parse_question(question: str) -> tuple[QuestionKind, str | None] | None:
    """Recognise a why-not or change-your-mind question; return (kind, the country as asked) or None.

    "why not X?", "what about X?", "why isn't it X", "could it be X?" give ("why_not", X) when X names a
    country (any case, ISO codes too) or looks like a name (at most three capitalised words, so the
    chat can say it knows no such country); "what would change your mind" and "what would make you
    change" give ("change_mind", None). Anything else (e.g. "why not zoom in on the sign?") is None.
    """
    text = question.strip().strip("?!. ")
    if _CHANGE_MIND.search(text):
        return "change_mind", None
    match = _ASKED.fullmatch(text)
    if match is None:
        return None
    asked = _FILLER.sub("", match["x"].strip("?!.,;: ")).strip()
    words = asked.split()
    looks_like_name = 0 < len(words) <= 3 and all(w[0].isupper() and w.isalpha() for w in words)
    return ("why_not", asked) if resolve_country(asked) or looks_like_name else None
