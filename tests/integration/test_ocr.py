"""The OCR engines (rapidocr, easyocr, tesseract) reading the examples, rendered signs and street photos."""

import subprocess
import sys

import pytest
from ocr_examples import LATIN_CJK, OTHER_EXAMPLES, PLAIN_EXAMPLES
from PIL import Image
from rapidfuzz import fuzz

from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root
from geosleuth.evals.scenes import FontMissingError, base_photo, render_sign
from geosleuth.tools import ocr
from geosleuth.tools.ocr import is_non_latin, read_text, tesseract_packs

ROOT = source_root()
EXAMPLES = ROOT / "examples"
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


def _photo(name: str) -> Image.Image:
    with Image.open(EXAMPLES / name) as img:
        return img.convert("RGB")


def _found(word: str, text: str, at_least: float = 80) -> bool:
    return fuzz.partial_ratio(word.lower(), text.lower()) >= at_least


def _all_found(expected: list[str], evidence) -> None:
    text = evidence.observations["text"].replace(" ", "")
    for line in expected:
        assert _found(line.replace(" ", ""), text, 90), (line, evidence.observations["text"])


def _need_packs(*packs: str) -> None:
    have = tesseract_packs()
    if not have:
        pytest.skip("tesseract or its script packs are not installed (scripts/install-system-deps.sh)")
    missing = [p for p in packs if p not in have]
    if missing:
        pytest.skip(f"tesseract packs {missing} are not installed (Debian tesseract-ocr-script-*)")


