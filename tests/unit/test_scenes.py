"""Rendered scenes: scripts of text, fonts, base photos and signs drawn on them."""

import pytest
from PIL import ImageChops

from geosleuth.evals import scenes
from geosleuth.evals.scenes import FontMissingError, base_photo, find_font, render_sign, script_of


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("Café", "Latin"),
        ("Москва", "Cyrillic"),
        ("Αθήνα", "Greek"),
        ("東京都", "Han"),
        ("すし", "Japanese"),
        ("서울", "Hangul"),
        ("القاهرة", "Arabic"),
        ("ירושלים", "Hebrew"),
        ("दिल्ली", "Devanagari"),
        ("กรุงเทพ", "Thai"),
        ("თბილისი", "Georgian"),
        ("12-34", "Latin"),
    ],
)
def test_script_of(text, script):
    assert script_of(text) == script


def test_find_font_names_the_package_when_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(scenes, "FONT_DIRS", (tmp_path,))
    find_font.cache_clear()
    try:
        with pytest.raises(FontMissingError, match="fonts-noto-core"):
            find_font("Thai")
        with pytest.raises(FontMissingError, match="fonts-wqy-microhei"):
            find_font("Hangul")
    finally:
        find_font.cache_clear()


def test_base_photo_cover_crop():
    photo = base_photo("rocket.jpg", size=(900, 300))
    assert photo.size == (900, 300) and photo.mode == "RGB"
    with pytest.raises(KeyError):
        base_photo("not_a_photo.png")


def test_render_sign_changes_only_the_sign_area():
    try:
        find_font("Cyrillic")
    except FontMissingError as exc:
        pytest.skip(str(exc))
    base = base_photo("brick.png", size=(800, 600))
    out = render_sign(base, ["Москва", "ул. Тверская"], position=(0.1, 0.1), size=0.4, shadow=False)
    assert out.size == base.size and out.mode == "RGB"
    bbox = ImageChops.difference(out, base).getbbox()
    assert bbox is not None
    assert bbox[0] >= 0.1 * 800 - 2 and bbox[2] <= 0.5 * 800 + 2 and bbox[1] >= 0.1 * 600 - 2
    with pytest.raises(ValueError):
        render_sign(base, [])
