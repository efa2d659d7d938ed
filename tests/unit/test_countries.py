"""The country table: codes, names in many languages, scripts, calling codes, currencies, priors."""

from __future__ import annotations

import csv
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geosleuth.core.countries import (
    DATA_DIR,
    Country,
    all_countries,
    countries_for_calling_code,
    countries_for_currency_symbol,
    countries_for_language,
    countries_for_script,
    countries_for_tld,
    find_country,
    get_country,
    population_prior,
)


def top(weights: dict[str, float]) -> str:
    return max(weights, key=weights.__getitem__)


def test_table_holds_real_populated_territories_only():
    countries = all_countries()
    assert 240 <= len(countries) <= 250
    assert {"FR", "JP", "BR", "XK", "HK", "PR"} <= set(countries)
    assert not {"AQ", "BV", "HM", "UM", "CS", "AN"} & set(countries)  # empty or no longer ISO
    for code, country in countries.items():
        assert isinstance(country, Country) and country.code == code
        assert len(code) == 2 and code.isupper() and len(country.iso3) == 3
        assert country.population > 0
        assert country.continent in {"AF", "AS", "EU", "NA", "OC", "SA", "AN"}
        assert country.languages and all(0 < share <= 1 for _, share in country.languages)
        assert country.scripts


def test_known_facts():
    fr = get_country("fr")
    assert fr.name == "France" and fr.iso3 == "FRA" and fr.official_name == "French Republic"
    assert fr.calling_codes == (33,) and fr.tlds == (".fr",) and fr.currencies == ("EUR",)
    assert "€" in fr.currency_symbols and fr.continent == "EU" and fr.capital == "Paris"
    assert fr.languages[0][0] == "fr" and "Latn" in fr.scripts
    assert {"DE", "ES", "BE"} <= set(fr.neighbours)
    assert math.isclose(fr.capital_lat, 48.85, abs_tol=0.05)
    assert math.isclose(fr.capital_lon, 2.35, abs_tol=0.05)
    jp = get_country("JP")
    assert {"Jpan", "Hani", "Hira", "Kana"} <= set(jp.scripts)
    assert jp.drives_on == "left" and get_country("US").drives_on == "right"
    assert get_country("KR").scripts[:2] == ("Kore", "Hang")
    assert get_country("GB").postcode_regex and get_country("GB").tlds == (".uk",)
    assert get_country("BR").area_km2 > 8_000_000


def test_capitals_are_located():
    located = [c for c in all_countries().values() if c.capital_lat is not None]
    assert len(located) >= 235
    au = get_country("AU")
    assert au.capital == "Canberra" and -36 < au.capital_lat < -35 and 148 < au.capital_lon < 150


def test_driving_side_file_covers_every_country():
    with (DATA_DIR / "driving_side.csv").open(encoding="utf-8") as handle:
        rows = {row["code"]: row["drives_on"] for row in csv.DictReader(handle)}
    assert set(rows) == set(all_countries())
    assert set(rows.values()) <= {"left", "right", ""}
    left = {code for code, side in rows.items() if side == "left"}
    assert 70 <= len(left) <= 80
    assert {"GB", "IE", "JP", "IN", "AU", "NZ", "ZA", "TH", "ID", "MY", "SG", "HK", "MO", "KE"} <= left
    assert not {"US", "FR", "CN", "KR", "BR", "RU", "DE", "CA"} & left
    assert all(all_countries()[code].drives_on == (side or None) for code, side in rows.items())


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Deutschland", "DE"),
        ("Allemagne", "DE"),
        ("germany", "DE"),
        ("DEU", "DE"),
        ("de", "DE"),
        ("Japon", "JP"),
        ("日本", "JP"),
        ("Япония", "JP"),
        ("대한민국", "KR"),
        ("Österreich", "AT"),
        ("OSTERREICH", "AT"),
        ("cote d'ivoire", "CI"),
        ("Côte d’Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("España", "ES"),
        ("Россия", "RU"),
        ("UK", "GB"),
        ("United States of America", "US"),
        ("  brasil ", "BR"),
    ],
)
def test_find_country_in_many_languages(text, code):
    found = find_country(text)
    assert found is not None and found.code == code


