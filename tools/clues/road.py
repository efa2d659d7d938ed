"""Road clue: road numbers written the way a country numbers its roads (A7, M25, I-95, N-340, 国道1号).

The rules are general knowledge of national road numbering, never fitted to benchmark labels. Sources:
the Wikipedia articles "Great Britain road numbering scheme", "Roads in Ireland", "Autobahns of
Germany", "Bundesstraße", "Autobahns of Austria", "National roads in Switzerland", "Autoroutes of
France", "Route nationale", "Route départementale", "Highways in Spain", "Autostrade of Italy",
"Strada statale", "Roads in the Netherlands", "Roads in Belgium", "Expressways in Poland",
"National roads in Poland", "Roads in Romania", "Motorways in Hungary", "Route numbering in
Australia", "State highways in New Zealand", "Interstate Highway System", "United States Numbered
Highway System", "Ontario Highway 401", "Quebec Autoroutes", "National highways of Japan", "Highway
system in Taiwan", "National highways of South Korea", "National Highways (India)", "Brazilian
highway system", "National routes of Argentina", "Numbered routes in South Africa", "International
E-road network" and "Asian Highway Network".

Two kinds of rule. Exact shapes that only road numbering writes (I-95, Interstate 95, State Route 1,
AP-7, N-340, BR-116, QEW, 国道1号) count wherever they are. A capital letter and a number (A7, M25,
B 12, E45, D906) is also a paper size, a model, a flight, a food additive or a gate, so it counts only
when the text also has a road word (motorway, Autobahn, autoroute, Ausfahrt, 高速, "12 km", ...) and
it is not followed by a paper or size word; its likelihood spreads over every country numbering roads
with that letter, and its weight (0.1 to 0.3) grows with how few they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, partial

from geosleuth.tools.clues.base import Clue, distinctiveness, first_matches, parse_shares


@dataclass(frozen=True)
class RoadRule:
    """One road-numbering shape, the countries numbering roads that way, and the clue's weight."""

    pattern: re.Pattern[str]
    countries: dict[str, float]
    weight: float


A_ROADS = (
    "GB IM DE FR IT NL BE AT CH PT PL HR SI RO RS BG GR LU CY LT LV AL BA MK MA TN AU "
    "ES:0.3 KZ:0.5 LK:0.5 NG:0.5 ZW:0.5 BW:0.5 JM:0.5"
)
"""Motorways (DE, FR, IT, NL, BE, AT, CH, PT, PL, ...) or main roads (GB, AU, LK, NG, ...) numbered A n;
Spain writes A-n, with a hyphen."""
E_ROADS = (
    "SE NO DK BE FI:0.7 "
    "AT:0.4 CH:0.4 DE:0.4 FR:0.4 IT:0.4 ES:0.4 PT:0.4 NL:0.4 LU:0.4 PL:0.4 CZ:0.4 SK:0.4 HU:0.4 "
    "SI:0.4 HR:0.4 BA:0.4 RS:0.4 ME:0.4 MK:0.4 AL:0.4 GR:0.4 BG:0.4 RO:0.4 MD:0.4 UA:0.4 BY:0.4 "
    "LT:0.4 LV:0.4 EE:0.4 RU:0.4 TR:0.4 GE:0.4 AM:0.4 AZ:0.4 KZ:0.4 XK:0.4 "
    "MY:0.3 JP:0.3 LK:0.2 GB:0.05 IE:0.05"
)
"""European routes, the only numbers on Scandinavian and Belgian main roads and shown beside national
numbers elsewhere in Europe (not signed in Britain or Ireland); Malaysian and Japanese expressways
are numbered E n too."""
M_ROADS = "GB IE AU HU ZA:0.6 PK:0.6 BY:0.6 UA:0.6 RU:0.6 MD:0.6 AM:0.6 AZ:0.6 KZ:0.4 UZ:0.4 MW:0.4 ZM:0.4"
"""Motorways (GB, IE, AU, HU, PK), metropolitan routes (ZA) and main roads of former Soviet countries."""
ASIAN_HIGHWAYS = "TH LA KH VN MY MM BD NP IN LK PK IR KZ UZ KG TJ TM MN CN KR ID PH SG TR GE AZ AM AF BT"
"""Countries of the Asian Highway Network, signed AH n."""

_START, _END = r"(?<![A-Za-z0-9-])", r"(?![A-Za-z0-9-]|[.,:/]\d)"

_EXACT = (
    (r"\bI-\d{1,3}\b|(?i:\bInterstate\s+)\d{1,3}\b", "US", 0.45),
    (r"(?i:\bU\.?S\.?\s?(?:route|highway|hwy\.?)\s?)\d{1,3}\b|\bUS-\d{1,3}\b", "US", 0.35),
    (r"(?i:\b(?:state\s+route|county\s+(?:road|route))\s+)\d{1,4}\b", "US", 0.3),
    (r"(?i:\bstate\s+highway\s+)\d{1,3}\b", "NZ US:0.6 IN:0.4", 0.2),
    (r"\bQEW\b|(?i:\btrans-?canada\b)", "CA", 0.35),
    (r"(?i:\bautoroute\s+)\d{1,3}\b", "CA FR:0.3", 0.25),
    (r"(?i:\b(?:highway|hwy\.?)\s?)\d{1,3}\b", "CA US:0.8 AU:0.5 NZ:0.3 ZA:0.3 PH:0.3 MY:0.3 IN:0.3", 0.15),
    (r"(?i:\broute\s+)\d{1,3}\b", "US JP:0.4 CA:0.4", 0.12),
    (r"\bAP-\d{1,2}\b|\bN-\d{3}\b", "ES", 0.3),
    (r"\bBR-\d{3}\b", "BR", 0.35),
    (r"(?i:\bbundesstra(?:ß|ss)e\s+)\d{1,3}\b", "DE AT:0.7", 0.3),
    (r"国道\s*\d{1,3}\s*号(?![线線])", "JP", 0.35),
    (r"國道\s*\d{1,2}\s*號", "TW", 0.35),
    (r"\d{1,3}\s*번\s*국도|국도\s*\d{1,3}\s*호선", "KR", 0.3),
)
"""Shapes only road numbering writes: (pattern, countries, weight)."""

