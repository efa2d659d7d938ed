"""`geosleuth bench --suite osm`: importing a city-size OpenStreetMap extract and querying its index.

A synthetic extract written with pyosmium: NODES nodes scattered over a 30 x 30 km city (a quarter of
them named cafés, shops, restaurants, stops, ... with a name:en variant; the rest untagged way
nodes) and WAYS named ways (streets and buildings) of 4-8 of those nodes. Printed: the extract's
size, import seconds (`geosleuth.tools.osm_local.build_index`), the index's size and feature
count, and the median and 95th-percentile milliseconds of QUERIES queries of each kind the osm tool
asks: two names read in a photo around a random point (osm_radius_km), a kind within 1 km of a
random point, and a name within a box.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geosleuth.app.cli_common import make_console
from geosleuth.core.config import Settings

NODES = 200_000
WAYS = 20_000
QUERIES = 1000
CENTRE = (48.2082, 16.3738)
SPAN_DEG = 0.27
"""Side of the city square, in degrees of latitude (about 30 km)."""
KINDS = (("amenity", "cafe"), ("amenity", "restaurant"), ("amenity", "pharmacy"), ("shop", "bakery"),
         ("shop", "supermarket"), ("tourism", "hotel"), ("railway", "station"), ("highway", "bus_stop"))
SEED = 17


def _point(rng: random.Random) -> tuple[float, float]:
    return CENTRE[0] + rng.uniform(-0.5, 0.5) * SPAN_DEG, CENTRE[1] + rng.uniform(-0.5, 0.5) * SPAN_DEG * 1.5


def write_city(path: Path, rng: random.Random) -> int:
    """Write the synthetic extract to `path`; return the number of named features in it."""
    import osmium

    named = 0
    with osmium.SimpleWriter(str(path)) as writer:
        for i in range(1, NODES + 1):
            lat, lon = _point(rng)
            tags: dict[str, str] = {}
            if i % 4 == 0:
                key, value = KINDS[(i // 4) % len(KINDS)]
                tags = {"name": f"{value.title()} {i}", "name:en": f"{value} number {i}", key: value}
                named += 1
            writer.add_node(osmium.osm.mutable.Node(id=i, location=(lon, lat), tags=tags))
        for w in range(1, WAYS + 1):
            start = rng.randrange(1, NODES - 8)
            street = w % 2 == 0
            tags = {"name": f"Street {w}" if street else f"Building {w}",
                    **({"highway": "residential"} if street else {"building": "yes"})}
            writer.add_way(osmium.osm.mutable.Way(id=w, nodes=list(range(start, start + rng.randint(4, 8))),
                                                  tags=tags))
    return named + WAYS


def _timings(query: Callable[[random.Random], Any], rng: random.Random) -> tuple[float, float]:
    """Return the median and 95th-percentile milliseconds of QUERIES calls of `query`."""
    times = []
    for _ in range(QUERIES):
        start = time.perf_counter()
        query(rng)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20)[-1]


def run(settings: Settings) -> None:
    """Build the synthetic extract and its index, and print import time, index size and query times."""
    from rich.table import Table

    from geosleuth.tools.osm import query_extract
    from geosleuth.tools.osm_local import build_index

    console = make_console()
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="geosleuth-bench-osm-") as tmp:
        extract, index = Path(tmp) / "city.osm.pbf", Path(tmp) / "city.sqlite"
        named = write_city(extract, rng)
        start = time.perf_counter()
        meta = build_index(extract, index)
        import_s = time.perf_counter() - start
        radius = settings.osm_radius_km

        def names_near(r: random.Random) -> Any:
            wanted = [f"Cafe {32 * r.randrange(1, NODES // 32)}", f"street {2 * r.randrange(1, WAYS // 2)}"]
            return query_extract(index, index.parent, names=wanted, around=(*_point(r), radius))

        def kind_near(r: random.Random) -> Any:
            return query_extract(index, index.parent, kinds=[r.choice(KINDS)[1]], around=(*_point(r), 1.0))

        def name_in_box(r: random.Random) -> Any:
            lat, lon = _point(r)
            return query_extract(index, index.parent, names=[f"Bakery {32 * r.randrange(NODES // 32) + 12}"],
                               bbox=(lat - 0.05, lon - 0.05, lat + 0.05, lon + 0.05))

        table = Table(title=f"osm: local index, {QUERIES} queries each", title_justify="left")
        for column in ("figure", "value"):
            table.add_column(column)
        table.add_row("extract", f"{NODES:,} nodes, {WAYS:,} ways, {named:,} named "
                      f"({extract.stat().st_size / 1e6:.1f} MB .osm.pbf)")
        table.add_row("import", f"{import_s:.1f} s, {int(meta['features']):,} features indexed")
        table.add_row("index size", f"{index.stat().st_size / 1e6:.1f} MB")
        for label, query in ((f"2 names within {radius:g} km", names_near), ("a kind within 1 km", kind_near),
                             ("a name in a 0.1° box", name_in_box)):
            median, p95 = _timings(query, rng)
            table.add_row(f"query: {label}", f"median {median:.2f} ms, p95 {p95:.2f} ms")
        console.print(table)
