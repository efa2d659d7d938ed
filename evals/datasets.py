"""Evaluation datasets: a registry of declarative YAML entries and one loader for labelled photo lists.

Each entry in `evals/datasets/<name>.yaml` names a label file (CSV), the columns that hold the id, the
image, the latitude, the longitude and (optionally) the country, and templates that turn a row into an
image path. Where a set lives:

- `location: shared` — `../shared/data/<path>` next to a checkout (the project's research photos);
- `location: data` — `<data root>/<path>`, where the data root is `--data-root`, else the `data_dir`
  setting (`$GEOSLEUTH_DATA_DIR`), else `<cache dir>/datasets` (published sets a user downloads).

A set whose files are missing raises `DatasetMissing` with what is missing and where to get it. A
path to a CSV file, or to a folder holding `labels.csv`, also works as a dataset (`generic_csv`):
columns are found by their usual names and images are looked up next to the CSV. When a set has no
country column, the true country is the Natural Earth polygon holding the point
(`geosleuth.core.geo.country_at`), as for the shared sets.

A row may give a country code and no coordinates (how country-level studies label their photos):
such a sample has `lat` and `lon` None, and is scored on its country only. A row with neither, or
with a coordinate that is not a number, is refused with its line number.
"""

from __future__ import annotations

import csv
import difflib
import glob
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from geosleuth.core.config import Settings, resolve_settings
from geosleuth.core.geo import country_at
from geosleuth.core.paths import shared_dir

REGISTRY_DIR = Path(__file__).resolve().parent / "datasets"
SHARED_DATA = shared_dir() / "data"
DATA_DIR_ENV = "GEOSLEUTH_DATA_DIR"
"""The environment variable of the `data_dir` setting, named in messages about a missing set."""
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id", "img_id", "image_id", "photo_id"),
    "image": ("image", "file", "path", "filename", "img_id", "image_path"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "country": ("country_code", "country", "iso2"),
}
"""Usual column names (case-insensitive) a generic CSV may use for each field, in order of preference."""
FOLDER_LABELS = "labels.csv"
"""The label file a dataset folder given by path holds."""


class DatasetError(ValueError):
    """A dataset that cannot be used: unknown name, bad registry entry or bad label file (one line)."""


class DatasetMissing(DatasetError):
    """A registered set whose files are not on disk; the message says what is missing and where to get it."""


class DatasetSpec(BaseModel):
    """One registry entry: where a labelled photo set lives and how to read its label file."""

    model_config = {"extra": "forbid"}

    name: str = Field(description="Unique name, used on the command line.")
    description: str = Field(description="One line: what the set is.")
    version: int = Field(ge=1, description="Bumped whenever labels or filtering change.")
    location: Literal["shared", "data", "file"] = Field(
        description="shared: ../shared/data; data: the data root; file: an explicit CSV path."
    )
    path: str = Field(description="Folder of the set under its location (the CSV's folder for `file`).")
    labels: str = Field(description="Label CSV, relative to the set's folder.")
    columns: dict[str, str | None] = Field(description="Field (id, image, lat, lon, country) -> CSV column.")
    images: list[str] = Field(
        description="Image path templates relative to the set's folder, tried in order; "
        "{image} and {id} are the row's values; a template may hold one glob `*` folder."
    )
    filter: dict[str, str] = Field(default_factory=dict, description="Keep only rows with these values.")
    get: str = Field(default="", description="Where users get the files, and the layout expected.")
    licence: str = Field(default="", description="Licence of the photos.")

    def folder(self, data_root: Path | None = None) -> Path:
        """Return the set's folder on this machine."""
        if self.location == "shared":
            return SHARED_DATA / self.path
        if self.location == "data":
            return resolve_data_root(data_root) / self.path
        return Path(self.path)


@dataclass(frozen=True)
class Sample:
    """One labelled photo of a dataset."""

    id: str
    image: Path
    lat: float | None
    lon: float | None
    country: str | None

    def truth(self) -> dict[str, Any]:
        """Return the ground truth as eval rows and traces record it."""
        return {"lat": self.lat, "lon": self.lon, "country": self.country}