@pytest.mark.slow
def test_tesseract_missing_binary_is_reported(monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    image = _photo("us_kennedy_space_center.jpg")
    evidence = read_text(image, engines=("tesseract",))
    assert evidence.observations["engines"]["tesseract"] == "unavailable: tesseract not installed"
    assert evidence.error.type == "unavailable"
    assert tesseract_packs() == []
    # The default engines still read the sign with rapidocr alone.
    evidence = read_text(image)
    assert evidence.ok and evidence.observations["engines"]["rapidocr"] == "ok"
    assert evidence.observations["engines"]["tesseract"] == "unavailable: tesseract not installed"
    assert _found("KENNEDY SPACE CENTER", evidence.observations["text"])


@pytest.mark.slow
@pytest.mark.parametrize("example", PLAIN_EXAMPLES, ids=[ex["file"] for ex in PLAIN_EXAMPLES])
def test_rapidocr_reads_latin_and_cjk_examples(example):
    image = _photo(example["file"])
    evidence = read_text(image, engines=("rapidocr",))
    assert evidence.ok, evidence.summary
    _all_found(example["lines"], evidence)
    assert evidence.observations["engines"] == {"rapidocr": "ok"}
    assert evidence.observations["device"] == "cpu" and not evidence.country_likelihoods
    _assert_boxes_inside(evidence, image)
    # With the default engines, confident readings are not sent to tesseract at all.
    evidence = read_text(image)
    assert evidence.observations["reread"] == 0, evidence.observations["lines"]
    assert {x["engine"] for x in evidence.observations["lines"]} == {"rapidocr"}
    _all_found(example["lines"], evidence)


@pytest.mark.slow
@pytest.mark.parametrize("example", OTHER_EXAMPLES, ids=[ex["file"] for ex in OTHER_EXAMPLES])
def test_tesseract_fixes_other_script_examples(example):
    _need_packs("Cyrillic", "Greek", "Hangul")
    image = _photo(example["file"])
    evidence = read_text(image)
    assert evidence.ok, evidence.summary
    assert evidence.observations["engines"] == {"rapidocr": "ok", "tesseract": "ok"}
    assert evidence.observations["reread"] >= 1
    # Names must be read; short tokens such as 'д. 13' (house number) may stay misread as 'A. 13'.
    _all_found([x for x in example["lines"] if any(len(w) >= 3 and w.isalpha() for w in x.split())], evidence)
    lines = evidence.observations["lines"]
    assert any(x["engine"] == "tesseract" and is_non_latin(x["text"]) for x in lines)
    assert not any(ocr._mixed_alphabets(x["text"]) or ocr._odd_kana(x["text"]) for x in lines), lines
    _assert_boxes_inside(evidence, image)


SCRIPT_SIGNS = [
    ("Latin", "rocket.jpg", ["KENNEDY SPACE CENTER", "Titusville, Florida", "+1 321 449 4444"]),
    ("Han", "coffee.png", ["北京市 朝阳区", "建国路 88号", "010-6500-8888"]),
    ("Japanese", "gravel.png", ["東京都 渋谷区", "03-3463-0000"]),
    ("Cyrillic", "brick.png", ["Москва", "ул. Тверская", "д. 13"]),
    ("Greek", "grass.png", ["ΦΑΡΜΑΚΕΙΟ", "Αθήνα", "210 3221 000"]),
    ("Hangul", "chelsea.png", ["남산공원", "서울특별시 중구", "02-3783-5900"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("script", "base", "lines"), SCRIPT_SIGNS, ids=[s[0] for s in SCRIPT_SIGNS])
def test_default_engines_read_rendered_signs(script, base, lines):
    if script not in LATIN_CJK:
        _need_packs(script)
    image = _sign(base, lines)
    evidence = read_text(image)
    assert evidence.ok, evidence.summary
    _all_found(lines, evidence)
    engines = {x["engine"] for x in evidence.observations["lines"]}
    assert ("tesseract" in engines) == (script not in LATIN_CJK), evidence.observations["lines"]
    _assert_boxes_inside(evidence, image)


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


@pytest.mark.slow
def test_easyocr_with_tesseract_reads_cyrillic():
    _need_packs("Cyrillic")
    image = _photo("ru_moscow_tverskaya.jpg")
    evidence = read_text(image, engines=("easyocr", "tesseract"))
    assert evidence.observations["engines"] == {"easyocr": "ok", "tesseract": "ok"}
    _all_found(["Москва", "Тверская"], evidence)
    _assert_boxes_inside(evidence, image)


@pytest.mark.slow
@pytest.mark.parametrize("base", ["coffee.png", "chelsea.png"])
def test_photo_without_text_is_no_result(base):
    image = base_photo(base, size=SIZE)
    evidence = read_text(image)
    assert evidence.error is not None and evidence.error.type == "no_result", evidence.observations
    assert evidence.observations["lines"] == [] and evidence.observations["engines"]["rapidocr"] == "ok"


@pytest.mark.slow
def test_real_street_photos(shared_data):
    """Every street photo reads cleanly; a German shop front reads as German text."""
    from geosleuth.core.photo import load_photo
    from geosleuth.tools.text_clues import read_clues

    folder = shared_data / "streetscapes-sample"
    photos = sorted(folder.glob("images/*.jpg"))
    if not photos:
        pytest.skip(f"no photos under {folder}")
    texts = {}
    for path in photos:
        image = load_photo(path).without_metadata().image
        evidence = read_text(image)
        assert evidence.tool == "ocr" and evidence.observations["engines"]["rapidocr"] == "ok"
        assert evidence.ok or evidence.error.type == "no_result"
        assert evidence.observations["text"] == "\n".join(x["text"] for x in evidence.observations["lines"])
        _assert_boxes_inside(evidence, image)
        texts[path.stem] = [line["text"] for line in evidence.observations["lines"]]
    assert sum(bool(t) for t in texts.values()) >= 3, texts  # street photos do carry legible words
    shop = texts["sv_000014"]  # a German hairdresser's window: "Wir schneid... Sie fönen"
    assert _found("schneid", " ".join(shop)) and _found("fönen", " ".join(shop))
    clues = read_clues(shop)
    assert any(c["kind"] == "language" and c["value"] == "de" for c in clues.observations["clues"])


@pytest.mark.slow
def test_normal_read_prints_nothing_and_needs_no_network():
    code = (
        "import socket\n"
        "def refuse(*args):\n"
        "    raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "from PIL import Image\n"
        "from geosleuth.tools.ocr import read_text\n"
        "img = Image.open('examples/ru_moscow_tverskaya.jpg')\n"
        "print(read_text(img).observations['engines'])\n"
        "print(read_text(img, engines=('easyocr',)).observations['engines'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == "", done.stderr[-2000:]
    assert "'rapidocr': 'ok'" in done.stdout and "'easyocr': 'ok'" in done.stdout, done.stdout


@pytest.mark.slow
def test_shim_imports():
    code = (
        "from geosleuth.tools.torch_compat import ensure_torchvision_ops; ensure_torchvision_ops(); "
        "import torchvision, easyocr, open_clip"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_langchain_wrapper_reads_a_file(tmp_path):
    path = tmp_path / "sign.jpg"
    _sign("rocket.jpg", ["KENNEDY SPACE CENTER"]).save(path)
    ocr_tool = ocr.SPEC.langchain_tool(Settings())
    result = ocr_tool.invoke({"path": str(path)})
    assert result["tool"] == "ocr" and _found("KENNEDY", result["observations"]["text"])
    (tmp_path / "not.jpg").write_text("text")
    refused = ocr_tool.invoke({"path": str(tmp_path / "not.jpg")})
    assert refused["error"]["type"] == "bad_input"


def _assert_boxes_inside(evidence, image):
    for line in evidence.observations["lines"]:
        x0, y0, x1, y1 = line["box"]
        assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height, line
        assert 0 <= line["confidence"] <= 1 and line["engine"] in ocr.ENGINES
