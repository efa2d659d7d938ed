"""Tool "ocr": read the text in a photo with easyocr (Latin) and tesseract (other scripts), offline.

How: easyocr's English model finds text regions in any script (its CRAFT detector is multilingual) and
reads Latin text. When tesseract is installed, the regions easyocr found are cropped from the full
resolution photo, normalised to dark text on light, stacked into one strip and read by tesseract with
the installed script packs, a few packs per call (see `SCRIPT_GROUPS`): each region keeps the reading
of the group that is most confident about it. A region whose tesseract reading holds non-Latin
letters replaces easyocr's reading of the same box (an English-only model can only misread such
text); readings of the same box that agree are deduplicated. Without easyocr, tesseract reads the
whole photo instead. Measured on 2 shared CPU cores per 1-MP photo: easyocr ~7-16 s, tesseract on
its regions ~1-3 s more; tesseract with all 15 packs in one call on the whole photo took up to 22 s
and read less.

This tool makes no country claims; `text_clues` turns the text into evidence.
"""

from __future__ import annotations

import threading
import unicodedata
from typing import Any

from PIL import Image, ImageOps, ImageStat

from agent.state import Evidence, timed

TOOL = "ocr"

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
_HOME_BONUS = 0.1  # confidence added to readings by the group that reads the whole photo best

_LATIN_PACKS = {"eng", "osd", "equ", "Latin", "Fraktur", "Vietnamese"}
_GAP = 24  # white pixels between stacked regions
_LINE_PX = 48  # height regions are scaled to before tesseract reads them

_readers: dict[bool, Any] = {}
_readers_lock = threading.Lock()


def _easyocr_reader(gpu: bool) -> Any:
    """Return the process-wide easyocr Reader for English, creating it on first use (thread-safe)."""
    with _readers_lock:
        if gpu not in _readers:
            from tools.torch_compat import ensure_torchvision_ops

            ensure_torchvision_ops()
            import easyocr
            import easyocr_en_models

            _readers[gpu] = easyocr.Reader(
                ["en"],
                gpu=gpu,
                model_storage_directory=easyocr_en_models.model_dir(),
                download_enabled=False,
                verbose=False,
            )
        return _readers[gpu]


