"""The one photo loader: validated, fully decoded, upright RGB pixels, with the metadata kept apart.

`load_photo` refuses what it cannot read safely with a `PhotoError` (a one-line message): missing or
empty files, unknown formats, decompression bombs (checked on the header, before any decoding),
truncated or corrupt data. It returns a `Photo` whose `image` is a plain RGB image carrying no
`info` and no EXIF, so pixels can be handed to any tool without leaking the file's metadata, and
whose `metadata` holds what the file says about itself: EXIF (with a validated GPS fix), XMP, JPEG
comment segments and PNG text chunks. `Photo.without_metadata()` is what tools see when metadata is
withheld; `strip_metadata` writes a pixels-only copy of a file for outside programs.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from PIL.TiffImagePlugin import IFDRational

FORMATS = ("JPEG", "MPO", "PNG", "TIFF", "WEBP", "GIF", "BMP", "HEIF", "AVIF")
"""Formats `load_photo` opens (others, e.g. EPS which runs Ghostscript, are refused)."""

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"heif"}
_SKIP_TAGS = {0x8769, 0x8825, 0xA005, 0x014A, 0x927C, 0x02BC, 0x83BB, 0x8649, 0x8773}
"""IFD pointers, MakerNote, XMP, IPTC, Photoshop and ICC blobs: not kept in `PhotoMetadata.exif`."""
_XP_TAGS = {0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F}  # Windows XPTitle..XPSubject, UTF-16LE
_USER_COMMENT = 0x9286
_MAX_TEXT = 4000
_MAX_ITEMS = 64


class PhotoError(ValueError):
    """A photo that cannot be read; the message is one line a person can act on."""


@dataclass(frozen=True)
class PhotoMetadata:
    """What a file says about itself, apart from its pixels (all values JSON-safe)."""

    exif: dict[str, Any] = field(default_factory=dict)
    gps: tuple[float, float] | None = None
    gps_altitude: float | None = None
    taken_at: str | None = None
    camera: str | None = None
    xmp: str | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Whether the file carried no metadata at all."""
        return not (self.exif or self.gps or self.gps_altitude is not None or self.taken_at
                    or self.camera or self.xmp or self.comments)


@dataclass(frozen=True)
class Photo:
    """A loaded photo: upright RGB pixels (no info, no EXIF) and, separately, its metadata."""

    path: Path
    sha256: str
    format: str
    width: int
    height: int
    image: Image.Image
    metadata: PhotoMetadata

    def without_metadata(self) -> Photo:
        """Return a copy with empty metadata: what every tool sees when metadata is withheld.

        The file name counts as metadata too (benchmark names can leak places), so the copy's
        path is a neutral name made from the content hash.
        """
        neutral = Path(f"photo-{self.sha256[:16]}{self.path.suffix}")
        return replace(self, metadata=PhotoMetadata(), path=neutral)


def load_photo(path: str | Path, *, max_pixels: int = 80_000_000, max_side: int | None = None) -> Photo:
    """Load, validate and fully decode a photo; read its metadata separately.

    Args:
        path: The image file (JPEG, PNG, TIFF, WebP, GIF, BMP, HEIC/HEIF, AVIF).
        max_pixels: Refuse images whose header declares more pixels than this, before decoding.
            Pillow's own decompression-bomb limit (about 89 Mpx) applies as well.
        max_side: When given, downscale so the long side is at most this many pixels.

    Returns:
        The Photo: EXIF orientation applied, any pixel mode converted to 8-bit RGB.

    Raises:
        PhotoError: The file is missing, empty, not a supported image, too large, or corrupt.
    """
    if max_pixels < 1 or (max_side is not None and max_side < 1):
        raise ValueError("max_pixels and max_side must be >= 1")
    path = Path(path)
    data = _read_file(path)
    with warnings.catch_warnings():  # Pillow's notes on corrupt EXIF or TIFF tags: handled below, not printed
        warnings.simplefilter("ignore", UserWarning)
        return _decode(path, data, max_pixels, max_side)


