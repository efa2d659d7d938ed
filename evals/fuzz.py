"""Fuzz cases for every input parser: seed files, byte mutations, and one in-process check per parser.

Seeds are real files made from a project photo (`make_seeds`: JPEG with EXIF and GPS, PNG with a text
chunk, HEIC, TIFF, WebP) and copies of the project's label CSV, config TOML and dataset YAML. `mutate`
applies one to three random mutations (bit flips, truncation, byte insertion and deletion, a splice of
another format's header, huge dimensions written into the header) driven by a `random.Random`, so
hypothesis (`st.randoms()`) and the bench (`random.Random(n)`) share one code path.

Each `check_*` function writes a case under a folder, runs the parser in-process and returns the name
of the outcome: "ok", or the documented error type it raised (`PhotoError`, `DatasetError`,
`ValueError` for settings). Any other exception is a bug and propagates.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

from geosleuth.core.paths import source_root

PHOTO_FORMATS = ("jpeg", "png", "heic", "tiff", "webp")
"""The photo seed formats, as file suffixes."""
TEXT_FORMATS = ("csv", "toml", "yaml")
"""The text seed formats: label CSV, config TOML, dataset registry YAML."""
SEED_PHOTO = source_root() / "examples" / "fr_paris_cafe_de_flore.jpg"
SEED_CSV = source_root() / "examples" / "labels.csv"
SEED_YAML = source_root() / "evals" / "datasets" / "im2gps3k-dev.yaml"
SEED_TOML = """\
[geosleuth]
planner = "policy"
tools = ["exif", "ocr", "scene"]
use_metadata = false
max_pixels = 40000000
device = "cpu"
"""
_HUGE = (0xFFFF, 0x7FFF, 0xFFFFFFFF, 0x7FFFFFFF, 0x10000, 46341)


def make_seeds(folder: Path, source: Path = SEED_PHOTO, side: int = 96) -> dict[str, Path]:
    """Write one small seed file per format in `folder` from the photo `source`; return them by format.

    The photo seeds carry EXIF (camera, time, a GPS fix); PNG a text chunk; the text seeds are the
    project's example labels (one row without its country), a config file and a registry entry.
    """
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as im:
        small = im.convert("RGB")
    small.thumbnail((side, side))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Fuzz", "Fuzz Cam", "2024:05:01 12:00:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 15.0), 3: "E", 4: (2.0, 19.0, 57.0)})
    seeds: dict[str, Path] = {}
    options: dict[str, dict[str, object]] = {
        "jpeg": {"format": "JPEG", "quality": 80, "exif": exif},
        "png": {"format": "PNG", "pnginfo": _png_text()},
        "heic": {"format": "HEIF", "quality": 50, "exif": exif.tobytes()},
        "tiff": {"format": "TIFF", "exif": exif},
        "webp": {"format": "WEBP", "quality": 60, "exif": exif},
    }
    for fmt, kwargs in options.items():
        seeds[fmt] = folder / f"seed.{fmt}"
        small.save(seeds[fmt], **kwargs)  # type: ignore[arg-type]
    seeds["csv"] = folder / "seed.csv"
    _write_labels(seeds["csv"])
    seeds["toml"] = folder / "seed.toml"
    seeds["toml"].write_text(SEED_TOML, encoding="utf-8")
    seeds["yaml"] = folder / "seed.yaml"
    seeds["yaml"].write_bytes(SEED_YAML.read_bytes())
    return seeds


def _write_labels(path: Path) -> None:
    """Copy the example labels with the last row's country left out (found by point-in-polygon)."""
    import csv

    with SEED_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[-1]["country_code"] = ""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _png_text() -> object:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Description", "fuzz seed")
    info.add_itxt("Comment", "une photo", lang="fr")
    return info


def mutate(data: bytes, rnd: random.Random, splices: tuple[bytes, ...] = ()) -> bytes:
    """Return `data` after one to three random mutations; `splices`: other files' heads to splice in."""
    out = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        kind = rnd.choice(MUTATIONS)
        out = kind(out, rnd, splices)
    return bytes(out)


def _position(out: bytearray, rnd: random.Random) -> int:
    """Pick a position, biased to the header (first 512 bytes) where parsers decide most."""
    limit = len(out) if rnd.random() < 0.3 else min(len(out), 512)
    return rnd.randrange(limit + 1)


def _bit_flips(out: bytearray, rnd: random.Random, splices: tuple[bytes, ...]) -> bytearray:
    for _ in range(rnd.randint(1, 8)):
        if out:
            pos = min(_position(out, rnd), len(out) - 1)
            out[pos] ^= 1 << rnd.randrange(8)
    return out


def _truncate(out: bytearray, rnd: random.Random, splices: tuple[bytes, ...]) -> bytearray:
    return out[:rnd.randrange(len(out) + 1)]


def _insert(out: bytearray, rnd: random.Random, splices: tuple[bytes, ...]) -> bytearray:
    pos = _position(out, rnd)
    filler = rnd.choice((b"\x00", b"\xff", b"\n", b",", b'"', b"[", b"{", b":", b"\xff\xd8", b"\x80"))
    chunk = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16))) if rnd.random() < 0.5 else (
        filler * rnd.choice((1, 3, 100, 5000)))
    return out[:pos] + chunk + out[pos:]


