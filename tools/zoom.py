"""Tool "zoom": look closer at part of a photo by reading the text in a crop of it.

The crop is given as a box of fractions of the photo's width and height (left, top, right, bottom),
so a caller that never saw the pixels can still ask for "the left half" ([0, 0, 0.5, 1]). The crop
is scaled up so its long side is `ocr_max_side` pixels, then read by the OCR tool: small, distant
signs become legible. The returned Evidence carries the crop box in pixels and the lines read, with
their boxes in the full photo's pixels. Like OCR, it makes no country claims itself.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from geosleuth.core.state import Evidence, timed
from geosleuth.tools.ocr import read_text
from geosleuth.tools.spec import ToolCall, ToolSpec

TOOL = "zoom"
MIN_CROP_PX = 16
"""A crop narrower or lower than this many pixels holds nothing readable: refused as bad input."""


def crop_box(size: tuple[int, int], box: list[float] | tuple[float, ...]) -> tuple[int, int, int, int]:
    """Turn a box of fractions (left, top, right, bottom in 0-1) into a pixel box inside the photo.

    Raises:
        ValueError: the box does not have four finite numbers in 0-1 with left < right, top < bottom,
            or the crop would be smaller than MIN_CROP_PX on a side.
    """
    if len(box) != 4:
        raise ValueError(f"a zoom box needs 4 numbers (left, top, right, bottom), got {len(box)}")
    left, top, right, bottom = (float(v) for v in box)
    if not all(0.0 <= v <= 1.0 for v in (left, top, right, bottom)) or left >= right or top >= bottom:
        raise ValueError(f"zoom box {list(box)} is not left<right, top<bottom, all within 0-1")
    width, height = size
    pixels = (round(left * width), round(top * height), round(right * width), round(bottom * height))
    if pixels[2] - pixels[0] < MIN_CROP_PX or pixels[3] - pixels[1] < MIN_CROP_PX:
        raise ValueError(
            f"zoom box {list(box)} is under {MIN_CROP_PX} pixels on a side of a {width}x{height} photo"
        )
    return pixels


def zoom(
    image: Image.Image,
    box: list[float] | tuple[float, ...],
    *,
    engines: tuple[str, ...] = ("rapidocr", "tesseract"),
    max_side: int = 1600,
    device: str = "auto",
) -> Evidence:
    """Read the text in one crop of a photo, scaled up.

    Args:
        image: The photo (already oriented upright).
        box: The crop as fractions of width and height: (left, top, right, bottom), each 0-1.
        engines: OCR engines, as for `geosleuth.tools.ocr.read_text`.
        max_side: The crop is scaled so its long side has this many pixels before reading.
        device: Where easyocr runs ('auto', 'cpu', 'cuda').

    Returns:
        Evidence with observations `box` (the crop in pixels), `lines` (text, confidence, box in the
        full photo's pixels, engine) and `text`; a `bad_input` failure for an unusable box and the
        OCR tool's failures (`no_result`, `unavailable`) otherwise.
    """
    try:
        pixels = crop_box(image.size, box)
    except (ValueError, TypeError) as exc:
        return Evidence.failure(TOOL, "bad_input", str(exc), inputs={"box": list(box)})
    inputs: dict[str, Any] = {"box": [float(v) for v in box]}
    with timed() as clock:
        crop = image.crop(pixels)
        scale = max_side / max(crop.size)
        if scale > 1:
            crop = crop.resize(
                (round(crop.width * scale), round(crop.height * scale)), Image.Resampling.LANCZOS
            )
        else:
            scale = 1.0
        read = read_text(crop, engines=engines, max_side=max_side, device=device)
    lines = [
        {**line, "box": [round(pixels[i % 2] + v / scale) for i, v in enumerate(line["box"])]}
        for line in read.observations.get("lines", [])
    ]
    observations = {**read.observations, "box": list(pixels), "lines": lines}
    return read.model_copy(
        update={
            "tool": TOOL,
            "inputs": inputs,
            "observations": observations,
            "seconds": clock[0],
            "summary": f"crop {list(pixels)}: {read.summary}",
        }
    )


def run(call: ToolCall) -> Evidence:
    """Re-read the crop the planner chose (`args["box"]`, the whole photo by default)."""
    s = call.settings
    box = call.args.get("box") or [0.0, 0.0, 1.0, 1.0]
    return zoom(call.image(), box, engines=s.ocr_engines, max_side=s.ocr_max_side, device=s.device)


SPEC = ToolSpec(
    name=TOOL,
    function=zoom,
    run=run,
    description="""Look closer at part of a photo: read the text in a crop, scaled up (small, distant signs).

Use it after ocr when a sign is too small to read or to read one region again. The box is given as
fractions of the photo's width and height, e.g. [0, 0, 0.5, 1] is the left half.""",
    needs=("photo",),
    key=("settings.ocr_engines", "settings.ocr_max_side", "settings.device"),
    sources=(read_text,),
    after=("ocr",),
    reads_text=True,
    repeatable=True,
    planner_args={
        "box": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 4,
            "maxItems": 4,
            "description": "Crop [left, top, right, bottom] as 0-1 fractions of the photo.",
        }
    },
    cue="reads",
    ablation=(),
    what='re-reads the text in a crop of the photo (for the LLM: "read the sign on the left again")',
    offline_source="the OCR engines",
    named_by=(r"zoom(?:ed|ing)?",),
)
