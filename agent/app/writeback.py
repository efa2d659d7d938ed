"""Write located positions back to the photos' metadata: opt-in, planned first, never silently destructive.

`plan_writes` turns `locate` records into one `WritePlan` per photo and touches nothing;
`apply_writes(plans, yes=True)` carries out the plans whose action is "write" (without `yes` it is a
dry run); `plan_table` and `outcome_table` show either as a rich table. Two modes:

* "xmp": a sidecar `photo.jpg.xmp` next to each photo (darktable's naming, digiKam's default), merged
  into when it exists (its other metadata kept; a `.geosleuth-bak` copy of the old sidecar is kept).
* "exif" (needs `in_place=True`): the GPS IFD of the JPEG itself, rewritten without re-encoding the
  image, after copying the original to `photo.jpg.geosleuth-bak` (an older backup is never replaced).

A photo that already has a position (EXIF GPS, embedded XMP, `photo.jpg.xmp` or `photo.xmp`) is
skipped unless `overwrite_gps`. Record keys, field mapping and app notes: docs/writeback.md.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from geosleuth.app.writeback_formats import (
    FormatError,
    GpsFix,
    HistoryEvent,
    jpeg_with_gps,
    merge_xmp,
    parse_xmp,
    xmp_coordinate,
    xmp_gps,
    xmp_values,
)

if TYPE_CHECKING:
    from rich.table import Table

Mode = Literal["xmp", "exif"]
Action = Literal["write", "skip-has-gps", "skip-no-guess", "error"]
Status = Literal["written", "dry-run", "skipped", "error"]
BACKUP_SUFFIX = ".geosleuth-bak"
PLACE_FIELDS = {"place": "photoshop:City", "region": "photoshop:State", "country": "photoshop:Country"}
"""Record key -> the IPTC Core XMP property it is written to (plus Iptc4xmpCore:CountryCode)."""
_STYLE = {"write": "green", "written": "green", "dry-run": "cyan", "error": "red"}


@dataclass(frozen=True)
class WritePlan:
    """What writing one record back would do; nothing is touched until `apply_writes`."""

    path: Path
    mode: Mode
    action: Action
    reason: str
    """Why it is skipped or failed, or what the write does ("new sidecar", "add EXIF GPS", ...)."""
    target: Path | None = None
    """The file written: the sidecar (xmp) or the photo itself (exif)."""
    old_gps: tuple[float, float] | None = None
    old_gps_source: str | None = None
    """Where a position was found: "EXIF", "embedded XMP" or "sidecar NAME" (`old_gps` None: undecodable)."""
    new_gps: tuple[float, float] | None = None
    backup: Path | None = None
    """Where the file's current bytes are kept before the write (None: a new sidecar, nothing to keep)."""
    record: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    overwrite_gps: bool = False


