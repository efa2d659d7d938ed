from __future__ import annotations

import csv
from importlib import resources

import pytest

from geosleuth.core.countries import all_countries
from geosleuth.tools.clues import plate, postcode, road, speed
from geosleuth.tools.clues.base import parse_shares
from geosleuth.tools.clues.brand import brand_clues, brands
from geosleuth.tools.clues.currency import currency_clues
from geosleuth.tools.clues.plate import plate_clues
from geosleuth.tools.clues.postcode import postcode_clues
from geosleuth.tools.clues.road import road_clues
from geosleuth.tools.clues.speed import unit_clues
from geosleuth.tools.clues.spelling import spelling_clues
from geosleuth.tools.text_clues import read_clues


def top(clue) -> set[str]:
    peak = max(clue.countries.values())
    return {code for code, like in clue.countries.items() if like == peak}


def only(clues):
    assert len(clues) == 1, clues
    return clues[0]


LOOK_ALIKES = [
    "Print on A4 paper, DIN A4 format",
    "BMW 320d, iPhone 15 Pro, RTX 4090, PS5",
    "Flight BA 2490 departs 12:30, gate B12",
    "Ingredients: sugar, citric acid (E330), E150d",
    "Open 9:00-18:00, since 1987, tel 2019 2020",
    "Price 12.50, 3 for 10",
    "COVID-19, ISO 9001, HD 1080p, MP3 128",
    "Mo-Fr. 9.00-18.00 Uhr, Sa. 10-14",
    "Miles & More, Air Miles",
    "2400 MHZ 1000 PCS",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
@pytest.mark.parametrize(
    "read", [road_clues, plate_clues, unit_clues, brand_clues, postcode_clues, spelling_clues]
)
def test_look_alikes_are_no_clues(read, text):
    assert read(text) == []


def test_look_alike_prices_have_no_currency():
    assert currency_clues("Price 12.50, 3 for 10 and 1987") == []
    assert currency_clues("Mo-Fr. 9.00-18.00 Uhr") == []
    assert currency_clues("Le 12 mai, den 5. Juni") == []  # lettered local signs (SLL 'Le', MKD 'den')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I-95 North", {"US"}),
        ("Interstate 80 West", {"US"}),
        ("U.S. Route 66", {"US"}),
        ("State Route 1", {"US"}),
        ("QEW Toronto", {"CA"}),
        ("N-340 Málaga", {"ES"}),
        ("AP-7 Barcelona", {"ES"}),
        ("BR-116", {"BR"}),
        ("国道1号", {"JP"}),
        ("DK7 zjazd Kraków", {"PL"}),
        ("SS1 Aurelia, strada statale", {"IT"}),
        ("DN1 drum național Ploiești", {"RO"}),
    ],
)
def test_distinctive_road_numbers(text, expected):
    assert top(only(road_clues(text))) == expected


def test_letter_number_roads_need_road_words_and_spread():
    assert road_clues("A7 Hamburg") == [] and road_clues("M25") == []
    a7 = only(road_clues("Autobahn A 7, Ausfahrt Hamburg"))
    assert a7.value == "A7" and {"DE", "FR", "GB", "IT", "AT"} <= top(a7) and a7.weight <= 0.3
    m25 = only(road_clues("M25 Junction 10"))
    assert {"GB", "IE", "AU"} <= top(m25) and "US" not in m25.countries
    e45 = only(road_clues("E45 motorway"))
    assert {"SE", "DK"} <= top(e45) and e45.countries["GB"] < 0.1
    assert top(only(road_clues("D906 Péage 12 km"))) == {"FR"}
    assert top(only(road_clues("Sortie 12 A-7 autopista"))) == {"ES"}
    assert only(road_clues("Interstate 95")).weight > m25.weight > 0  # exact shapes weigh more


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AB12 CDE", {"GB"}),
        ("LK07 XYZ", {"GB"}),
        ("AB-123-CD", {"FR"}),
        ("747 PLR 75", {"FR"}),
        ("AB 123 CD", {"IT"}),
        ("1234 BCD", {"ES"}),
        ("GB-123-X", {"NL"}),
        ("12-BDF-3", {"NL"}),
        ("1-ABC-234", {"BE"}),
        ("D M AB 1234", {"DE"}),
        ("PL WA 12345", {"PL"}),
        ("ZH 123456", {"CH"}),
        ("品川 300 さ 12-34", {"JP"}),
        ("京A·12345", {"CN"}),
        ("12가 3456", {"KR"}),
        ("MH 12 AB 1234", {"IN"}),
        ("А123ВС 77", {"RU"}),
        ("AA 1234 BB", {"UA"}),
        ("CJ 12 ABC", {"RO"}),
        ("ABC1D23", {"BR"}),
        ("SBA 1234 A", {"SG"}),
    ],
)
def test_plates(text, expected):
    plate = only(plate_clues(text))
    assert top(plate) == expected and plate.weight <= 0.35


