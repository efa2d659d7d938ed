"""Render signs with known text onto real photos, for tests, examples and OCR evals.

Base photos come from an installed package, scikit-image's `skimage/data/` (each file's licence is
in the docstring of its loader in `skimage.data`, e.g. `skimage.data.rocket`; see `BASE_PHOTOS`).
Fonts are the system's Noto fonts (Debian `fonts-noto-core`) plus one CJK font (`fonts-noto-cjk`,
`fonts-wqy-microhei` or `fonts-droid-fallback`); `scripts/install-system-deps.sh` installs them.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts")

_NOTO = "fonts-noto-core"
_CJK = (
    ("NotoSansCJK-Bold.ttc", "fonts-noto-cjk"),
    ("wqy-microhei.ttc", "fonts-wqy-microhei"),
    ("DroidSansFallbackFull.ttf", "fonts-droid-fallback"),
)
FONTS: dict[str, tuple[tuple[str, str], ...]] = {
    "Latin": (("NotoSans-Bold.ttf", _NOTO), ("DejaVuSans-Bold.ttf", "fonts-dejavu-core")),
    "Cyrillic": (("NotoSans-Bold.ttf", _NOTO), ("DejaVuSans-Bold.ttf", "fonts-dejavu-core")),
    "Greek": (("NotoSans-Bold.ttf", _NOTO), ("DejaVuSans-Bold.ttf", "fonts-dejavu-core")),
    "Arabic": (("NotoSansArabic-Bold.ttf", _NOTO), ("NotoNaskhArabic-Bold.ttf", _NOTO)),
    "Hebrew": (("NotoSansHebrew-Bold.ttf", _NOTO),),
    "Devanagari": (("NotoSansDevanagari-Bold.ttf", _NOTO),),
    "Bengali": (("NotoSansBengali-Bold.ttf", _NOTO),),
    "Tamil": (("NotoSansTamil-Bold.ttf", _NOTO),),
    "Thai": (("NotoSansThai-Bold.ttf", _NOTO),),
    "Georgian": (("NotoSansGeorgian-Bold.ttf", _NOTO),),
    "Armenian": (("NotoSansArmenian-Bold.ttf", _NOTO),),
    "Ethiopic": (("NotoSansEthiopic-Bold.ttf", _NOTO),),
    "Hangul": _CJK,
    "Han": _CJK,
    "Japanese": _CJK,
}
"""Script -> font files to try in order, each with the Debian package that ships it."""

_SCRIPT_OF_NAME = {
    "CJK": "Han",
    "HIRAGANA": "Japanese",
    "KATAKANA": "Japanese",
    "HANGUL": "Hangul",
    "IDEOGRAPHIC": "Han",
}

BASE_PHOTOS: dict[str, tuple[str, str]] = {
    "rocket.jpg": (
        "Falcon 9 launching DSCOVR from Launch Complex 40, Cape Canaveral, Florida (SpaceX)",
        "public domain (released by SpaceX; skimage.data.rocket)",
    ),
    "coffee.png": ("Coffee cup, Pikolo Espresso Bar", "CC0 (Rachel Michetti; skimage.data.coffee)"),
    "chelsea.png": ("Chelsea the cat", "CC0 (Stefan van der Walt; skimage.data.chelsea)"),
    "brick.png": ("Brick wall (grayscale)", "CC0 (CC0Textures Bricks25; skimage.data.brick)"),
    "grass.png": ("Grass (grayscale)", "CC0 (linolafett on DeviantArt; skimage.data.grass)"),
    "gravel.png": ("Gravel (grayscale)", "CC0 (CC0Textures Gravel04; skimage.data.gravel)"),
}
"""scikit-image sample photos usable as bases: file -> (what it shows, licence)."""


class FontMissingError(LookupError):
    """No installed font can draw a script; the message names the Debian package to install."""


def script_of(text: str) -> str:
    """Return the writing system of the first letter in `text` ('Latin' when it has none).

    Args:
        text: Any text.

    Returns:
        A key of `FONTS`, e.g. 'Cyrillic', 'Han', 'Japanese' (kana), 'Hangul'.
    """
    for ch in text:
        if not ch.isalpha():
            continue
        head = unicodedata.name(ch, "LATIN").split()[0]
        script = _SCRIPT_OF_NAME.get(head, head.title())
        if script in FONTS:
            return script
    return "Latin"


@cache
def find_font(script: str) -> Path:
    """Find an installed font file that draws `script`.

    Args:
        script: A key of `FONTS`, e.g. 'Latin', 'Cyrillic', 'Hangul'.

    Returns:
        Path of the first font file found, in the order of `FONTS[script]`.

    Raises:
        FontMissingError: When none is installed (the message names the Debian package).
        KeyError: When the script is unknown.
    """
    choices = FONTS[script]
    for name, _package in choices:
        for root in FONT_DIRS:
            if root.is_dir():
                found = next(root.rglob(name), None)
                if found is not None:
                    return found
    packages = " or ".join(dict.fromkeys(pkg for _, pkg in choices))
    raise FontMissingError(
        f"no font for {script} script ({', '.join(n for n, _ in choices)}): install the Debian package "
        f"{packages} (scripts/install-system-deps.sh does)"
    )


def base_photo(name: str, *, size: tuple[int, int] | None = None) -> Image.Image:
    """Load a scikit-image sample photo as RGB, optionally resized (cover-cropped) to `size`.

    Args:
        name: A file of `BASE_PHOTOS`, e.g. 'rocket.jpg'.
        size: Target (width, height); the photo is scaled to cover it and centre-cropped.

    Returns:
        The RGB image.
    """
    import skimage.data

    if name not in BASE_PHOTOS:
        raise KeyError(f"{name!r} is not a known base photo: {sorted(BASE_PHOTOS)}")
    with Image.open(Path(skimage.data.__file__).parent / name) as img:
        photo = img.convert("RGB")
    if size is None:
        return photo
    scale = max(size[0] / photo.width, size[1] / photo.height)
    scaled = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
    left, top = (scaled.width - size[0]) // 2, (scaled.height - size[1]) // 2
    return scaled.crop((left, top, left + size[0], top + size[1]))


def _font(line: str, script_font: str | None, px: int) -> ImageFont.FreeTypeFont:
    if script_font is None:
        path = find_font(script_of(line))
    elif script_font in FONTS:
        path = find_font(script_font)
    else:
        path = Path(script_font)
    return ImageFont.truetype(str(path), px)


def _panel(lines: list[str], script_font: str | None, width: int, colours: tuple[str, str]) -> Image.Image:
    """Draw the sign itself: a rounded panel with a border, first line larger than the rest."""
    pad = max(8, width // 20)
    sizes = [1.4 if i == 0 else 1.0 for i in range(len(lines))]
    probe = 100
    widths = []
    for line, rel in zip(lines, sizes, strict=True):
        box = _font(line, script_font, round(probe * rel)).getbbox(line)
        widths.append((box[2] - box[0]) / probe)
    base_px = max(8, int((width - 2 * pad) / max(widths)))
    base_px = min(base_px, int(width / 6))
    fonts = [_font(line, script_font, round(base_px * rel)) for line, rel in zip(lines, sizes, strict=True)]
    gap = base_px // 3
    heights = [round(base_px * rel * 1.25) for rel in sizes]
    height = 2 * pad + sum(heights) + gap * (len(lines) - 1)
    panel = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(panel)
    background, ink = colours
    border = max(2, width // 120)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=pad // 2, fill=background)
    draw.rounded_rectangle(
        (border * 2, border * 2, width - 1 - border * 2, height - 1 - border * 2),
        radius=pad // 3,
        outline=ink,
        width=border,
    )
    y = pad
    for line, font, line_h in zip(lines, fonts, heights, strict=True):
        draw.text((width // 2, y + line_h // 2), line, font=font, fill=ink, anchor="mm")
        y += line_h + gap
    return panel


def _perspective(panel: Image.Image, amount: float) -> Image.Image:
    """Narrow the panel's right edge by `amount` of its height, as if seen at an angle."""
    w, h = panel.size
    shrink = amount * h / 2
    # Map output (x, y) -> input: the right edge spans [shrink, h - shrink] in the output.
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(0, 0), (w, shrink), (w, h - shrink), (0, h)]
    rows = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    import numpy as np

    coeffs = np.linalg.solve(np.array(rows, dtype=float), np.array([c for p in src for c in p], dtype=float))
    return panel.transform((w, h), Image.Transform.PERSPECTIVE, tuple(coeffs), Image.Resampling.BICUBIC)


