"""Write geosleuth's example photos (signs rendered onto scikit-image photos) and their labels.

Run: `python examples/make_examples.py`. Deterministic: the same packages and fonts give the same
files. Each example's text names its place (street, city, phone number, domain), so an offline
pipeline (OCR -> script, language, phone and domain clues -> gazetteer) can locate it.
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent

from geosleuth.evals.scenes import BASE_PHOTOS, base_photo, render_sign  # noqa: E402

SIZE = (1224, 816)  # ~1 MP, 3:2

EXAMPLES = [
    {
        "file": "us_kennedy_space_center.jpg",
        "base": "rocket.jpg",
        "lines": ["KENNEDY SPACE CENTER", "Titusville, Florida", "+1 321 449 4444", "kennedyspacecenter.com"],
        "colours": ("#0b3d91", "#ffffff"),
        "position": (0.05, 0.56),
        "lat": 28.5619,
        "lon": -80.5772,
        "country_code": "US",
        "place": "Cape Canaveral, Florida",
        "description": "Falcon 9 on Launch Complex 40 (the base photo's real place; coordinates of the pad) "
        "with a rendered visitor sign",
    },
    {
        "file": "fr_paris_cafe_de_flore.jpg",
        "base": "coffee.png",
        "lines": ["Café de Flore", "172 Bd Saint-Germain", "75006 Paris", "Tél. 01 45 48 55 26"],
        "colours": ("#1a1a1a", "#f2e6c9"),
        "position": (0.52, 0.05),
        "lat": 48.8541,
        "lon": 2.3326,
        "country_code": "FR",
        "place": "Paris (Saint-Germain-des-Prés)",
        "description": "Rendered café sign over a coffee-cup photo; coordinates of the café's address "
        "(the base photo was not taken there)",
    },
    {
        "file": "jp_tokyo_shibuya.jpg",
        "base": "gravel.png",
        "lines": ["東京都 渋谷区", "03-3463-0000"],
        "colours": ("#ffffff", "#123a7a"),
        "position": (0.08, 0.1),
        "lat": 35.6640,
        "lon": 139.6982,
        "country_code": "JP",
        "place": "Shibuya, Tokyo",
        "description": "Rendered address plate over gravel; coordinates of Shibuya ward centre",
    },
    {
        "file": "gr_athens_pharmacy.jpg",
        "base": "grass.png",
        "lines": ["ΦΑΡΜΑΚΕΙΟ", "Αθήνα", "210 3221 000"],
        "colours": ("#1e7a3c", "#ffffff"),
        "position": (0.45, 0.2),
        "lat": 37.9838,
        "lon": 23.7275,
        "country_code": "GR",
        "place": "Athens",
        "description": "Rendered pharmacy sign over grass; coordinates of Athens city centre",
    },
    {
        "file": "ru_moscow_tverskaya.jpg",
        "base": "brick.png",
        "lines": ["Москва", "ул. Тверская", "д. 13"],
        "colours": ("#1f4e9c", "#ffffff"),
        "position": (0.3, 0.25),
        "lat": 55.7616,
        "lon": 37.6090,
        "country_code": "RU",
        "place": "Moscow (Tverskaya Street)",
        "description": "Rendered street plate on a brick wall; coordinates of Tverskaya St, Moscow centre",
    },
    {
        "file": "kr_seoul_namsan.jpg",
        "base": "chelsea.png",
        "lines": ["남산공원", "서울특별시 중구", "02-3783-5900"],
        "colours": ("#2a2a2a", "#ffd84a"),
        "position": (0.04, 0.05),
        "lat": 37.5512,
        "lon": 126.9882,
        "country_code": "KR",
        "place": "Seoul (Namsan Park)",
        "description": "Rendered park sign over a photo of a cat; coordinates of Namsan Park, Seoul "
        "(the base photo was not taken there)",
    },
]
"""The examples: base photo, sign lines and colours, and the answer."""


def main(out: Path = HERE) -> list[Path]:
    """Render every example into `out` and write `out/labels.csv`; return the photo paths."""
    written = []
    for ex in EXAMPLES:
        photo = render_sign(
            base_photo(ex["base"], size=SIZE),
            ex["lines"],
            position=ex["position"],
            size=0.42,
            colours=ex["colours"],
            perspective=0.08,
        )
        path = out / ex["file"]
        photo.save(path, quality=85, optimize=True)
        written.append(path)
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(
            ["file", "lat", "lon", "country_code", "place", "base_photo", "base_licence", "description"]
        )
        for ex in EXAMPLES:
            licence = BASE_PHOTOS[ex["base"]][1]
            writer.writerow(
                [
                    ex["file"],
                    ex["lat"],
                    ex["lon"],
                    ex["country_code"],
                    ex["place"],
                    f"skimage/data/{ex['base']}",
                    licence,
                    ex["description"],
                ]
            )
    return written


if __name__ == "__main__":
    for p in main():
        print(f"{p.name}: {p.stat().st_size // 1024} KB")  # noqa: T201