def test_find_country_misses_and_names_only():
    assert find_country("") is None and find_country("   ") is None
    assert find_country("Atlantis") is None
    assert find_country("IN").code == "IN"
    assert find_country("IN", names_only=True) is None
    assert find_country("india", names_only=True).code == "IN"


def test_every_country_is_found_by_its_names():
    for code, country in all_countries().items():
        assert find_country(code.lower()).code == code
        assert find_country(country.iso3).code == code
        hit = find_country(country.name.upper())
        assert hit is not None and hit.code == code, country.name


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_find_country_never_raises(text):
    found = find_country(text)
    assert found is None or found.code in all_countries()


def test_get_country_suggests_on_unknown():
    with pytest.raises(KeyError, match="did you mean DE"):
        get_country("Germany")
    with pytest.raises(KeyError, match="did you mean FR"):
        get_country("FRA")
    with pytest.raises(KeyError, match="unknown country code"):
        get_country("QQ")


def test_population_prior():
    prior = population_prior()
    assert set(prior) == set(all_countries())
    assert all(w > 0 for w in prior.values())
    assert math.isclose(sum(prior.values()), 1.0)
    assert set(sorted(prior, key=prior.__getitem__)[-2:]) == {"CN", "IN"}


def test_countries_for_language():
    french = countries_for_language("fr")
    assert "FR" in sorted(french, key=french.__getitem__)[-3:]
    assert math.isclose(french["FR"], get_country("FR").population * 0.97)
    traditional = countries_for_language("zh-Hant")
    assert top(traditional) == "TW" and "HK" in traditional and "CN" not in traditional
    assert top(countries_for_language("zh")) == "CN"
    assert set(countries_for_language("sr_Latn")) >= {"RS", "ME", "BA"}
    assert countries_for_language("not a language!") == {} and countries_for_language("") == {}


def test_countries_for_script():
    assert top(countries_for_script("Hang")) == "KR"
    assert top(countries_for_script("thai")) == "TH"
    assert top(countries_for_script("Geor")) == "GE" and top(countries_for_script("Armn")) == "AM"
    assert top(countries_for_script("Hebr")) == "IL" and top(countries_for_script("Grek")) == "GR"
    assert top(countries_for_script("Kana")) == "JP" and top(countries_for_script("Hani")) == "CN"
    assert {"RU", "UA", "BY", "BG", "RS", "KZ", "MK", "MN"} <= set(countries_for_script("Cyrl"))
    assert {"SA", "EG", "IR", "PK", "MA"} <= set(countries_for_script("Arab"))
    assert countries_for_script("Zzzz") == {}


def test_countries_for_codes_and_symbols():
    assert top(countries_for_calling_code(44)) == "GB"
    assert {"US", "CA", "JM", "PR"} <= set(countries_for_calling_code("+1"))
    assert set(countries_for_calling_code(7)) == {"RU", "KZ"}
    assert countries_for_calling_code("") == {}
    assert set(countries_for_tld(".de")) == {"DE"} and set(countries_for_tld("UK")) == {"GB"}
    assert set(countries_for_tld("www.example.com.br")) == {"BR"}
    assert countries_for_tld("com") == {}
    euro = countries_for_currency_symbol("€")
    assert {"DE", "FR", "IT", "ES", "NL", "GR"} <= set(euro) and "GB" not in euro and "CH" not in euro
    assert set(countries_for_currency_symbol("zł")) == {"PL"}
    assert set(countries_for_currency_symbol("Kč")) == {"CZ"}
    assert set(countries_for_currency_symbol("R$")) == {"BR"}
    assert set(countries_for_currency_symbol("฿")) == {"TH"}
    assert "KR" in countries_for_currency_symbol("₩") and "IN" in countries_for_currency_symbol("₹")
    assert {"CH", "LI"} == set(countries_for_currency_symbol("chf"))
    assert countries_for_currency_symbol(" ") == {}
