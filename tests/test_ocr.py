import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from rapidfuzz import fuzz

from evals.scenes import FontMissingError, base_photo, render_sign
from tools import ocr
from tools.ocr import is_non_latin, merge_lines, read_text, tesseract_packs

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1224, 816)


def _sign(base: str, lines: list[str], colours=("#0b3d91", "#ffffff")) -> Image.Image:
    try:
        return render_sign(
            base_photo(base, size=SIZE),
            lines,
            position=(0.08, 0.1),
            size=0.42,
            colours=colours,
            perspective=0.08,
        )
    except FontMissingError as exc:
        pytest.skip(str(exc))


def _found(word: str, text: str, at_least: float = 80) -> bool:
    return fuzz.partial_ratio(word.lower(), text.lower()) >= at_least


def _line(text, conf, box, engine):
    return {"text": text, "confidence": conf, "box": box, "engine": engine}


def test_is_non_latin():
    assert is_non_latin("ул. Тверская") and is_non_latin("東京") and is_non_latin("Αθήνα")
    assert not is_non_latin("Café de Flore 75006") and not is_non_latin("03-3463")


def test_merge_lines_dedupes_overlapping_readings():
    lines = [
        _line("MocKBa", 0.81, [169, 128, 563, 230], "easyocr"),
        _line("Москва", 0.6, [175, 140, 548, 216], "tesseract"),
        _line("KENNEDY SPACE CENTER", 0.79, [124, 110, 592, 158], "easyocr"),
        _line("KENNEDY SPACE CENTFR", 0.96, [130, 112, 590, 156], "tesseract"),
        _line("+1 321", 0.9, [10, 400, 100, 420], "easyocr"),
        _line("Titusville", 0.9, [10, 430, 100, 450], "easyocr"),
    ]
    kept = merge_lines(lines)
    texts = [x["text"] for x in kept]
    assert texts.count("Москва") == 1 and "MocKBa" not in texts
    assert texts.count("KENNEDY SPACE CENTFR") == 1 and "KENNEDY SPACE CENTER" not in texts
    assert "+1 321" in texts and "Titusville" in texts
    assert [x["box"][1] for x in kept] == sorted(x["box"][1] for x in kept)


def test_bad_engine_is_bad_input():
    evidence = read_text(Image.new("RGB", (50, 50)), engines=("abbyy",))
    assert evidence.error.type == "bad_input"


def test_tesseract_missing_binary_is_reported(monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    evidence = read_text(_sign("rocket.jpg", ["KENNEDY SPACE CENTER"]), engines=("tesseract",))
    assert evidence.observations["engines"]["tesseract"] == "unavailable: tesseract not installed"
    assert evidence.error.type == "unavailable"
    assert tesseract_packs() == []


@pytest.mark.slow
def test_easyocr_reads_latin_sign_on_real_photo():
    lines = ["KENNEDY SPACE CENTER", "Titusville, Florida", "+1 321 449 4444", "kennedyspacecenter.com"]
    image = _sign("rocket.jpg", lines)
    evidence = read_text(image, engines=("easyocr",))
    assert evidence.ok, evidence.summary
    text = evidence.observations["text"]
    for word in ("KENNEDY", "SPACE", "CENTER", "Titusville", "Florida", "kennedyspacecenter"):
        assert _found(word, text), (word, text)
    assert _found("449 4444", text.replace("-", " "), 70)
    assert evidence.observations["engines"] == {"easyocr": "ok"}
    assert evidence.observations["device"] in ("cpu", "cuda")
    assert evidence.summary.startswith(f"read {len(evidence.observations['lines'])} lines")
    assert not evidence.country_likelihoods
    _assert_boxes_inside(evidence, image)


SCRIPT_SIGNS = [
    ("Cyrillic", "brick.png", ["Москва", "ул. Тверская", "д. 13"], ["Москва", "Тверская"]),
    ("Greek", "grass.png", ["ΦΑΡΜΑΚΕΙΟ", "Αθήνα", "210 3221 000"], ["ΦΑΡΜΑΚΕΙΟ", "Αθήνα"]),
    ("Japanese", "gravel.png", ["東京都 渋谷区", "03-3463-0000"], ["東京都", "渋谷区"]),
    ("Hangul", "chelsea.png", ["남산공원", "서울특별시 중구", "02-3783-5900"], ["서울특별시", "중구"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pack", "base", "lines", "expected"), SCRIPT_SIGNS, ids=[s[0] for s in SCRIPT_SIGNS]
)
def test_tesseract_reads_non_latin_signs(pack, base, lines, expected):
    packs = tesseract_packs()
    if not packs:
        pytest.skip("tesseract or its script packs are not installed (scripts/install-system-deps.sh)")
    if pack not in packs:
        pytest.skip(f"tesseract pack {pack} is not installed (Debian tesseract-ocr-script-*)")
    image = _sign(base, lines)
    evidence = read_text(image)
    assert evidence.ok, evidence.summary
    assert evidence.observations["engines"] == {"easyocr": "ok", "tesseract": "ok"}
    text = evidence.observations["text"].replace(" ", "")
    for word in expected:
        assert _found(word, text), (word, text)
    assert any(x["engine"] == "tesseract" and is_non_latin(x["text"]) for x in evidence.observations["lines"])
    _assert_boxes_inside(evidence, image)


@pytest.mark.slow
def test_photo_without_text_is_no_result():
    image = base_photo("coffee.png", size=SIZE)
    evidence = read_text(image)
    assert evidence.error is not None and evidence.error.type == "no_result", evidence.observations
    assert evidence.observations["lines"] == [] and evidence.observations["engines"]["easyocr"] == "ok"


@pytest.mark.slow
def test_real_street_photo(shared_data):
    folder = shared_data / "streetscapes-sample"
    photos = sorted(folder.glob("**/*.jp*g"))
    if not photos:
        pytest.skip(f"no photos under {folder}")
    with Image.open(photos[0]) as img:
        image = img.convert("RGB")
    evidence = read_text(image)
    assert evidence.tool == "ocr" and evidence.observations["engines"]["easyocr"] == "ok"
    assert evidence.ok or evidence.error.type == "no_result"
    assert evidence.observations["text"] == "\n".join(x["text"] for x in evidence.observations["lines"])
    _assert_boxes_inside(evidence, image)


@pytest.mark.slow
def test_shim_imports():
    code = (
        "from tools.torch_compat import ensure_torchvision_ops; ensure_torchvision_ops(); "
        "import torchvision, easyocr, open_clip"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_langchain_wrapper_reads_a_file(tmp_path):
    path = tmp_path / "sign.jpg"
    _sign("rocket.jpg", ["KENNEDY SPACE CENTER"]).save(path)
    result = ocr.ocr.invoke({"path": str(path)})
    assert result["tool"] == "ocr" and _found("KENNEDY", result["observations"]["text"])


def _assert_boxes_inside(evidence, image):
    for line in evidence.observations["lines"]:
        x0, y0, x1, y1 = line["box"]
        assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height, line
        assert 0 <= line["confidence"] <= 1 and line["engine"] in ("easyocr", "tesseract")