def render_sign(
    base: Image.Image,
    lines: list[str],
    *,
    script_font: str | None = None,
    position: tuple[float, float] = (0.05, 0.05),
    size: float = 0.4,
    colours: tuple[str, str] = ("#f4f1e8", "#1b2a4a"),
    perspective: float = 0.0,
    shadow: bool = True,
) -> Image.Image:
    """Draw a sign panel with text lines onto a copy of a photo.

    Args:
        base: The photo (any mode; the result is RGB of the same size).
        lines: Text lines, top to bottom; the first is drawn larger, as a heading.
        script_font: None picks a font per line from its script; a `FONTS` key ('Cyrillic') or a
            font file path forces one font for all lines.
        position: Top-left corner of the panel as fractions (x, y) of the photo's width and height.
        size: Panel width as a fraction of the photo's width.
        colours: (panel background, text and border) colours.
        perspective: 0 for a frontal sign; e.g. 0.15 narrows the right edge as seen at an angle.
        shadow: Whether to cast a soft drop shadow.

    Returns:
        A new RGB image with the sign composited on it.

    Raises:
        FontMissingError: When a needed font is not installed.
    """
    if not lines:
        raise ValueError("a sign needs at least one line")
    photo = base.convert("RGB")
    panel = _panel(lines, script_font, max(40, round(size * photo.width)), colours)
    if perspective:
        panel = _perspective(panel, perspective)
    x, y = round(position[0] * photo.width), round(position[1] * photo.height)
    if shadow:
        offset = max(3, panel.width // 60)
        alpha = panel.getchannel("A").point(lambda a: a * 0.55)
        dark = Image.new("RGBA", panel.size, (0, 0, 0, 0))
        dark.putalpha(alpha)
        dark = dark.filter(ImageFilter.GaussianBlur(offset))
        photo.paste(dark, (x + offset, y + offset), dark)
    # A touch of blur so the drawn sign is no sharper than the photo around it.
    panel = panel.filter(ImageFilter.GaussianBlur(0.6))
    photo.paste(panel, (x, y), panel)
    return photo
