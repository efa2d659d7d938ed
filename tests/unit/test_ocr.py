"""The OCR tool's line logic: merging, doubtful readings, engine and device checks (no engine runs).

The engines reading photos and rendered signs: tests/integration.
"""

import pytest
from ocr_examples import OTHER_EXAMPLES, PLAIN_EXAMPLES
from PIL import Image

from geosleuth.tools import ocr
from geosleuth.tools.ocr import is_non_latin, merge_lines, read_text


def _line(text, conf, box, engine):
    return {"text": text, "confidence": conf, "box": box, "engine": engine}


def test_examples_split_into_plain_and_other_scripts():
    assert {ex["country_code"] for ex in PLAIN_EXAMPLES} == {"US", "FR", "JP"}
    assert {ex["country_code"] for ex in OTHER_EXAMPLES} == {"GR", "RU", "KR"}


def test_is_non_latin():
    assert is_non_latin("ул. Тверская") and is_non_latin("東京") and is_non_latin("Αθήνα")
    assert not is_non_latin("Café de Flore 75006") and not is_non_latin("03-3463")


def test_doubtful_readings_are_misreading_shaped_or_unsure():
    sure = {"confidence": 0.99, "box": [0, 0, 10, 10], "engine": "rapidocr"}
    for misread in ("ΦAPMAKEIO", "Aθνα", "MocКBa", "居是マ号"):
        assert ocr._doubtful({**sure, "text": misread}), misread
    for fine in ("Café de Flore", "ΦΑΡΜΑΚΕΙΟ", "Москва", "東京都渋谷区", "東京タワー", "霞ケ関", "03-3463"):
        assert not ocr._doubtful({**sure, "text": fine}), fine
    assert ocr._doubtful({**sure, "text": "MocBa", "confidence": 0.73})
    assert ocr._lookalike("A. 13") and not ocr._lookalike("KENNEDY") and not ocr._lookalike("03-3463")


def test_tesseract_reading_replaces_only_misreadings():
    def reading(text, conf, engine):
        return _line(text, conf, [0, 0, 100, 20], engine)

    assert ocr._replaces(reading("ΦΑΡΜΑΚΕΙΟ", 0.89, "tesseract"), reading("ΦAPMAKEIO", 0.99, "rapidocr"))
    assert ocr._replaces(reading("Москва", 0.96, "tesseract"), reading("MocBa", 0.73, "rapidocr"))
    assert ocr._replaces(reading("남산공원", 0.94, "tesseract"), reading("", 0.0, "rapidocr"))
    # Latin, unsure or mixed-alphabet tesseract readings never replace; nor do less confident ones.
    assert not ocr._replaces(reading("Titusville", 0.95, "tesseract"), reading("Titusvile", 0.8, "rapidocr"))
    assert not ocr._replaces(reading("Москва", 0.5, "tesseract"), reading("MocBa", 0.3, "rapidocr"))
    assert not ocr._replaces(reading("ТАXI", 0.95, "tesseract"), reading("TAXl", 0.8, "rapidocr"))
    assert not ocr._replaces(reading("東京都", 0.8, "tesseract"), reading("東京都", 0.85, "rapidocr"))


def test_tesseract_words_are_joined_per_script():
    assert ocr._joined(["서", "울", "특별시", "중구"]) == "서울특별시 중구"
    assert ocr._joined(["東京都", "渋谷区"]) == "東京都渋谷区"
    assert ocr._joined(["ул.", "Тверская"]) == "ул. Тверская"
    assert ocr._joined(["ก", "ร", "ุ", "ง", "เท", "พ"]) == "กรุงเทพ"


def test_merge_lines_dedupes_overlapping_readings():
    lines = [
        _line("MocKBa", 0.81, [169, 128, 563, 230], "easyocr"),
        _line("Москва", 0.6, [175, 140, 548, 216], "tesseract"),
        _line("KENNEDY SPACE CENTER", 0.79, [124, 110, 592, 158], "easyocr"),
        _line("KENNEDY SPACE CENTFR", 0.96, [130, 112, 590, 156], "rapidocr"),
        _line("+1 321", 0.9, [10, 400, 100, 420], "easyocr"),
        _line("Titusville", 0.9, [10, 430, 100, 450], "easyocr"),
    ]
    kept = merge_lines(lines)
    texts = [x["text"] for x in kept]
    assert texts.count("Москва") == 1 and "MocKBa" not in texts
    assert texts.count("KENNEDY SPACE CENTFR") == 1 and "KENNEDY SPACE CENTER" not in texts
    assert "+1 321" in texts and "Titusville" in texts
    assert [x["box"][1] for x in kept] == sorted(x["box"][1] for x in kept)


def test_the_enlarged_pass_keeps_whole_readings_and_confident_new_lines():
    first = [
        _line("Gare du", 0.92, [100, 50, 170, 64], "rapidocr"),
        _line("BOLIRN", 0.81, [300, 200, 380, 220], "rapidocr"),
        _line("HASBIYALLAH CAFE", 0.9, [10, 300, 200, 320], "rapidocr"),
        _line("OPEN", 0.95, [500, 10, 540, 24], "rapidocr"),
    ]
    enlarged = [
        _line("Gare du Nord", 0.9, [98, 49, 210, 65], "rapidocr"),  # the whole line: replaces
        _line("BOLTON", 0.85, [301, 201, 379, 219], "rapidocr"),  # as long: the first reading stays
        _line("YALLAH CAFE", 0.93, [80, 300, 200, 320], "rapidocr"),  # a piece of a line read whole
        _line("OPENING", 0.5, [500, 10, 560, 24], "rapidocr"),  # longer but less sure: not kept
        _line("TEL 6291 1258", 0.88, [10, 400, 120, 414], "rapidocr"),  # new and sure: kept
        _line("PHOTERE TE", 0.45, [10, 500, 120, 514], "rapidocr"),  # new and unsure: noise
        _line("9日", 0.85, [10, 600, 40, 620], "rapidocr"),  # new and short: texture read as Han
        _line("非非非", 0.85, [10, 650, 40, 670], "rapidocr"),  # one character repeated: texture
    ]
    texts = sorted(x["text"] for x in ocr.merge_passes(first, enlarged))
    assert texts == ["BOLIRN", "Gare du Nord", "HASBIYALLAH CAFE", "OPEN", "TEL 6291 1258"]


def test_bad_engine_is_bad_input():
    evidence = read_text(Image.new("RGB", (50, 50)), engines=("abbyy",))
    assert evidence.error.type == "bad_input"


def test_bad_device_raises():
    with pytest.raises(ValueError, match="device"):
        read_text(Image.new("RGB", (50, 50)), device="gpu")