def test_plates_need_their_shape():
    assert plate_clues("M AB 1234") == []  # a German plate needs its EU band letter
    assert plate_clues("2019 BMW") == []  # a year, not a Spanish plate
    assert plate_clues("12-ABC-3") == []  # vowels never appear on Dutch plates
    assert plate_clues("GE 2019") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("〒100-0001 東京都千代田区", {"JP"}),
        ("Springfield, IL 62701", {"US"}),
        ("NEW HAVEN, VT. 05472-1234", {"US"}),
        ("San Juan, PR 00901", {"PR"}),
        ("D-80331 München", {"DE"}),
        ("CH-8001 Zürich", {"CH"}),
        ("LT-01103 Vilnius", {"LT"}),
        ("S-111 22 Stockholm", {"SE"}),
        ("London SW1A 1AA", {"GB", "GG", "IM", "JE"}),
        ("Ottawa ON K1A 0B1", {"CA"}),
        ("Lisboa 1000-001", {"PT"}),
        ("AD500 Andorra la Vella", {"AD"}),
        ("NORTHUMBERLAND STREET WC2", {"GB"}),  # a London street name plate
        ("Abbey Road NW8", {"GB"}),
    ],
)
def test_postcodes(text, expected):
    assert top(only(postcode_clues(text))) == expected


def test_postcode_shapes_that_name_no_country():
    assert postcode_clues("Hauptstraße 5, 10115 Berlin") == []
    assert postcode_clues("A-1010 widget") == []  # a prefix needs a town after it
    assert postcode_clues("CH-12 Zürich") == []  # and a code of the country's format
    assert postcode_clues("IN 12345") != [] and postcode_clues("in 12345") == []
    assert postcode_clues("VLT 1117, RTX 4090") == []  # letters then digits: model numbers as often
    assert postcode_clues("erected in the 2nd century, the 1st gate") == []  # lower case: ordinals
    assert postcode_clues("sw1a 1aa") == [] and postcode_clues("SW1A 1AA") != []
    assert postcode_clues("Road wc2") == [] and postcode_clues("Route E45") == []  # a road number
    assert postcode_clues("PARK AVENUE N") == [] and postcode_clues("ROAD E330") == []


def currency(text: str):
    return only(currency_clues(text))


def test_amounts_show_how_a_country_writes_money():
    after_comma, before_point = currency("12,50 €"), currency("€12.50")
    assert {"DE", "FR", "IT", "ES"} <= top(after_comma) and "IE" not in top(after_comma)
    assert {"IE", "MT"} <= top(before_point) and "DE" not in top(before_point)
    assert {"NL", "AT"} <= top(currency("€ 12,50"))
    assert min(after_comma.countries.values()) > 0.3  # other ways of writing stay possible
    assert after_comma.weight > only(currency_clues("€")).weight  # an amount strengthens the sign


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Rp 10.000", {"ID"}), ("₩5,000", {"KR"}), ("R$ 19,90", {"BR"}), ("Fr. 5.–", {"CH", "LI"}),
     ("12,50 zł", {"PL"}), ("₦500", {"NG"}), ("49 kr", {"SE", "NO", "FO", "SJ"})],
)
def test_currency_amounts(text, expected):
    assert top(currency(text)) == expected


def test_bare_dollar_amounts_are_weak():
    assert currency_clues("$") == []
    point, comma = currency("$12.99"), currency("$ 12,99")
    assert {"US", "CA", "AU", "MX"} <= top(point) and "AR" not in top(point)
    assert {"AR", "CL", "CO"} <= top(comma) and "US" not in top(comma)
    assert "CA" in top(currency("12,99 $"))  # French Canada
    assert max(point.weight, comma.weight) <= 0.15


def test_speed_and_distance_units():
    mph = only(unit_clues("SPEED LIMIT 55 MPH"))
    assert mph.value == "mph" and {"US", "GB"} <= top(mph) and "DE" not in mph.countries
    kmh = only(unit_clues("Höchstgeschwindigkeit 80 km/h"))
    assert kmh.value == "km/h" and "DE" in top(kmh) and kmh.countries["US"] < 0.2
    assert only(unit_clues("Dover 12 miles")).value == "miles"
    assert only(unit_clues("Lyon 450 km")).value == "km"
    assert only(unit_clues("½ mi")).value == "miles"
    assert max(c.weight for c in unit_clues("55 MPH 3 miles 80 km/h 12 km")) <= 0.35