@dataclass(frozen=True)
class DatasetStatus:
    """What of a dataset is on disk."""

    spec: DatasetSpec
    folder: Path
    labels_present: bool
    rows: int
    images_present: int

    @property
    def ready(self) -> bool:
        """Whether the label file and every image are on disk."""
        return self.labels_present and self.rows > 0 and self.images_present == self.rows


def resolve_data_root(explicit: Path | None = None, settings: Settings | None = None) -> Path:
    """Return the published sets' data root: `explicit`, else `settings.data_dir`, else <cache_dir>/datasets.

    Without `settings`, the resolved ones (`resolve_settings`: environment, config file, defaults).
    """
    if explicit is not None:
        return Path(explicit).expanduser()
    settings = settings if settings is not None else resolve_settings()[0]
    return Path(settings.data_dir or Path(settings.cache_dir) / "datasets").expanduser()


def load_registry(folders: tuple[Path, ...] = (REGISTRY_DIR,)) -> dict[str, DatasetSpec]:
    """Read every `*.yaml` entry in `folders`, in order.

    Raises:
        DatasetError: an entry does not parse or validate, or two entries share a name.
    """
    import yaml

    registry: dict[str, DatasetSpec] = {}
    origin: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.yaml")):
            try:
                spec = DatasetSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
            except (yaml.YAMLError, ValidationError, UnicodeDecodeError, RecursionError) as exc:
                first = str(exc).splitlines()
                raise DatasetError(f"dataset entry {path} is invalid: {' '.join(first[:3])}") from exc
            if spec.name in registry:
                raise DatasetError(f"dataset {spec.name!r} is defined twice ({origin[spec.name]} and {path})")
            registry[spec.name], origin[spec.name] = spec, path
    return registry


