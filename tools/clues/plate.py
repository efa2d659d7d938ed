"""Plate clue: vehicle registration plates in a format that only one or a few countries issue.

The formats are general knowledge, from the Wikipedia articles "Vehicle registration plates of the
United Kingdom", "... of France", "... of Italy", "... of Spain", "... of the Netherlands" (the
sidecodes), "... of Portugal", "... of Belgium", "... of Germany", "... of Poland", "... of
Switzerland", "... of Japan", "... of China", "... of South Korea", "... of India", "... of Russia",
"... of Ukraine", "... of Bulgaria", "... of Romania", "... of Argentina", "... of Singapore" and
"Mercosur vehicle registration plates" (Brazil); never fitted to benchmark labels.

Only formats few countries share are read (current ones, and France's 1950-2009 "747 PLR 75" ending
in its département number), in capitals, with their separators: the letter sets each country uses (no
vowels on Dutch and Spanish plates, no I, O, U in France) keep model numbers and codes out, and a few
unit words too ("2400 MHZ" is no Spanish plate). German and Polish plates ("M AB 1234") look like any
codes, so they count only with the EU band's country letter before them ("D M AB 1234"). US, Canadian
and Australian plates vary by state and year and are not read. Weights stay modest (0.2 to 0.35): OCR
misreads plates, and cars travel.
"""

from __future__ import annotations

from functools import cache

import regex

from geosleuth.tools.clues.base import Clue, first_matches, parse_shares

NL = "[BDFGHJKLNPRSTVXZ]"
"""Letters on Dutch plates (no vowels, C, Q, W; M only on a few)."""
RU = "[ABEKMHOPCTYXАВЕКМНОРСТУХ]"
"""The twelve letters Russian plates use, the ones with Latin look-alikes, in either script."""
UA = "[ABCEHIKMOPTXАВСЕНІКМОРТХ]"
CANTONS = "AG|AI|AR|BE|BL|BS|FR|GE|GL|GR|JU|LU|NE|NW|OW|SG|SH|SO|SZ|TG|TI|UR|VD|VS|ZG|ZH"
PROVINCES = "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
"""The one-character abbreviations of China's provinces that begin its plates."""
STATES = (
    "AN|AP|AR|AS|BR|CG|CH|DD|DL|GA|GJ|HP|HR|JH|JK|KA|KL|LA|LD|MH|ML|MN|MP|MZ|NL|OD|PB|PY|RJ|SK|TN|TR|TS|UK|UP|WB"
)
"""India's state and union territory codes."""
COUNTIES = (
    "AB|AG|AR|BC|BH|BN|BR|BT|BV|BZ|CJ|CL|CS|CT|CV|DB|DJ|GJ|GL|GR|HD|HR|IF|IL|IS|MH|MM|MS|NT|OT|PH|SB|SJ|SM|SV|TL|TM"
    "|TR|VL|VN|VS"
)
"""Romania's county codes (Bucharest is B)."""
HANGUL = "[가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주하허호배]"
"""The syllables South Korean plates use."""

_PLATES = (
    (r"[A-HJ-PR-Y][A-HJ-PR-Y](?:0[2-9]|1\d|2[0-5]|5[1-9]|6\d|7[0-5]) ?[A-HJ-NP-Z]{3}", "GB", 0.3),
    (r"[A-HJ-NP-TV-Z]{2}-\d{3}-[A-HJ-NP-TV-Z]{2}", "FR", 0.35),
    (r"\d{2,4} ?[A-HJ-NP-TV-Z]{2,3} ?(?:0[1-9]|[1-8]\d|9[0-5]|2[AB]|97[1-6])", "FR", 0.2),
    (r"[A-HJ-NPR-TV-Z]{2} ?\d{3} ?[A-HJ-NPR-TV-Z]{2}", "IT AR:0.6 FR:0.4", 0.2),
    (r"(?!19\d\d|20\d\d)\d{4} ?(?!PCS|[KMG]HZ|RPM|MPH|KWH|DPI|BPM)[BCDFGHJKLMNPRSTVWXYZ]{3}", "ES", 0.25),
    (rf"\d{{2}}-{NL}{{3}}-\d|\d-{NL}{{3}}-\d{{2}}|{NL}{{2}}-\d{{3}}-{NL}|{NL}-\d{{3}}-{NL}{{2}}"
     rf"|{NL}{{3}}-\d{{2}}-{NL}|{NL}-\d{{2}}-{NL}{{3}}|\d-{NL}{{2}}-\d{{3}}|\d{{3}}-{NL}{{2}}-\d", "NL", 0.3),
    (r"[A-Z]{2}-\d{2}-[A-Z]{2}|\d{2}-[A-Z]{2}-\d{2}", "PT NL:0.5", 0.2),
    (r"[1-9]-[A-Z]{3}-\d{3}", "BE", 0.35),
    (r"D [A-ZÄÖÜ]{1,3}[ -][A-Z]{1,2} ?[1-9]\d{0,3}[EH]?", "DE", 0.3),
    (r"PL [A-Z]{2,3} ?(?=[A-Z]{0,2}\d)[0-9A-Z]{4,5}", "PL", 0.3),
    (rf"(?:{CANTONS})[ ·](?!19\d\d|20\d\d)\d{{3,6}}", "CH", 0.2),
    (r"\p{Han}{1,4} ?\d{2,3} ?\p{Hiragana} ?\d{1,2}-\d{2}|\p{Hiragana} ?\d{1,2}-\d{2}", "JP", 0.35),
    (rf"{PROVINCES}[A-HJ-NP-Z][·. ]?(?=[A-Z]{{0,4}}\d)[A-HJ-NP-Z0-9]{{5,6}}", "CN", 0.35),
    (rf"\d{{2,3}} ?{HANGUL} ?\d{{4}}", "KR", 0.35),
    (rf"(?:{STATES}) ?\d{{1,2}} ?[A-Z]{{1,3}} ?\d{{4}}", "IN", 0.3),
    (rf"{RU} ?\d{{3}} ?{RU}{{2}} ?\d{{2,3}}", "RU", 0.3),
    (rf"{UA}{{2}} ?\d{{4}} ?{UA}{{2}}", "UA BG:0.8", 0.25),
    (rf"(?:B \d{{2,3}}|(?:{COUNTIES}) \d{{2}}) [A-Z]{{3}}", "RO", 0.3),
    (r"[A-Z]{3}\d[A-Z]\d{2}", "BR", 0.3),
    (r"S[A-HJ-NP-Z]{2} ?\d{1,4} ?[A-HJ-MPR-UX-Z]", "SG", 0.3),
)
"""(pattern, countries, weight), tried in order; the first format to take a span of text wins."""


@cache
def _plates() -> tuple[tuple[regex.Pattern[str], dict[str, float], float], ...]:
    edge = r"[\p{Latin}\p{Cyrillic}\p{N}-]"
    return tuple(
        (regex.compile(f"(?<!{edge})(?:{p})(?!{edge})"), parse_shares(c), w) for p, c, w in _PLATES
    )


def plate_clues(text: str) -> list[Clue]:
    """Return one clue per plate-shaped token in a distinctive national format."""
    found: dict[str, Clue] = {}
    rules = ((pattern, (likes, weight)) for pattern, likes, weight in _plates())
    for (likes, weight), match in first_matches(rules, text):
        found.setdefault(match.group(0), Clue("plate", match.group(0), dict(likes), weight))
    return list(found.values())