def _resolve_device(device: str) -> str:
    """Map 'auto' | 'cpu' | 'cuda' to the device easyocr will use."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA device")
    return "cpu"


def _run_easyocr(image: Image.Image, max_side: int, device: str) -> list[dict[str, Any]]:
    """Read `image` with easyocr at most `max_side` pixels long; boxes in `image` pixels."""
    import numpy as np

    scale = min(1.0, max_side / max(image.size))
    small = (
        image
        if scale == 1.0
        else image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    )
    results = _easyocr_reader(device == "cuda").readtext(np.asarray(small))
    lines = []
    for corners, text, conf in results:
        xs = [float(p[0]) / scale for p in corners]
        ys = [float(p[1]) / scale for p in corners]
        box = _clip([min(xs), min(ys), max(xs), max(ys)], image.size)
        lines.append({"text": str(text).strip(), "confidence": float(conf), "box": box, "engine": "easyocr"})
    return lines


def _clip(box: list[float], size: tuple[int, int]) -> list[int]:
    x0, y0, x1, y1 = box
    w, h = size
    return [
        max(0, min(w, round(x0))),
        max(0, min(h, round(y0))),
        max(0, min(w, round(x1))),
        max(0, min(h, round(y1))),
    ]


def tesseract_packs() -> list[str]:
    """List the installed tesseract traineddata that read non-Latin scripts.

    Returns:
        Script packs (e.g. 'Cyrillic') when any is installed, else language packs (e.g. 'rus');
        empty when tesseract is not installed.
    """
    import subprocess

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
        pad = max(2, (box[3] - box[1]) // 8)
        crop_box = _clip([box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad], image.size)
        tile = _normalised(image.crop(crop_box))
        tiles.append(tile)
        placements.append((y, y + tile.height, crop_box, (crop_box[3] - crop_box[1]) / tile.height))
        y += tile.height + _GAP
    strip = Image.new("L", (max(t.width for t in tiles) + 2 * _GAP, y), 255)
    for tile, (top, *_rest) in zip(tiles, placements, strict=True):
        strip.paste(tile, (_GAP, top))
    return strip, placements


def _tesseract_lines(image: Image.Image, langs: str, psm: int) -> list[dict[str, Any]]:
    """Read `image` with tesseract `-l langs`; return lines with mean word confidence and boxes."""
    import pytesseract

    data = pytesseract.image_to_data(
        image, lang=langs, config=f"--psm {psm}", output_type=pytesseract.Output.DICT, timeout=120
    )
    lines: dict[tuple[int, int, int], dict[str, Any]] = {}
    for i, word in enumerate(data["text"]):
        conf = float(data["conf"][i])
        word = word.strip().strip("|")  # a sign's border often reads as '|'
        if not word or conf < 0:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        x0, y0 = data["left"][i], data["top"][i]
        box = [x0, y0, x0 + data["width"][i], y0 + data["height"][i]]
        line = lines.setdefault(key, {"words": [], "confs": [], "box": box})
        line["words"].append(word)
        line["confs"].append(conf / 100)
        line["box"] = [
            min(line["box"][0], box[0]),
            min(line["box"][1], box[1]),
            max(line["box"][2], box[2]),
            max(line["box"][3], box[3]),
        ]
    joiner = {True: "", False: " "}
    return [
        {
            "text": joiner[_is_cjk(line["words"])].join(line["words"]),
            "confidence": sum(line["confs"]) / len(line["confs"]),
            "box": line["box"],
            "engine": "tesseract",
        }
        for line in lines.values()
    ]


def _is_cjk(words: list[str]) -> bool:
    """Whether the words are CJK, which is written without spaces."""
    letters = [ch for w in words for ch in w if ch.isalpha()]
    return bool(letters) and all(_script(ch) in ("CJK", "HIRAGANA", "KATAKANA") for ch in letters)


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


def _run_tesseract_regions(
    image: Image.Image, boxes: list[list[int]], groups: list[str]
) -> list[dict[str, Any]]:
    """Read each region with every pack group; keep, per region, the best group's line.

    The best is the most confident, after a small bonus for the group that reads the most
    confident text over all regions (a photo's signs mostly share one script).
    """
    strip, placements = _strip(image, boxes)
    readings: dict[str, dict[int, dict[str, Any]]] = {}
    for langs in groups:
        by_region = readings.setdefault(langs, {})
        for line in _tesseract_lines(strip, langs, psm=4):
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
    if not readings:
        return []
    home = max(readings, key=lambda g: sum(x["confidence"] * len(x["text"]) for x in readings[g].values()))
    best: dict[int, dict[str, Any]] = {}
    for langs, by_region in readings.items():
        for region, line in by_region.items():
            score = line["confidence"] + (_HOME_BONUS if langs == home else 0.0)
            if region not in best or score > best[region][0]:
                best[region] = (score, line)
    return [line for _score, line in best.values()]


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
    read by tesseract (then easyocr's English model misread that box). The kept line is the
    non-Latin tesseract reading if any, else the more confident one.

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
    engines: tuple[str, ...] = ("easyocr", "tesseract"),
    tesseract_langs: str | None = None,
    max_side: int = 1600,
    device: str = "auto",
    min_confidence: float = 0.3,
) -> Evidence:
    """Read the text visible in a photo (signs, shop fronts, plates, posters).

    Args:
        image: The photo, any PIL mode (already oriented upright).
        engines: OCR engines to use, among 'easyocr' and 'tesseract'.
        tesseract_langs: Tesseract `-l` value to use as the only group (e.g. 'Cyrillic+Greek');
            None uses every installed script pack, a few per call.
        max_side: easyocr reads the photo scaled down to at most this many pixels on its long side.
        device: 'auto' (CUDA when torch sees it), 'cpu' or 'cuda'.
        min_confidence: Lines read with a lower confidence (0-1) are dropped.

    Returns:
        Evidence with observations `lines` (text, confidence, box [x0, y0, x1, y1] in the photo's
        pixels, engine), `text` (lines joined by newlines), `engines` (name -> 'ok' |
        'unavailable: ...' | 'error: ...') and `device`; a `no_result` failure when no text is read.
    """
    unknown = set(engines) - {"easyocr", "tesseract"}
    inputs = {
        "engines": list(engines),
        "tesseract_langs": tesseract_langs,
        "max_side": max_side,
        "device": device,
        "min_confidence": min_confidence,
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
        used = "cpu"
        if "easyocr" in engines:
            used = _resolve_device(device)
            try:
                lines += _run_easyocr(rgb, max_side, used)
                status["easyocr"] = "ok"
            except ImportError as exc:
                status["easyocr"] = f"unavailable: {exc}"
        if "tesseract" in engines:
            status["tesseract"], found = _tesseract_pass(
                rgb, lines, status.get("easyocr") == "ok", tesseract_langs
            )
            lines += found
        lines = merge_lines([x for x in lines if x["text"] and x["confidence"] >= min_confidence])
    observations = {
        "lines": lines,
        "text": "\n".join(x["text"] for x in lines),
        "engines": status,
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
    image: Image.Image, easy_lines: list[dict[str, Any]], easyocr_ok: bool, langs: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """Run tesseract where it can add text; return its status string and lines."""
    import pytesseract

    try:
        pytesseract.get_tesseract_version()
    except (pytesseract.TesseractNotFoundError, OSError):
        return "unavailable: tesseract not installed", []
    groups = [langs] if langs else _groups(tesseract_packs())
    if not groups:
        return "unavailable: no tesseract script or language packs installed", []
    try:
        if not easyocr_ok:
            return "ok", [line for g in [*groups, "eng"] for line in _tesseract_lines(image, g, psm=11)]
        # Regions easyocr read confidently as digits and punctuation only are script-neutral: skip them.
        boxes = [x["box"] for x in easy_lines if any(c.isalpha() for c in x["text"]) or x["confidence"] < 0.5]
        boxes = [b for b in boxes if b[2] - b[0] > 4 and b[3] - b[1] > 4]
        return "ok", (_run_tesseract_regions(image, boxes, groups) if boxes else [])
    except (RuntimeError, pytesseract.TesseractError) as exc:
        return f"error: {exc}".splitlines()[0], []


from langchain_core.tools import tool  # noqa: E402  (the thin LLM-facing wrapper comes last)


@tool("ocr")
def ocr(path: str) -> dict[str, Any]:
    """Read the text visible in a photo: signs, shop fronts, street names, plates, phone numbers.

    Reads Latin text and, where tesseract's packs are installed, Cyrillic, Greek, Arabic, Hebrew,
    Indic, Thai, Georgian, Armenian, Ethiopic, Chinese, Japanese and Korean. Returns the lines read
    with confidences and boxes; it says nothing about countries itself (pass the text to
    text_clues). Slow on CPU (about 10 s per photo): call it once per photo.

    Args:
        path: Path of the photo file.
    """
    with Image.open(path) as img:
        return read_text(img).model_dump(mode="json")