def get_spec(name: str, registry: Mapping[str, DatasetSpec] | None = None) -> DatasetSpec:
    """Return the registry entry `name`, else a generic entry for a CSV path or a folder holding labels.csv.

    A registered name wins over a folder of the same name in the working directory.

    Raises:
        DatasetError: unknown name (with a did-you-mean hint and the known names), a folder without
            labels.csv, or an unreadable CSV.
    """
    registry = load_registry() if registry is None else registry
    if name in registry:
        return registry[name]
    if Path(name).is_dir():
        folder = Path(name)
        if not (folder / FOLDER_LABELS).is_file():
            raise DatasetError(f"{folder}: a folder, but it holds no {FOLDER_LABELS}")
        return generic_csv_spec(folder / FOLDER_LABELS, name=folder.resolve().name)
    if name.lower().endswith(".csv") or Path(name).is_file():
        return generic_csv_spec(Path(name))
    close = difflib.get_close_matches(name, registry, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DatasetError(
        f"unknown dataset {name!r}.{hint} Known: {', '.join(registry)}; or give a path to a CSV, or to a "
        f"folder holding {FOLDER_LABELS} (columns: image, lat and lon or country, optional country)"
    )


def generic_csv_spec(path: Path, name: str | None = None) -> DatasetSpec:
    """Build an entry for any CSV whose columns have their usual names (image/file, lat, lon, country).

    The entry is named `name`, default the file's stem. Coordinates may be left out when the CSV has
    a country column (a country-only set).

    Raises:
        DatasetError: the file is missing, or lacks an image column, one of lat/lon, or both the
            coordinates and the country.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no such label file")
    with _label_errors(path), path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    by_lower = {column.strip().lower(): column for column in header}
    columns: dict[str, str | None] = {}
    for field, names in COLUMN_NAMES.items():
        columns[field] = next((by_lower[n] for n in names if n in by_lower), None)
    coordinates = ("lat", "lon") if columns["country"] is None or columns["lat"] or columns["lon"] else ()
    missing = [field for field in ("image", *coordinates) if columns[field] is None]
    if missing:
        raise DatasetError(
            f"{path}: no column for {', '.join(missing)} (found: {', '.join(header) or 'nothing'}); "
            "expected e.g. image, lat, lon, country (or image, country for a country-only set)"
        )
    return DatasetSpec(
        name=name or path.stem,
        description=f"labelled photos listed in {path}",
        version=1,
        location="file",
        path=str(path.resolve().parent),
        labels=path.name,
        columns=columns,
        images=["{image}", "images/{image}"],
    )


def _read_rows(spec: DatasetSpec, folder: Path) -> list[dict[str, str]]:
    """Return the label rows that pass the entry's filter."""
    labels = folder / spec.labels
    with _label_errors(labels), labels.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        wanted = [c for c in spec.columns.values() if c]
        absent = [c for c in wanted if c not in (reader.fieldnames or [])]
        if absent:
            raise DatasetError(f"{labels}: missing column(s) {', '.join(absent)} for dataset {spec.name}")
        return [row for row in reader if all(row.get(k) == v for k, v in spec.filter.items())]


@contextmanager
def _label_errors(labels: Path) -> Iterator[None]:
    """Turn a label file that is not UTF-8 or not CSV (e.g. a field over csv's limit) into a DatasetError."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{labels}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DatasetError(f"{labels}: not a readable CSV file ({exc})") from None


def _image_path(spec: DatasetSpec, folder: Path, values: dict[str, str]) -> Path:
    """Return the first existing image path the entry's templates give a row (else the first template's)."""
    candidates = []
    for template in spec.images:
        relative = template.format(**values)
        if "*" in relative:
            hits = sorted(glob.glob(glob.escape(str(folder / relative)).replace("[*]", "*")))
            if hits:
                return Path(hits[0])
            continue
        candidates.append(folder / relative)
        try:
            if candidates[-1].is_file():
                return candidates[-1]
        except OSError as exc:  # e.g. a name over the file system's limit
            raise DatasetError(f"{folder}: image {relative[:60]!r}... cannot be looked up ({exc.strerror})"
                               ) from None
    return candidates[0] if candidates else folder / spec.images[0]


def _missing_message(spec: DatasetSpec, folder: Path, what: str) -> str:
    """One line: what is missing, and where users get the set."""
    get = " ".join(spec.get.split()) or "see the dataset's documentation"
    where = ""
    if spec.location == "data":
        where = f" (data root: {folder.parent}; set --data-root or ${DATA_DIR_ENV})"
    return f"dataset {spec.name}: {what}{where}. To get it: {get}"


def load_samples(
    spec: DatasetSpec, *, data_root: Path | None = None, limit: int | None = None
) -> list[Sample]:
    """Read a dataset's labelled photos, in label-file order (the first `limit` when given).

    Raises:
        DatasetMissing: the set's label file is not on disk (the message says where to get it).
        DatasetError: the label file lacks a column, or a row has a malformed or out-of-range lat/lon,
            neither coordinates nor a country, an unknown country code, a duplicate id, or an image
            name the file system refuses.
    """
    folder = spec.folder(data_root)
    if not (folder / spec.labels).is_file():
        raise DatasetMissing(_missing_message(spec, folder, f"label file {folder / spec.labels} is missing"))
    rows = _read_rows(spec, folder)
    if limit is not None:
        rows = rows[:limit]
    samples: list[Sample] = []
    seen: set[str] = set()
    col = spec.columns
    for number, row in enumerate(rows, 2):
        where = f"{folder / spec.labels}, line {number}"
        image_value, sample_id = _image_and_id(col, row)
        country_column = col.get("country")
        country = (row.get(country_column) or "").strip().upper() if country_column else ""
        point = _row_point(where, row, col)
        if point is None:
            _check_country_code(where, country)
        if sample_id in seen:
            raise DatasetError(f"{where}: duplicate id {sample_id!r}")
        seen.add(sample_id)
        image = _image_path(spec, folder, {"image": image_value, "id": sample_id})
        if point is None:
            samples.append(Sample(sample_id, image, None, None, country))
        else:
            samples.append(Sample(sample_id, image, *point, country or country_at(*point)))
    return samples


def _row_point(where: str, row: dict[str, str], col: dict[str, str | None]) -> tuple[float, float] | None:
    """Return a label row's (lat, lon), None when both cells are empty (a country-only row).

    Raises:
        DatasetError: one cell is empty and the other not, a cell is not a number, or out of range.
    """
    text = [(row.get(col[key] or "") or "").strip() if col.get(key) else "" for key in ("lat", "lon")]
    if not any(text):
        return None
    try:
        lat, lon = float(text[0]), float(text[1])
    except ValueError:
        raise DatasetError(f"{where}: malformed lat/lon ({text[0]!r}, {text[1]!r}); "
                           "give both as decimal degrees, or leave both empty and give a country") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise DatasetError(f"{where}: lat/lon ({lat}, {lon}) out of range")
    return lat, lon


def _check_country_code(where: str, country: str) -> None:
    """Refuse a row without coordinates whose country is missing or not an ISO 3166-1 alpha-2 code.

    Raises:
        DatasetError: the row has no country, or an unknown code.
    """
    from geosleuth.core.countries import get_country

    if not country:
        raise DatasetError(f"{where}: neither lat/lon nor a country code; give one or both")
    try:
        get_country(country)
    except KeyError:
        raise DatasetError(f"{where}: unknown country code {country!r} (expected ISO 3166-1 alpha-2, "
                           "e.g. FR)") from None


def label_column(spec: DatasetSpec, column: str, *, data_root: Path | None = None) -> dict[str, str]:
    """Return each sample id's value in another column of the label file (e.g. `flickr_owner`).

    Raises:
        DatasetMissing: the set's label file is not on disk.
        DatasetError: the label file has no such column.
    """
    folder = spec.folder(data_root)
    if not (folder / spec.labels).is_file():
        raise DatasetMissing(_missing_message(spec, folder, f"label file {folder / spec.labels} is missing"))
    rows = _read_rows(spec, folder)
    if rows and column not in rows[0]:
        known = ", ".join(rows[0])
        raise DatasetError(f"{folder / spec.labels} has no column {column!r}; its columns: {known}")
    return {_image_and_id(spec.columns, row)[1]: (row[column] or "").strip() for row in rows}


def _image_and_id(col: dict[str, str | None], row: dict[str, str]) -> tuple[str, str]:
    """Return a label row's image value (image column, else id) and its sample id (else the image's stem)."""
    image_column, id_column = col.get("image"), col.get("id")
    image_value = row[image_column] if image_column else row[col["id"] or ""]
    return image_value, (row[id_column] if id_column else Path(image_value).stem).strip()


def dataset_status(spec: DatasetSpec, data_root: Path | None = None) -> DatasetStatus:
    """Count what of a dataset is on disk: its label file, rows and images present."""
    folder = spec.folder(data_root)
    if not (folder / spec.labels).is_file():
        return DatasetStatus(spec, folder, False, 0, 0)
    rows = _read_rows(spec, folder)
    col = spec.columns
    present = 0
    for row in rows:
        image_value, sample_id = _image_and_id(col, row)
        present += _image_path(spec, folder, {"image": image_value, "id": sample_id}).is_file()
    return DatasetStatus(spec, folder, True, len(rows), present)


def require_images(spec: DatasetSpec, samples: list[Sample], data_root: Path | None = None) -> None:
    """Fail when none of the samples' images is on disk (the set was not unpacked where expected).

    Raises:
        DatasetMissing: no image of the set is present (the message says where to get them).
    """
    if samples and not any(s.image.is_file() for s in samples):
        folder = spec.folder(data_root)
        raise DatasetMissing(
            _missing_message(spec, folder, f"none of its {len(samples)} images is on disk "
                                           f"(looked for e.g. {samples[0].image})")
        )