def _delete(out: bytearray, rnd: random.Random, splices: tuple[bytes, ...]) -> bytearray:
    pos = _position(out, rnd)
    return out[:pos] + out[pos + rnd.randint(1, 64):]


def _duplicate(out: bytearray, rnd: random.Random, splices: tuple[bytes, ...]) -> bytearray:
    pos = _position(out, rnd)
    chunk = out[pos:pos + rnd.randint(1, 256)]
    return out[:pos] + chunk * rnd.randint(2, 50) + out[pos:]


def _splice(out: bytearray, rnd: random.Random, splices: tuple[bytes, ...]) -> bytearray:
    """Replace this file's head with another file's head (e.g. a PNG signature on JPEG data)."""
    if not splices:
        return out
    other = rnd.choice(splices)
    cut = rnd.randint(1, min(len(other), 256))
    return bytearray(other[:cut]) + out[rnd.randint(0, min(len(out), 256)):]


def _huge_dimensions(out: bytearray, rnd: random.Random, splices: tuple[bytes, ...]) -> bytearray:
    """Write a huge width or height where the format keeps it (JPEG SOF, PNG IHDR, TIFF, WebP, HEIF ispe)."""
    value = rnd.choice(_HUGE)
    targets = [i + 5 for i in _find_all(out, b"\xff\xc0") + _find_all(out, b"\xff\xc2")]  # SOF: P, H, W
    targets += [i + 4 for i in _find_all(out, b"IHDR")]  # width, height: 4 bytes each
    targets += [i + 8 for i in _find_all(out, b"ispe")]  # version/flags, then width, height
    targets += [i + 10 for i in _find_all(out, b"VP8 ")]  # frame tag, start code, then 14-bit sizes
    targets += [i + 4 for i in _find_all(out, b"VP8X")]  # 24-bit canvas size - 1 at +8
    if bytes(out[:2]) in (b"II", b"MM"):
        fmt = "<" if out[:2] == b"II" else ">"
        tags = [struct.pack(fmt + "H", t) for t in (256, 257)]
        targets += [i + 8 for tag in tags for i in _find_all(out, tag)]
    if not targets:
        return _bit_flips(out, rnd, splices)
    pos = rnd.choice(targets)
    size = rnd.choice((2, 4))
    packed = (value & (0xFFFF if size == 2 else 0xFFFFFFFF)).to_bytes(size, rnd.choice(("big", "little")))
    return out[:pos] + packed + out[pos + size:]


def _find_all(data: bytearray, needle: bytes) -> list[int]:
    hits: list[int] = []
    start = data.find(needle)
    while start >= 0 and len(hits) < 16:
        hits.append(start)
        start = data.find(needle, start + 1)
    return hits


MUTATIONS: tuple[Callable[[bytearray, random.Random, tuple[bytes, ...]], bytearray], ...] = (
    _bit_flips, _truncate, _insert, _delete, _duplicate, _splice, _huge_dimensions,
)


def check_photo(path: Path) -> str:
    """Load a photo file in-process; return "ok" or "PhotoError" (any other exception propagates)."""
    from geosleuth.core.photo import PhotoError, load_photo

    try:
        load_photo(path)
    except PhotoError:
        return "PhotoError"
    return "ok"


def check_csv(path: Path) -> str:
    """Read a label CSV as a generic dataset (entry, then samples); "ok" or "DatasetError"."""
    from geosleuth.evals.datasets import DatasetError, generic_csv_spec, load_samples

    try:
        load_samples(generic_csv_spec(path))
    except DatasetError as exc:
        return type(exc).__name__
    return "ok"


def check_toml(path: Path) -> str:
    """Read a config file and resolve settings from it; "ok" or "ValueError" (the documented error)."""
    from geosleuth.core.config import read_config_file, resolve_settings

    try:
        resolve_settings(env={}, file=read_config_file(path))
    except ValueError as exc:
        return type(exc).__name__  # a subclass (e.g. UnicodeDecodeError) means an unhelpful message
    return "ok"


def check_yaml(path: Path) -> str:
    """Read `path`'s folder as a dataset registry; "ok" or "DatasetError"."""
    from geosleuth.evals.datasets import DatasetError, load_registry

    try:
        load_registry((path.parent,))
    except DatasetError as exc:
        return type(exc).__name__
    return "ok"


CHECKS: dict[str, Callable[[Path], str]] = {
    **dict.fromkeys(PHOTO_FORMATS, check_photo), "csv": check_csv, "toml": check_toml, "yaml": check_yaml,
}
"""The in-process check of each seed format."""


def run_case(fmt: str, seed: bytes, rnd: random.Random, folder: Path, splices: tuple[bytes, ...] = ()) -> str:
    """Write one mutated case of `seed` to `folder/case.<fmt>` (alone in its folder) and check it."""
    path = folder / f"case.{fmt}"
    path.write_bytes(mutate(seed, rnd, splices))
    return CHECKS[fmt](path)
