"""Hand-made broken files for the fuzz regressions (tests/unit and tests/integration test_fuzz.py)."""

from __future__ import annotations

import struct


def patch_tiff_tag(
    data: bytes, tag: int, *, kind: int | None = None, count: int | None = None, value: int | None = None
) -> bytes:
    """Rewrite the type, the count or the (SHORT) value of one IFD0 entry of a little-endian TIFF."""
    assert data[:2] == b"II"
    out = bytearray(data)
    ifd = struct.unpack_from("<I", out, 4)[0]
    for n in range(struct.unpack_from("<H", out, ifd)[0]):
        entry = ifd + 2 + 12 * n
        if struct.unpack_from("<H", out, entry)[0] == tag:
            if kind is not None:
                struct.pack_into("<H", out, entry + 2, kind)
            if count is not None:
                struct.pack_into("<I", out, entry + 4, count)
            if value is not None:
                struct.pack_into("<H", out, entry + 8, value)
            return bytes(out)
    raise AssertionError(f"no tag {tag}")