@dataclass(frozen=True)
class WriteOutcome:
    """What `apply_writes` did with one plan."""

    plan: WritePlan
    status: Status
    message: str

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as a JSON-ready dict (the plan's fields, then status and message)."""
        plan = self.plan
        return {
            "path": str(plan.path), "mode": plan.mode, "action": plan.action,
            "target": str(plan.target) if plan.target else None,
            "old_gps": list(plan.old_gps) if plan.old_gps else None, "old_gps_source": plan.old_gps_source,
            "new_gps": list(plan.new_gps) if plan.new_gps else None,
            "backup": str(plan.backup) if plan.backup else None,
            "status": self.status, "message": self.message,
        }


def sidecar_path(photo: Path) -> Path:
    """Return the sidecar `--write xmp` writes: the photo's full name plus ".xmp" (photo.jpg.xmp)."""
    return photo.with_name(photo.name + ".xmp")


def backup_path(path: Path) -> Path:
    """Return where a file's original bytes are kept before geosleuth rewrites it (NAME.geosleuth-bak)."""
    return path.with_name(path.name + BACKUP_SUFFIX)


def existing_gps(photo: Path) -> tuple[tuple[float, float] | None, str] | None:
    """Return the position a photo already carries and where it was found, None when it has none.

    Looks at, in order: the EXIF GPS IFD, the photo's embedded XMP, `photo.jpg.xmp`, `photo.xmp`.
    Any latitude/longitude tag counts, even one `load_photo` rejects (a position that cannot be
    decoded comes back as None with its source); only an absent one or exactly (0, 0) does not.

    Raises:
        PhotoError: the photo cannot be read.
        FormatError: a sidecar exists but is not XMP (so whether it holds GPS is unknown).
    """
    from geosleuth.core.photo import load_photo

    meta = load_photo(photo, max_side=64).metadata  # small decode: only the metadata is wanted
    if meta.gps:
        return meta.gps, "EXIF"
    if {"GPSLatitude", "GPSLongitude"} & meta.exif.keys() and (point := _exif_point(meta.exif)) != (0, 0):
        return point, "EXIF"
    packets: list[tuple[str, Path | None, bytes]] = []
    if meta.xmp:
        packets.append(("embedded XMP", None, meta.xmp.encode()))
    for sidecar in dict.fromkeys((sidecar_path(photo), photo.with_suffix(".xmp"))):
        if sidecar.is_file():
            packets.append((f"sidecar {sidecar.name}", sidecar, sidecar.read_bytes()))
    for source, file, packet in packets:
        try:
            doc = parse_xmp(packet)
        except FormatError as exc:
            if file is None:
                continue  # an unreadable embedded packet: no reader finds a position in it either
            raise FormatError(f"{file}: {exc}") from None
        present = xmp_values(doc, "exif:GPSLatitude") or xmp_values(doc, "exif:GPSLongitude")
        if present and (point := xmp_gps(doc)) != (0, 0):
            return point, source
    return None


def _exif_point(exif: Mapping[str, Any]) -> tuple[float, float] | None:
    """Decode the EXIF GPS position as written (no range checks), None when it cannot be decoded."""
    point = []
    for key, negative in (("GPSLatitude", "S"), ("GPSLongitude", "W")):
        parts = exif.get(key)
        if not (isinstance(parts, list) and parts and all(isinstance(p, int | float) for p in parts)):
            return None
        degrees = sum(p / 60**i for i, p in enumerate(parts))
        point.append(-degrees if exif.get(f"{key}Ref") == negative else degrees)
    return point[0], point[1]


def plan_writes(
    records: Iterable[Mapping[str, Any]], mode: Mode, *, in_place: bool = False, overwrite_gps: bool = False
) -> list[WritePlan]:
    """Plan writing each record's position back, in record order; reads the photos, writes nothing.

    Args:
        records: `locate` records (keys path, lat, lon, country, region, place, confidence, radius_km,
            planner, trace_id, error; an optional country_code).
        mode: "xmp" (sidecars) or "exif" (the photos themselves).
        in_place: Required with "exif" and refused with "xmp": only then are photos touched.
        overwrite_gps: Replace a position the photo already has (otherwise it is "skip-has-gps").

    Raises:
        ValueError: the mode and `in_place` do not go together (a usage error, before any photo).
    """
    if mode not in ("xmp", "exif"):
        raise ValueError(f"unknown write mode {mode!r}: choose xmp or exif")
    if mode == "exif" and not in_place:
        raise ValueError("--write exif changes the photos themselves: add --in-place (each is backed up)")
    if mode == "xmp" and in_place:
        raise ValueError("--in-place goes with --write exif; --write xmp never touches the photos")
    plans: list[WritePlan] = []
    planned: set[Path] = set()
    for record in records:
        plan = _plan(record, mode, overwrite_gps)
        if plan.action == "write":
            if plan.path.resolve() in planned:
                plan = replace(plan, action="error", reason="the photo is listed twice; written once")
            planned.add(plan.path.resolve())
        plans.append(plan)
    return plans


def _plan(record: Mapping[str, Any], mode: Mode, overwrite_gps: bool) -> WritePlan:
    from geosleuth.core.photo import PhotoError

    path = Path(record["path"])
    plan = WritePlan(path=path, mode=mode, action="skip-no-guess", reason="", record=record,
                     overwrite_gps=overwrite_gps)
    lat, lon = record.get("lat"), record.get("lon")
    if lat is None or lon is None:  # an `error` beside coordinates is a tool's warning: the guess stands
        error = record.get("error")
        return replace(plan, reason=f"not located: {error}" if error else "the guess has no coordinates")
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        lat = lon = math.nan
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return replace(plan, action="error", reason=f"invalid coordinates {record['lat']}, {record['lon']}")
    target = path if mode == "exif" else sidecar_path(path)
    plan = replace(plan, target=target, new_gps=(lat, lon))
    try:
        if mode == "exif" and path.is_file() and not _is_jpeg(path):
            raise FormatError("EXIF is written losslessly into JPEG files only; use --write xmp for this one")
        found = existing_gps(path)
    except (PhotoError, FormatError, OSError) as exc:
        return replace(plan, action="error", reason=str(exc))
    old_gps, source = found if found else (None, None)
    plan = replace(plan, old_gps=old_gps, old_gps_source=source)
    if found and not overwrite_gps:
        reason = f"already has GPS ({source}); --overwrite-gps replaces it"
        return replace(plan, action="skip-has-gps", reason=reason)
    own = "EXIF" if mode == "exif" else f"sidecar {target.name}"
    if mode == "exif":
        reason = "replace EXIF GPS" if source == own else "add EXIF GPS"
    else:
        reason = "merge into the sidecar" if target.exists() else "new sidecar"
    if source and source != own:
        reason += f" (the GPS in {source} stays as it is)"
    backup = backup_path(target) if target.exists() else None
    return replace(plan, action="write", backup=backup, reason=reason)


def _is_jpeg(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(3) == b"\xff\xd8\xff"


def apply_writes(plans: Iterable[WritePlan], *, yes: bool) -> list[WriteOutcome]:
    """Carry out the plans whose action is "write"; one failure never stops the others.

    Args:
        plans: From `plan_writes`.
        yes: The user's go-ahead; False is a dry run (every "write" becomes a "dry-run" outcome).

    Returns:
        One outcome per plan: "written", "dry-run", "skipped" (the plan's reason) or "error" (why).
    """
    outcomes = []
    for plan in plans:
        if plan.action != "write":
            outcomes.append(WriteOutcome(plan, "error" if plan.action == "error" else "skipped", plan.reason))
        elif not yes:
            outcomes.append(WriteOutcome(plan, "dry-run", f"would {plan.reason}"))
        else:
            try:
                outcomes.append(WriteOutcome(plan, "written", _write(plan)))
            except (FormatError, OSError) as exc:
                outcomes.append(WriteOutcome(plan, "error", f"{plan.target}: {exc}"))
    return outcomes


def _write(plan: WritePlan) -> str:
    """Write one planned file (backup first) and say what was done."""
    assert plan.target is not None and plan.new_gps is not None  # a "write" plan has both
    old = plan.target.read_bytes() if plan.target.exists() else None
    if plan.mode == "exif":
        assert old is not None  # the photo itself
        new = jpeg_with_gps(old, _gps_fix(plan))
    else:
        new = merge_xmp(old, *_xmp_properties(plan), _history_event(plan))
    kept = ""
    if old is not None:
        backup = backup_path(plan.target)
        if backup.exists():
            kept = f"; kept the earlier backup {backup.name}"
        else:
            _replace_bytes(backup, old, like=plan.target)
            kept = f"; backup {backup.name}"
    _replace_bytes(plan.target, new, like=plan.target)
    return f"{plan.reason}{kept}"


def _replace_bytes(path: Path, data: bytes, *, like: Path) -> None:
    """Write `data` to `path` atomically (a temporary file in the same folder, then a rename).

    Permissions and times are copied from `like` when it exists and is another file (a backup
    keeps the original's modification time).
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if like.exists():
            (shutil.copystat if like != path else shutil.copymode)(like, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("geosleuth")
    except PackageNotFoundError:
        return "unknown"


def _note(plan: WritePlan) -> str:
    """Return the human-readable provenance: who estimated the position, how sure, which trace."""
    record = plan.record
    parts = [f"position estimated from the photo by geosleuth {_version()}, not a GPS fix"]
    if (radius := record.get("radius_km")) is not None:
        parts.append(f"likely within {radius:.6g} km")
    if (confidence := record.get("confidence")) is not None:
        parts.append(f"country confidence {confidence:.2f}")
    if planner := record.get("planner"):
        parts.append(f"planner {planner}")
    if trace := record.get("trace_id"):
        parts.append(f"trace {trace}")
    return "; ".join(parts)


def _place(record: Mapping[str, Any]) -> str:
    return ", ".join(str(record[k]) for k in ("place", "region", "country") if record.get(k))


def _gps_fix(plan: WritePlan) -> GpsFix:
    assert plan.new_gps is not None
    radius = plan.record.get("radius_km")
    place = _place(plan.record)
    return GpsFix(*plan.new_gps, error_m=None if radius is None else radius * 1000,
                  area=f"{place} ({_note(plan)})" if place else _note(plan))


def _xmp_properties(plan: WritePlan) -> tuple[dict[str, str], dict[str, str]]:
    """Return the XMP properties (replaced, filled when absent); place names are filled unless overwriting."""
    from geosleuth.core.countries import find_country

    assert plan.new_gps is not None
    record = plan.record
    replaced = {
        "exif:GPSVersionID": "2.3.0.0",
        "exif:GPSLatitude": xmp_coordinate(plan.new_gps[0], "lat"),
        "exif:GPSLongitude": xmp_coordinate(plan.new_gps[1], "lon"),
        "exif:GPSMapDatum": "WGS-84",
        "xmp:MetadataDate": datetime.now(UTC).isoformat(timespec="seconds"),
        "geosleuth:Version": _version(),
    }
    for key, name in (("confidence", "Confidence"), ("radius_km", "RadiusKm")):
        if (value := record.get(key)) is not None:
            replaced[f"geosleuth:{name}"] = f"{value:.6g}"
    for key, name in (("planner", "Planner"), ("trace_id", "TraceId")):
        if value := record.get(key):
            replaced[f"geosleuth:{name}"] = str(value)
    places = {name: str(record[key]) for key, name in PLACE_FIELDS.items() if record.get(key)}
    code = record.get("country_code") or (
        country.code if record.get("country") and (country := find_country(str(record["country"]))) else None
    )
    if code:
        places["Iptc4xmpCore:CountryCode"] = str(code)
    return (replaced | places, {}) if plan.overwrite_gps else (replaced, places)


def _history_event(plan: WritePlan) -> HistoryEvent:
    return HistoryEvent(agent=f"geosleuth {_version()}", when=datetime.now(UTC).isoformat(timespec="seconds"),
                        note=_note(plan))


def _gps_text(point: tuple[float, float] | None, source: str | None = None) -> str:
    text = f"{point[0]:.5f}, {point[1]:.5f}" if point else ("?" if source else "-")
    return f"{text} ({source})" if source else text


def plan_table(plans: Iterable[WritePlan]) -> Table:
    """Return the dry-run table: photo, action, target file, old GPS (and where), new GPS, reason."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="geosleuth: what --write would change")
    for column in ("photo", "action", "target", "old GPS", "new GPS", "reason"):
        table.add_column(column, overflow="fold")
    for plan in plans:
        style = _STYLE.get(plan.action, "yellow")
        old = _gps_text(plan.old_gps, plan.old_gps_source)
        table.add_row(escape(str(plan.path)), f"[{style}]{plan.action}[/{style}]",
                      escape(plan.target.name if plan.target else "-"), escape(old), _gps_text(plan.new_gps),
                      escape(plan.reason))
    return table


def outcome_table(outcomes: Iterable[WriteOutcome]) -> Table:
    """Return the table of what was done: photo, status, target file, message."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="geosleuth: locations written back")
    for column in ("photo", "status", "target", "message"):
        table.add_column(column, overflow="fold")
    for outcome in outcomes:
        style = _STYLE.get(outcome.status, "yellow")
        target = outcome.plan.target
        table.add_row(escape(str(outcome.plan.path)), f"[{style}]{outcome.status}[/{style}]",
                      escape(target.name if target else "-"), escape(outcome.message))
    return table
