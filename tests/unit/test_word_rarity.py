"""How ordinary a phrase is as text, on the real wordfreq lists, and the chance it names a place."""

from __future__ import annotations

import pytest
from wordfreq import zipf_frequency

from geosleuth.tools.word_rarity import (
    CJK_PER_CHAR,
    CJK_TWO_ZIPF,
    PHRASE_BONUS,
    country_languages,
    home_offset,
    phrase_zipf,
    place_chance,
    place_zipf,
)


def test_place_zipf_matches_well_known_towns():
    assert place_zipf(125_963) == pytest.approx(zipf_frequency("topeka", "en"), abs=0.15)
    assert place_zipf(2_664_452) == pytest.approx(zipf_frequency("chicago", "en"), abs=0.25)
    assert place_zipf(1000) < place_zipf(100_000) < place_zipf(10_000_000)
    assert place_zipf(0) == place_zipf(1)


@pytest.mark.parametrize(
    ("word", "population", "country"),
    [("Mission", 83_298, "US"), ("Noble", 6_500, "US"), ("Central", 28_295, "US"), ("Mars", 1_700, "US"),
     ("Google", 125_963, "US"), ("Split", 149_830, "HR"), ("Molinos", 1_262, "AR")],
)
def test_everyday_words_rarely_name_the_town(word, population, country):
    assert place_chance(word, population, country_languages(country)) < 0.05


@pytest.mark.parametrize(
    ("name", "population", "country"),
    [("Titusville", 45_393, "US"), ("Paris", 2_138_551, "FR"), ("Zagreb", 663_592, "HR"),
     ("Stuttgart", 612_663, "DE"), ("Москва", 10_381_222, "RU"), ("東京", 8_336_599, "JP")],
)
def test_names_of_places_are_places(name, population, country):
    assert place_chance(name, population, country_languages(country)) > 0.5


def test_home_language_mentions_its_towns_more():
    # "Ulm" is 4.2 in German: common for a town of 120k, but German text is written where Ulm is.
    expected = place_zipf(120_451) + home_offset("de")
    assert place_chance("Ulm", 120_451, country_languages("DE")) == pytest.approx(
        10 ** (expected - phrase_zipf("Ulm", "de"))
    )
    assert place_chance("Ulm", 120_451, country_languages("DE")) > 0.5
    assert place_chance("Ulm", 1_000, country_languages("DE")) < 0.01  # a village would not explain it


def test_smaller_languages_write_more_about_their_own_towns():
    assert home_offset("es") < home_offset("de") < home_offset("nl") < home_offset("da")
    assert 0.7 < home_offset("de") < 1.1 and 1.2 < home_offset("el") < 1.7
    assert home_offset("sh") < home_offset("hr")  # Croatian, Serbian and Bosnian speakers together


def test_the_script_of_the_phrase_brings_its_language():
    # "Αθήνα" is everyday Greek: Athens, yes; the Ukrainian village Afiny with that alternate name, no.
    assert place_chance("Αθήνα", 664_046, country_languages("GR")) > 0.3
    assert place_chance("Αθήνα", 1_979, country_languages("UA")) < 0.01


def test_a_phrase_is_its_rarest_word_less_a_bonus_per_extra_word():
    garden, city = zipf_frequency("garden", "en"), zipf_frequency("city", "en")
    assert phrase_zipf("Garden City", "en") == pytest.approx(min(garden, city) - PHRASE_BONUS)
    assert phrase_zipf("GARDEN", "en") == pytest.approx(garden)  # case does not matter
    assert phrase_zipf("Kennedy Space Center", "en") < phrase_zipf("Kennedy", "en")
    assert phrase_zipf("Gruibingen Xqzv", "en") == 0.0  # never below zero
    assert phrase_zipf("1234", "en") == 0.0


def test_han_kana_and_hangul_are_scored_by_length():
    assert phrase_zipf("東京", "en") == CJK_TWO_ZIPF
    assert phrase_zipf("渋谷区", "en") == CJK_TWO_ZIPF - CJK_PER_CHAR
    assert phrase_zipf("서울", "en") == CJK_TWO_ZIPF
    assert phrase_zipf("さいたま", "en") == CJK_TWO_ZIPF  # four kana count as two characters
    assert phrase_zipf("東京都渋谷区代々木", "en") == 0.0


def test_country_languages_are_wordfreq_languages_english_first():
    assert country_languages("HR")[:2] == ("en", "sh")  # Croatian is in wordfreq's Serbo-Croatian list
    assert set(country_languages("CH")) >= {"en", "de", "fr", "it"}
    assert country_languages("US") == ("en",)  # Spanish is spoken by under a tenth
    assert country_languages("JP") == ("en",)  # Japanese needs MeCab, not installed
    assert country_languages("ZZ") == ("en",)