def _decode(path: Path, data: bytes, max_pixels: int, max_side: int | None) -> Photo:
    """Do the work of `load_photo` once the file is read: open, check the size, decode, read metadata."""
    im = _open(path, data)
    width, height = im.size
    if width * height > max_pixels:
        raise PhotoError(f"{path}: {width}x{height} pixels is over the limit of {max_pixels:,} "
                         "(possible decompression bomb); not decoded")
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)  # JPEG only: decode at 1/2, 1/4 or 1/8 scale if enough
        im.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, KeyError, struct.error) as exc:
        raise PhotoError(f"{path}: truncated or corrupt image data ({exc})") from None
    metadata = _read_metadata(im, data)  # before exif_transpose, which drops the Orientation tag
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except (OSError, SyntaxError, ValueError, KeyError, struct.error):
        pass  # unreadable EXIF: the orientation is unknown, so the pixels stay as stored
    try:
        rgb = _to_rgb(im)
    except ValueError:
        raise PhotoError(f"{path}: unsupported pixel mode {im.mode}") from None
    if max_side is not None and max(rgb.size) > max_side:
        scale = max_side / max(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    elif rgb is im:
        rgb = im.copy()  # a fresh image: the file's own object caches its EXIF
    rgb.info = {}
    return Photo(
        path=path, sha256=hashlib.sha256(data).hexdigest(), format=str(im.format),
        width=rgb.width, height=rgb.height, image=rgb, metadata=metadata,
    )


def strip_metadata(src: str | Path, dst: str | Path) -> Path:
    """Write a pixels-only copy of a photo (upright RGB, no EXIF/XMP/comments/ICC) and return its path.

    The format follows `dst`'s suffix (JPEG is written at quality 95).

    Raises:
        PhotoError: `src` cannot be loaded, or `dst`'s suffix names no format Pillow can write.
    """
    photo = load_photo(src)
    dst = Path(dst)
    fmt = Image.registered_extensions().get(dst.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise PhotoError(f"{dst}: cannot write an image with suffix {dst.suffix!r}")
    photo.image.save(dst, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return dst


def jpeg_comments(data: bytes) -> list[str]:
    """Return the text of every COM segment of a JPEG file's bytes, in file order.

    Walks the marker segments (and past entropy-coded scans, so comments between scans count)
    up to the first EOI. Pillow keeps only one comment, so this reads the bytes itself.
    """
    comments: list[str] = []
    if not data.startswith(b"\xff\xd8"):
        return comments
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:  # inside entropy-coded data: skip to the next possible marker
            pos = data.find(b"\xff", pos)
            if pos < 0:
                break
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker in (0x00, 0x01) or 0xD0 <= marker <= 0xD7:  # stuffed byte, TEM, RSTn
            pos += 2
        elif marker == 0xD9:  # EOI
            break
        else:
            length = int.from_bytes(data[pos + 2:pos + 4], "big")
            if length < 2:
                break
            if marker == 0xFE and (text := _decode_text(data[pos + 4:pos + 2 + length])):
                comments.append(text)
            pos += 2 + length
    return comments


def insert_jpeg_comment(data: bytes, text: str) -> bytes:
    """Return JPEG bytes with one more COM segment (UTF-8 `text`) after the leading APPn segments.

    For tests and evals that plant metadata in a copy of a photo, e.g. a wrong location.
    """
    payload = text.encode("utf-8")
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not JPEG data (no SOI marker)")
    if len(payload) > 65533:
        raise ValueError("a COM segment holds at most 65,533 bytes")
    pos = 2
    while data[pos:pos + 1] == b"\xff" and 0xE0 <= data[pos + 1] <= 0xEF:  # APP0..APP15 (JFIF, EXIF)
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return data[:pos] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + data[pos:]


def _read_file(path: Path) -> bytes:
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError as exc:  # e.g. a name over the file system's limit
        raise PhotoError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not exists:
        raise PhotoError(f"{path}: no such file")
    if not is_file:
        raise PhotoError(f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PhotoError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise PhotoError(f"{path}: the file is empty")
    return data


def _open(path: Path, data: bytes) -> Image.Image:
    """Open (header only) with the allowed formats, registering pillow-heif for HEIF files."""
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        _register_heif(path)
    Image.init()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=[f for f in FORMATS if f in Image.OPEN])
    except UnidentifiedImageError:
        raise PhotoError(f"{path}: not a recognised image format ({', '.join(FORMATS)})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(f"{path}: refused as a possible decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise PhotoError(f"{path}: corrupt image header ({exc})") from None


def _register_heif(path: Path) -> None:
    if "HEIF" in Image.OPEN:
        return
    try:
        import pillow_heif
    except ImportError:
        raise PhotoError(f"{path}: HEIC/HEIF photos need the pillow-heif package, which is not "
                         "installed (pip install pillow-heif)") from None
    pillow_heif.register_heif_opener()


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any pixel mode to 8-bit RGB (alpha composited on white, 16-bit and float scaled)."""
    mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return im
    if mode.startswith("I;16"):
        scaled = np.round(np.asarray(im).astype(np.float32) / 257.0)
        return Image.fromarray(scaled.astype(np.uint8), "L").convert("RGB")
    if mode in ("I", "F"):
        with np.errstate(invalid="ignore"):  # float data may hold signalling NaNs
            values = np.asarray(im).astype(np.float64)
        return Image.fromarray(_stretch(values), "L").convert("RGB")
    if mode == "CMYK" and im.info.get("icc_profile"):
        from PIL import ImageCms

        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(im, profile, srgb, outputMode="RGB")
            if converted is not None:  # None only for an in-place conversion, which this is not
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to Pillow's plain conversion below
    return im.convert("RGB")  # ValueError for a mode Pillow cannot convert


def _stretch(values: np.ndarray) -> np.ndarray:
    """Map the finite range of a single-band array of unknown depth onto 0..255 (non-finite -> 0)."""
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.uint8)
    low, high = values[finite].min(), values[finite].max()
    span = high - low if high > low else 1.0
    scaled = np.where(finite, (values - low) / span * 255.0, 0.0)
    return np.round(np.clip(scaled, 0, 255)).astype(np.uint8)


def _read_metadata(im: Image.Image, data: bytes) -> PhotoMetadata:
    """Read EXIF (+GPS), XMP and comments from an opened, loaded image and its file bytes."""
    try:
        raw = im.getexif()
        ifd0 = dict(raw)
        exif_ifd = dict(raw.get_ifd(ExifTags.IFD.Exif))
        gps_ifd = dict(raw.get_ifd(ExifTags.IFD.GPSInfo))
    except (OSError, SyntaxError, ValueError, KeyError, struct.error):  # unreadable EXIF: keep pixels
        ifd0, exif_ifd, gps_ifd = {}, {}, {}
    exif = _named(ifd0, ExifTags.TAGS) | _named(exif_ifd, ExifTags.TAGS) | _named(gps_ifd, ExifTags.GPSTAGS)
    gps = _gps_fix(gps_ifd)
    if im.format in ("JPEG", "MPO"):
        comments = jpeg_comments(data)
    else:
        comments = [f"{key}: {value}" for key, value in getattr(im, "text", {}).items()
                    if key != "XML:com.adobe.xmp" and not key.startswith("Raw profile type")]
        if isinstance(comment := im.info.get("comment"), bytes | str) and (text := _decode_text(comment)):
            comments.append(text)
    return PhotoMetadata(
        exif=exif,
        gps=gps,
        gps_altitude=_altitude(gps_ifd) if gps else None,
        taken_at=_taken_at(ifd0, exif_ifd),
        camera=_camera(ifd0),
        xmp=_xmp(im, data),
        comments=comments,
    )


def _named(tags: dict[int, Any], names: dict[int, str]) -> dict[str, Any]:
    out = {}
    for tag, value in tags.items():
        if tag in _SKIP_TAGS:
            continue
        if tag == _USER_COMMENT and isinstance(value, bytes):
            value = _user_comment(value)
        elif tag in _XP_TAGS and isinstance(value, bytes):
            value = value.decode("utf-16-le", errors="replace")
        safe = _json_safe(value)
        if safe is not None and safe != "" and safe != []:
            out[names.get(tag, f"0x{tag:04X}")] = safe
    return out


def _json_safe(value: Any) -> Any:
    """Turn an EXIF value into plain JSON data; None for what is empty, non-finite or bulky."""
    if isinstance(value, IFDRational):
        return float(value) if value.denominator and math.isfinite(float(value)) else None
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.replace("\x00", "").strip()
        return text[:_MAX_TEXT] if text.isprintable() or "\n" in text else None
    if isinstance(value, bytes):
        text = value.rstrip(b"\x00").decode("ascii", errors="replace")
        if text.strip() and text.isprintable():
            return text.strip()[:_MAX_TEXT]
        if len(value) <= 16:
            return value[0] if len(value) == 1 else list(value)
        return None
    if isinstance(value, tuple | list):
        if len(value) > _MAX_ITEMS:
            return None
        return [_json_safe(v) for v in value]
    return None


def _user_comment(value: bytes) -> str:
    """Decode an EXIF UserComment: an 8-byte character-code prefix, then the text."""
    code, body = value[:8], value[8:]
    if code.startswith(b"UNICODE"):
        # The byte order follows the EXIF block; for text the zero bytes tell it apart.
        big = body[0::2].count(0) > body[1::2].count(0)
        return body.decode("utf-16-be" if big else "utf-16-le", errors="replace")
    if code.startswith(b"JIS"):
        return body.decode("shift_jis", errors="replace")
    return _decode_text(body if code.startswith(b"ASCII") or code == b"\x00" * 8 else value)


def _decode_text(raw: bytes | str) -> str:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    else:
        text = raw
    return text.replace("\x00", "").strip()


def _gps_fix(gps: dict[int, Any]) -> tuple[float, float] | None:
    """Decimal (lat, lon) from the GPS IFD, or None when absent, incomplete, 0/0-valued or (0, 0)."""
    lat = _degrees(gps.get(2), gps.get(1), "N", "S", 90.0)
    lon = _degrees(gps.get(4), gps.get(3), "E", "W", 180.0)
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    return lat, lon


def _degrees(dms: Any, ref: Any, positive: str, negative: str, limit: float) -> float | None:
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", errors="replace")
    ref = str(ref or "").replace("\x00", "").strip().upper()
    if ref not in (positive, negative) or not isinstance(dms, tuple) or not 1 <= len(dms) <= 3:
        return None
    parts = []
    for part in dms:
        if isinstance(part, IFDRational) and not part.denominator:
            return None
        number = float(part)
        if not math.isfinite(number) or number < 0:
            return None
        parts.append(number)
    degrees: float = sum(p / 60**i for i, p in enumerate(parts))
    if degrees > limit or any(p >= 60 for p in parts[1:]):
        return None
    return -degrees if ref == negative else degrees


def _altitude(gps: dict[int, Any]) -> float | None:
    altitude = gps.get(6)
    if altitude is None or (isinstance(altitude, IFDRational) and not altitude.denominator):
        return None
    metres = float(altitude)
    ref = gps.get(5)
    below = ref in (1, b"\x01") or (isinstance(ref, tuple) and ref[:1] == (1,))
    return (-metres if below else metres) if math.isfinite(metres) else None


def _taken_at(ifd0: dict[int, Any], exif_ifd: dict[int, Any]) -> str | None:
    """ISO 8601 capture time: DateTimeOriginal, else DateTimeDigitized, else DateTime (+ offset)."""
    for stamp, offset in ((exif_ifd.get(0x9003), exif_ifd.get(0x9011)),
                          (exif_ifd.get(0x9004), exif_ifd.get(0x9012)),
                          (ifd0.get(0x0132), exif_ifd.get(0x9010))):
        if not isinstance(stamp, str):
            continue
        try:
            moment = datetime.strptime(stamp.replace("\x00", "").strip()[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
        iso = moment.isoformat()
        if isinstance(offset, str) and len(offset := offset.strip("\x00 ")) == 6 and offset[0] in "+-":
            iso += offset
        return iso
    return None


def _camera(ifd0: dict[int, Any]) -> str | None:
    """'Make Model', without repeating the make when the model already starts with it."""
    make, model = (str(ifd0.get(tag) or "").replace("\x00", "").strip() for tag in (0x010F, 0x0110))
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(p for p in (make, model) if p) or None


def _xmp(im: Image.Image, data: bytes) -> str | None:
    """Return the XMP packet Pillow found, else one found in the file bytes (<x:xmpmeta> or <x:xapmeta>)."""
    packet = im.info.get("xmp")
    if not packet:
        for tag in (b"xmpmeta", b"xapmeta"):
            start = data.find(b"<x:" + tag)
            stop = data.find(b"</x:" + tag + b">", start)
            if start >= 0 and stop > start:
                packet = data[start:stop + len(tag) + 5]
                break
    return (_decode_text(packet) or None) if packet else None