_TOKENS = (
    (r"A-\d{1,2}", "ES"),
    (r"M-\d{1,3}", "PK UA RU:0.7 ES:0.6 BY:0.5"),
    (r"N-\d{1,2}", "ES"),
    (r"DK ?\d{1,2}|DW ?\d{3}", "PL"),
    (r"DN ?\d{1,3}[A-Z]?", "RO"),
    (r"D ?\d", "FR CZ SK HR"),
    (r"D ?\d{2,3}", "FR HR:0.5"),
    (r"D ?\d{4}", "FR"),
    (r"SH ?\d{1,2}", "NZ IN:0.6"),
    (r"SS ?\d{1,3}", "IT"),
    (r"SP ?-?\d{1,3}", "IT BR:0.8"),
    (r"SR ?-?\d{1,3}", "US IT:0.4"),
    (r"S ?\d{1,2}", "PL AT"),
    (r"NH ?\d{1,3}", "IN"),
    (r"N ?\d{1,3}", "FR IE NL BE ZA PT:0.6 LU:0.6 ES:0.3 GH:0.6 PH:0.6 SN:0.6 BF:0.6"),
    (r"RN ?\d{1,3}", "FR AR MG:0.5 DZ:0.5 SN:0.5 ML:0.3 NE:0.3 BF:0.3"),
    (r"RD ?\d{1,4}", "FR"),
    (r"R ?\d{3}", "IE ZA"),
    (r"R ?\d{1,2}", "BE ZA IE:0.3"),
    (r"AH ?\d{1,3}", ASIAN_HIGHWAYS),
    (r"A ?\d{1,4}", A_ROADS),
    (r"M ?\d{1,3}", M_ROADS),
    (r"B ?\d{1,4}", "GB DE AT AU:0.7 IM:0.5 NA:0.5 CY:0.5"),
    (r"E ?\d{1,3}", E_ROADS),
    (r"G ?\d{1,4}", "CN"),
)
"""A capital letter and a number, read only next to a road word: (pattern, countries). Tried in order,
longer prefixes first; the first rule to match a token wins."""

ROAD_WORDS = re.compile(
    r"(?i:\b(?:motorway|freeway|expressway|highway|hwy|interchange|junction|turnpike|"
    r"autobahn\w*|ausfahrt|anschlussstelle|bundesstra(?:ß|ss)e|schnellstra(?:ß|ss)e|autoroute|"
    r"route nationale|p[ée]age|[ée]changeur|autostrad[ae]|autostradă|svincolo|casello|strada statale|"
    r"autopista|autov[ií]a|carretera|snelweg|autosnelweg|afrit|rijksweg|autoestrada|estrada nacional|"
    r"droga ekspresowa|droga krajowa|w[ęe]ze[łl]|zjazd|d[áa]lnice|dia[ľl]nica|motorvej|afk[øo]rsel|"
    r"motorv[äa]g|trafikplats|motorvei|avkj[øo]rsel|moottoritie|aut[óo]p[áa]lya|kij[áa]rat|autocesta|"
    r"autoput|drum na[țt]ional|otoyol)\b)"
    r"|高速|国道|國道|自動車道|出口|고속도로|국도"
    r"|\d ?km\b"
)
"""Words of road signs and maps (exit, motorway, toll, interchange, ...) in the languages of the
countries above, and distances in kilometres."""

NOT_ROADS = re.compile(r"(?i)\s*(?:paper|papier|papel|carta|format\w*|size|sheet|blatt|mm|cm)\b")
"""Words after 'A4', 'B5' that make it a paper size or a part, not a road."""


@cache
def _rules() -> tuple[tuple[RoadRule, ...], tuple[RoadRule, ...]]:
    exact = tuple(RoadRule(re.compile(p), parse_shares(c), w) for p, c, w in _EXACT)
    tokens = []
    for pattern, spec in _TOKENS:
        likes = parse_shares(spec)
        weight = round(min(0.3, 0.1 + 0.25 * distinctiveness(likes)), 3)
        tokens.append(RoadRule(re.compile(_START + pattern + _END), likes, weight))
    return exact, tuple(tokens)


def road_clues(text: str) -> list[Clue]:
    """Return one clue per road number: exact shapes anywhere, letter-number tokens next to road words."""
    exact, tokens = _rules()
    found: dict[str, Clue] = {}
    rules = [(rule.pattern, (rule, " ")) for rule in exact]
    if ROAD_WORDS.search(text):
        rules += [(rule.pattern, (rule, "")) for rule in tokens]  # a token is written without spaces
    skip = partial(_not_a_road, text)
    for (rule, space), match in first_matches(rules, text, skip):
        value = re.sub(r"\s+", space, match.group(0))
        found.setdefault(value, Clue("road", value, dict(rule.countries), rule.weight))
    return list(found.values())


def _not_a_road(text: str, start: int, end: int) -> bool:
    """Tell whether a token is a paper size or a part ('A4 paper', 'DIN A4', 'M8 mm')."""
    return bool(NOT_ROADS.match(text, end)) or text[max(0, start - 4) : start].upper().endswith("DIN ")