@pytest.mark.parametrize(
    ("text", "expected"),
    [("TESCO Express", "Tesco"), ("Sainsburys Local", "Sainsbury's"), ("Aldi Süd", "Aldi Süd/Nord"),
     ("7 Eleven", "7-Eleven"), ("セブン-イレブン 新宿店", "7-Eleven"), ("中国邮政储蓄银行", "China Post"),
     ("U.S. POST OFFICE", "USPS"), ("www.mercadona.es", "Mercadona"), ("SPAR", "Spar")],
)
def test_brands(text, expected):
    assert only(brand_clues(text)).value == expected


def test_brands_that_are_words_need_their_form_and_weigh_little():
    assert brand_clues("a chicken coop, spar and penny") == []
    coop, tesco = only(brand_clues("Coop")), only(brand_clues("Tesco"))
    assert {"CH", "IT"} <= top(coop) and coop.weight < 0.2 < tesco.weight
    assert top(only(brand_clues("Aldi"))) == {"DE"} and "AU" in only(brand_clues("Aldi")).countries


def test_brand_table():
    table = resources.files("geosleuth.tools").joinpath("data/brands.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(table.splitlines()))
    assert 0 < len(rows) <= 150
    codes = set(all_countries())
    for row in rows:
        assert row["source"].startswith("https://en.wikipedia.org/wiki/"), row
        assert row["ordinary_word"] in ("yes", "no")
        shares = [item.partition(":") for item in row["countries"].split()]
        assert {code for code, _, _ in shares} <= codes, row
        assert all(0 < float(share or 1) <= 1 for _, _, share in shares)
    assert len(brands()) == sum(len(row["names"].split(";")) for row in rows)  # no spelling twice


def test_rule_countries_are_known():
    codes = set(all_countries())
    tables = [rule.countries for rules in road._rules() for rule in rules]
    tables += [likes for _, likes, _ in plate._plates()] + [parse_shares(speed.MILE_COUNTRIES)]
    tables += [dict.fromkeys(postcode.POSTAL_PREFIXES.values(), 1.0)]
    for likes in tables:
        assert likes and set(likes) <= codes and all(0 < v <= 1 for v in likes.values()), likes


def test_new_clues_move_the_pooled_evidence():
    ev = read_clues(["Autobahn A 7", "Ausfahrt Hamburg-Schnelsen", "D HH AB 123"])
    kinds = {c["kind"] for c in ev.observations["clues"]}
    assert {"road", "plate"} <= kinds
    assert max(ev.country_likelihoods, key=ev.country_likelihoods.get) == "DE"
    ev = read_clues(["SPEED LIMIT 55 MPH", "Walmart Supercenter"])
    assert max(ev.country_likelihoods, key=ev.country_likelihoods.get) == "US"


def test_british_forms_point_to_british_english_and_against_american():
    """'Car Park' and 'Shopping Centre': the Commonwealth first, the US all but ruled out."""
    clue = only(spelling_clues("Shopping Centre\nCAR  PARK"))
    assert clue.kind == "spelling" and clue.extra["forms"] == ["car park", "centre"]
    assert top(clue) >= {"GB", "IE", "AU", "NZ", "SG", "IN"} and "US" not in top(clue)
    assert clue.countries["JP"] == pytest.approx(0.09) and clue.countries["CA"] == 0.25
    assert clue.countries["US"] < 0.01
    one = only(spelling_clues("Centre Pompidou"))  # a French word too: France keeps 1
    assert one.countries["FR"] == one.countries["GB"] == 1.0 and one.countries["US"] == 0.15
    assert one.weight < clue.weight
    assert only(spelling_clues("Fox Theatre")).countries["US"] == 0.4  # common in American theatres' names


def test_american_forms_point_to_american_english_and_spare_spanish_and_german():
    center = only(spelling_clues("Kennedy Space Center"))
    assert top(center) >= {"US", "PR", "PH", "DE", "AT"} and center.countries["GB"] == 0.1
    assert center.countries["JP"] == 0.3 and center.countries["CA"] == 0.5
    color = only(spelling_clues("Colores y color"))  # Spanish 'color'
    assert color.countries["MX"] == color.countries["ES"] == 1.0 and color.countries["AU"] == 0.05


@pytest.mark.parametrize("text", ["liftoff", "Lifted", "recentred", "Centre-ville", "colourful", "Yielding"])
def test_spelling_forms_match_whole_words_only(text):
    assert spelling_clues(text) == []
