"""The corrections folder: reader, writer and QuPath GeoJSON (numpy, pillow, jsonschema).

Next to a slide ``X.svs`` the folder ``X.svs.uga/`` holds::

    manifest.json           formatVersion, slide, model, analysis, classes, patches[], models[]
    patches/<id>.png        RGB patch at analysis resolution
    masks/<id>.png          8-bit class index per pixel, 255 = ignore
    annotations.geojson     QuPath polygons of the corrected masks, level-0 pixels
    models/<version>/       tfjs models fine-tuned on these corrections

See docs/corrections-format.md and schemas/corrections-manifest.v1.schema.json.
Writers replace every file atomically (temp file + os.replace; write_corrections
builds a whole folder aside and renames it in); one writer at a
time is assumed (the manifest is rewritten whole).
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ANNOTATIONS = "annotations.geojson"
FOLDER_SUFFIX = ".uga"
IGNORE_INDEX = 255
STATUSES = ("suggested", "corrected", "skipped")
SCHEMA_PATH = Path(__file__).parent / "schemas" / "corrections-manifest.v1.schema.json"
DEFAULT_CLASSES = [
    {"name": "Background", "color": [0, 0, 0]},
    {"name": "Gland", "color": [220, 40, 40]},
]

PathLike = Union[str, os.PathLike]


class CorrectionsError(ValueError):
    """A corrections folder that cannot be read or written as asked."""


# ----------------------------------------------------------------------------- utilities

def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def corrections_dir(path: PathLike) -> Path:
    """``X.svs`` -> ``X.svs.uga``; a path that already ends in ``.uga`` is returned as is."""
    p = Path(path)
    return p if p.name.endswith(FOLDER_SUFFIX) else p.with_name(p.name + FOLDER_SUFFIX)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; keep the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _png_bytes(array: np.ndarray, mode: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array), mode=None).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


_UNSAFE_REL = re.compile(r"(^|[/\\])\.\.([/\\]|$)")


def resolve_inside(folder: Path, rel: str, what: str) -> Path:
    """Resolve a manifest path, refusing absolute paths, '..' and symlinks that escape."""
    if not isinstance(rel, str) or not rel:
        raise CorrectionsError(f"{what}: empty path")
    if rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel) or os.path.isabs(rel):
        raise CorrectionsError(f"{what}: absolute path {rel!r} is not allowed; paths are relative to {folder}")
    if _UNSAFE_REL.search(rel):
        raise CorrectionsError(f"{what}: path {rel!r} leaves the corrections folder ('..' is not allowed)")
    root = folder.resolve()
    target = (folder / rel).resolve()
    if target != root and root not in target.parents:
        raise CorrectionsError(f"{what}: {rel!r} resolves to {target}, outside the corrections folder {root} (symlink?)")
    return target


# ----------------------------------------------------------------------------- schema

_SCHEMA_CACHE: Dict[str, Any] = {}


def manifest_schema() -> Dict[str, Any]:
    if "v1" not in _SCHEMA_CACHE:
        _SCHEMA_CACHE["v1"] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return _SCHEMA_CACHE["v1"]


def _format_checker():
    """date-time as RFC 3339 (what ajv-formats checks in the panel), without optional packages."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.match(value):
            return False
        datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", value.replace(" ", "T").replace("t", "T")))
        return True

    return checker


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_VALIDATORS: Dict[int, Any] = {}


def _json_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "manifest"


def _describe(error: Any) -> str:
    at = _json_path(error.absolute_path)
    v, kw, val = error.instance, error.validator, error.validator_value
    if kw == "type":
        types = val if isinstance(val, list) else [val]
        return f"{at}: expected {' or '.join(types)}, got {type(v).__name__} {v!r:.60}"
    if kw == "required":
        missing = re.match(r"^(.*) is a required property$", error.message)
        return f"{at}: missing required {missing.group(1) if missing else error.message}"
    if kw == "const":
        return f"{at}: must be {val!r}, got {v!r}"
    if kw == "enum":
        return f"{at}: {v!r} is not one of {val}"
    if kw == "pattern":
        return f"{at}: {v!r:.60} does not match {val}"
    if kw == "minLength":
        return f"{at}: string too short"
    if kw == "minItems":
        return f"{at}: needs at least {val} items, has {len(v)}"
    if kw == "maxItems":
        return f"{at}: at most {val} items, has {len(v)}"
    if kw == "minimum":
        return f"{at}: {v} < minimum {val}"
    if kw == "maximum":
        return f"{at}: {v} > maximum {val}"
    if kw == "exclusiveMinimum":
        return f"{at}: {v} must be > {val}"
    if kw == "format":
        return f"{at}: {v!r:.60} is not a valid {val}"
    return f"{at}: {error.message}"


def schema_errors(instance: Any, schema: Optional[Dict[str, Any]] = None) -> List[str]:
    """Validate with the ``jsonschema`` package (Draft 2020-12, date-time checked).

    Returns messages like ``patches[2].status: 'done' is not one of [...]``,
    ordered by JSON path.
    """
    import jsonschema

    if schema is None:
        if 1 not in _VALIDATORS:
            _VALIDATORS[1] = jsonschema.Draft202012Validator(manifest_schema(), format_checker=_format_checker())
        validator = _VALIDATORS[1]
    else:
        validator = jsonschema.Draft202012Validator(schema, format_checker=_format_checker())
    errors = sorted(
        validator.iter_errors(instance),
        key=lambda e: [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in e.absolute_path],
    )
    return [_describe(e) for e in errors]


def validate_manifest(manifest: Any, where: str = "manifest.json") -> Dict[str, Any]:
    """Raise CorrectionsError unless ``manifest`` is a valid v1 manifest."""
    if not isinstance(manifest, dict):
        raise CorrectionsError(f"{where}: must be a JSON object")
    version = manifest.get("formatVersion")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CorrectionsError(
            f"{where}: formatVersion {version} is newer than this jupyterlab_uga reads ({FORMAT_VERSION}); upgrade jupyterlab_uga"
        )
    errors = schema_errors(manifest)
    ids = [p.get("id") for p in manifest.get("patches", []) if isinstance(p, dict)]
    dup = sorted({i for i in ids if ids.count(i) > 1 and i is not None})
    if dup:
        errors.append(f"patches: duplicate ids {dup}")
    if errors:
        shown = "; ".join(errors[:8]) + (f"; ... ({len(errors)} errors)" if len(errors) > 8 else "")
        raise CorrectionsError(f"{where} does not follow corrections-manifest v1: {shown}")
    return manifest


def read_manifest(folder: PathLike) -> Dict[str, Any]:
    folder = corrections_dir(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        raise CorrectionsError(f"no corrections folder at {folder}")
    if not path.is_file():
        raise CorrectionsError(f"{folder} has no {MANIFEST}: not a corrections folder (or it was never written)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CorrectionsError(f"{path}: invalid JSON ({e})") from e
    return validate_manifest(manifest, str(path))


def _write_manifest(folder: Path, manifest: Dict[str, Any]) -> None:
    manifest["updated"] = now_iso()
    validate_manifest(manifest, f"{folder / MANIFEST} (about to be written)")
    _atomic_write(folder / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))


# ----------------------------------------------------------------------------- reading

@dataclass
class Corrections:
    """Patches of a corrections folder, stacked (N may be 0)."""

    images: np.ndarray  # uint8 [N, H, W, 3]
    masks: np.ndarray  # uint8 [N, H, W], 255 = ignore
    boxes: np.ndarray  # int64 [N, 4] level-0 x, y, w, h
    scores: np.ndarray  # float64 [N]
    ranks: np.ndarray  # int64 [N]
    statuses: List[str]
    ids: List[str]
    manifest: Dict[str, Any]
    folder: Optional[Path] = None
    classes: List[Dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def _patch_paths(folder: Path, patch: Mapping[str, Any]) -> Tuple[Path, Path]:
    pid = patch["id"]
    image = resolve_inside(folder, patch.get("image", f"patches/{pid}.png"), f"patch {pid} image")
    mask = resolve_inside(folder, patch.get("mask", f"masks/{pid}.png"), f"patch {pid} mask")
    return image, mask


def _read_patch_image(path: Path, pid: str) -> np.ndarray:
    if not path.is_file():
        raise CorrectionsError(f"patch {pid}: image file {path} is missing")
    with Image.open(path) as im:
        if im.mode not in ("RGB", "RGBA", "L", "P"):
            raise CorrectionsError(f"patch {pid}: image mode {im.mode} is not 8-bit RGB")
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _read_mask(path: Path, pid: str, num_classes: int) -> np.ndarray:
    with Image.open(path) as im:
        if im.mode not in ("L", "P"):
            raise CorrectionsError(f"patch {pid}: mask {path.name} must be an 8-bit single-channel PNG (mode L), got {im.mode}")
        mask = np.asarray(im, dtype=np.uint8)
    bad = np.unique(mask[(mask >= num_classes) & (mask != IGNORE_INDEX)])
    if bad.size:
        raise CorrectionsError(
            f"patch {pid}: mask values {bad.tolist()[:5]} are neither a class index < {num_classes} nor {IGNORE_INDEX} (ignore)"
        )
    return mask


def load_corrections(path: PathLike, statuses: Sequence[str] = ("corrected",)) -> Corrections:
    """Load the patches whose status is in ``statuses`` from a corrections folder.

    ``path`` is the ``X.svs.uga`` folder or the slide ``X.svs`` next to it.
    Corrected patches need a mask; others without a mask get all-255 (ignore).
    Raises CorrectionsError for a missing manifest, a newer formatVersion, a
    schema violation, a missing/odd-sized mask or a path leaving the folder.
    """
    folder = corrections_dir(path)
    manifest = read_manifest(folder)
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise CorrectionsError(f"unknown status {unknown}; use {STATUSES}")
    classes = manifest["classes"]
    patch_size = int(manifest["analysis"]["patchSize"])
    chosen = [p for p in manifest["patches"] if p["status"] in statuses]
    images, masks = [], []
    for p in chosen:
        pid = p["id"]
        image_path, mask_path = _patch_paths(folder, p)
        img = _read_patch_image(image_path, pid)
        if img.shape[:2] != (patch_size, patch_size):
            raise CorrectionsError(
                f"patch {pid}: image is {img.shape[1]}x{img.shape[0]}, analysis.patchSize is {patch_size}"
            )
        if mask_path.is_file():
            mask = _read_mask(mask_path, pid, len(classes))
            if mask.shape != img.shape[:2]:
                raise CorrectionsError(
                    f"patch {pid}: mask size {mask.shape[1]}x{mask.shape[0]} differs from patch size {img.shape[1]}x{img.shape[0]}"
                )
        elif p["status"] == "corrected":
            raise CorrectionsError(f"patch {pid} is 'corrected' but its mask {mask_path} is missing")
        else:
            mask = np.full(img.shape[:2], IGNORE_INDEX, dtype=np.uint8)
        images.append(img)
        masks.append(mask)
    n = len(chosen)
    return Corrections(
        images=np.stack(images) if n else np.zeros((0, patch_size, patch_size, 3), np.uint8),
        masks=np.stack(masks) if n else np.zeros((0, patch_size, patch_size), np.uint8),
        boxes=np.array([p["box"] for p in chosen], dtype=np.int64).reshape(n, 4),
        scores=np.array([p["score"] for p in chosen], dtype=np.float64),
        ranks=np.array([p["rank"] for p in chosen], dtype=np.int64),
        statuses=[p["status"] for p in chosen],
        ids=[p["id"] for p in chosen],
        manifest=manifest,
        folder=folder,
        classes=classes,
    )


# ----------------------------------------------------------------------------- writing

def new_manifest(
    slide: Mapping[str, Any],
    model: Mapping[str, Any],
    analysis: Mapping[str, Any],
    classes: Optional[Sequence[Mapping[str, Any]]] = None,
) -> Dict[str, Any]:
    t = now_iso()
    return {
        "formatVersion": FORMAT_VERSION,
        "createdBy": "jupyterlab_uga (python)",
        "created": t,
        "updated": t,
        "slide": dict(slide),
        "model": dict(model),
        "analysis": dict(analysis),
        "classes": [dict(c) for c in (classes or DEFAULT_CLASSES)],
        "patches": [],
        "models": [],
    }


def write_corrections(
    folder: PathLike,
    slide_info: Mapping[str, Any],
    patches: Iterable[Mapping[str, Any]] = (),
    model: Optional[Mapping[str, Any]] = None,
    analysis: Optional[Mapping[str, Any]] = None,
    classes: Optional[Sequence[Mapping[str, Any]]] = None,
    overwrite: bool = False,
) -> Dict[str, Any]:
    """Create a corrections folder and write ``patches`` into it.

    slide_info: {"path", "width", "height", "mpp"}; model: {"path", "hash", ...}
    (e.g. from :func:`model_entry`); analysis: {"T", "strategy", "patchSize",
    "mpp", "level", "downsample"}. Each patch is a mapping with the keyword
    arguments of :func:`add_patch`. Returns the manifest.

    A folder that already holds files is refused unless ``overwrite=True``;
    then it is replaced whole (its PNGs, annotations and ``models/`` go too):
    the new folder is built next to it under a temporary name and renamed
    into place, so a failure leaves the old folder as it was.
    """
    folder = corrections_dir(folder)
    if model is None:
        raise CorrectionsError("write_corrections needs model={'path': ..., 'hash': 'sha256:...'} (see model_entry)")
    existing = folder.is_dir() and any(folder.iterdir())
    if folder.exists() and not folder.is_dir():
        raise CorrectionsError(f"{folder} exists and is not a folder")
    if existing and not overwrite:
        try:
            m = read_manifest(folder)
            what = f"{len(m['patches'])} patches, {len(m.get('models', []))} models"
        except CorrectionsError:
            what = "files"
        raise CorrectionsError(
            f"{folder} already holds corrections ({what}); pass overwrite=True to replace it whole "
            "(its PNGs and models/ are removed), or change it with add_patch / set_status"
        )
    analysis = dict(analysis or {})
    analysis.setdefault("T", 20)
    analysis.setdefault("strategy", "entropy")
    analysis.setdefault("patchSize", 224)
    analysis.setdefault("mpp", slide_info.get("mpp"))
    analysis.setdefault("level", 0)
    analysis.setdefault("downsample", 1.0)
    manifest = new_manifest(slide_info, model, analysis, classes)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # build beside the target (same file system, so the renames below are atomic);
    # the name ends in .uga so the writers below take it as a corrections folder
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=f".new{FOLDER_SUFFIX}", dir=folder.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes 0700
        _write_manifest(staging, manifest)
        for p in patches:
            manifest = add_patch(staging, **dict(p), update_annotations=False)
        write_annotations(staging, manifest)
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
            os.rmdir(old)
            os.rename(folder, old)  # between these two renames the folder is briefly absent
            os.rename(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def model_entry(model_dir: PathLike, relative_to: Optional[PathLike] = None) -> Dict[str, Any]:
    """{"path", "hash", "name", "version"} of a tfjs model folder for the manifest."""
    from .export import metadata_of, model_hash

    model_dir = Path(model_dir)
    uga = metadata_of(model_dir)
    path = os.path.relpath(model_dir, relative_to) if relative_to else str(model_dir)
    entry = {"path": Path(path).as_posix(), "hash": model_hash(model_dir)}
    if "name" in uga:
        entry["name"] = str(uga["name"])
    if "version" in uga:
        entry["version"] = str(uga["version"])
    return entry


def add_patch(
    folder: PathLike,
    id: str,
    box: Sequence[int],
    image: np.ndarray,
    mask: Optional[np.ndarray] = None,
    score: float = 0.0,
    rank: Optional[int] = None,
    status: str = "suggested",
    update_annotations: bool = True,
) -> Dict[str, Any]:
    """Add or replace one patch (PNG files first, then the manifest). Returns the manifest.

    update_annotations=False skips regenerating annotations.geojson (for bulk
    writes that call :func:`write_annotations` once at the end).

    image: uint8 [H, W, 3] at analysis resolution; mask: uint8 [H, W] class
    indices (255 = ignore) or None. rank defaults to the next free rank.
    """
    folder = corrections_dir(folder)
    manifest = read_manifest(folder)
    if status not in STATUSES:
        raise CorrectionsError(f"status {status!r} is not one of {STATUSES}")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$", str(id)):
        raise CorrectionsError(f"patch id {id!r}: use letters, digits, '_', '.', '-' (it names files)")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise CorrectionsError(f"patch {id}: image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
    size = int(manifest["analysis"]["patchSize"])
    if image.shape[:2] != (size, size):
        raise CorrectionsError(f"patch {id}: image is {image.shape[1]}x{image.shape[0]}, analysis.patchSize is {size}")
    if status == "corrected" and mask is None:
        raise CorrectionsError(f"patch {id}: a corrected patch needs a mask")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.uint8 or mask.shape != image.shape[:2]:
            raise CorrectionsError(f"patch {id}: mask must be uint8 {image.shape[:2]}, got {mask.dtype} {mask.shape}")
        bad = np.unique(mask[(mask >= len(manifest["classes"])) & (mask != IGNORE_INDEX)])
        if bad.size:
            raise CorrectionsError(f"patch {id}: mask values {bad.tolist()[:5]} are not class indices or {IGNORE_INDEX}")
    t = now_iso()
    old = next((p for p in manifest["patches"] if p["id"] == id), None)
    if rank is None:
        rank = old["rank"] if old else 1 + max([p["rank"] for p in manifest["patches"]], default=0)
    entry = {
        "id": str(id),
        "box": [int(v) for v in box],
        "score": float(score),
        "rank": int(rank),
        "status": status,
        "created": old["created"] if old else t,
        "updated": t,
    }
    image_path, mask_path = _patch_paths(folder, entry)
    _atomic_write(image_path, _png_bytes(image, "RGB"))
    if mask is not None:
        _atomic_write(mask_path, _png_bytes(mask, "L"))
    if old:
        manifest["patches"][manifest["patches"].index(old)] = entry
    else:
        manifest["patches"].append(entry)
    _write_manifest(folder, manifest)
    if update_annotations:
        write_annotations(folder, manifest)
    return manifest


def set_status(folder: PathLike, id: str, status: str, mask: Optional[np.ndarray] = None) -> Dict[str, Any]:
    """Change a patch's status (and optionally its mask)."""
    folder = corrections_dir(folder)
    manifest = read_manifest(folder)
    old = next((p for p in manifest["patches"] if p["id"] == id), None)
    if old is None:
        raise CorrectionsError(f"no patch {id!r} in {folder / MANIFEST}")
    image_path, mask_path = _patch_paths(folder, old)
    image = _read_patch_image(image_path, id)
    if mask is None and mask_path.is_file():
        mask = _read_mask(mask_path, id, len(manifest["classes"]))
    return add_patch(folder, id, old["box"], image, mask, old["score"], old["rank"], status)


def record_model(
    folder: PathLike,
    version: str,
    model_dir: PathLike,
    parent_hash: Optional[str] = None,
    patches: Sequence[str] = (),
    settings: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """Append a fine-tuned model (a folder inside ``models/``) to the manifest."""
    from .export import model_hash

    folder = corrections_dir(folder)
    manifest = read_manifest(folder)
    model_dir = Path(model_dir)
    rel = os.path.relpath(model_dir.resolve(), folder.resolve())
    resolve_inside(folder, Path(rel).as_posix(), f"model {version}")
    entry = {
        "version": str(version),
        "path": Path(rel).as_posix(),
        "hash": model_hash(model_dir),
        "parentHash": parent_hash,
        "created": now_iso(),
        "patches": list(patches),
        "settings": dict(settings or {}),
    }
    manifest.setdefault("models", [])
    manifest["models"] = [m for m in manifest["models"] if m["version"] != entry["version"]] + [entry]
    _write_manifest(folder, manifest)
    return manifest


def next_model_version(folder: PathLike) -> str:
    manifest = read_manifest(folder)
    nums = [int(m["version"]) for m in manifest.get("models", []) if str(m["version"]).isdigit()]
    return str(max(nums, default=0) + 1)


# ----------------------------------------------------------------------------- GeoJSON

_RIGHT = {(1, 0): (0, 1), (0, 1): (-1, 0), (-1, 0): (0, -1), (0, -1): (1, 0)}


def trace_rings(binary: np.ndarray) -> List[List[Tuple[int, int]]]:
    """Closed boundary rings of a binary mask, in pixel-corner coordinates (x, y).

    Every foreground pixel is walked clockwise on screen (y down), so outer
    boundaries come out clockwise (positive shoelace area) and holes
    anticlockwise. At a pinch (diagonal contact) the walk turns right, i.e.
    components are 4-connected. Collinear vertices are dropped; each ring
    repeats its first vertex at the end.
    """
    m = np.pad(np.asarray(binary, dtype=bool), 1)
    inner = m[1:-1, 1:-1]
    out_edges: Dict[Tuple[int, int], List[Tuple[int, int]]] = {}

    def add(ys, xs, x0, y0, d):
        for y, x in zip(ys.tolist(), xs.tolist()):
            out_edges.setdefault((x + x0, y + y0), []).append(d)

    ys, xs = np.nonzero(inner & ~m[:-2, 1:-1])  # top side: (x, y) -> (x+1, y)
    add(ys, xs, 0, 0, (1, 0))
    ys, xs = np.nonzero(inner & ~m[1:-1, 2:])  # right side: (x+1, y) -> (x+1, y+1)
    add(ys, xs, 1, 0, (0, 1))
    ys, xs = np.nonzero(inner & ~m[2:, 1:-1])  # bottom side: (x+1, y+1) -> (x, y+1)
    add(ys, xs, 1, 1, (-1, 0))
    ys, xs = np.nonzero(inner & ~m[1:-1, :-2])  # left side: (x, y+1) -> (x, y)
    add(ys, xs, 0, 1, (0, -1))

    def turn(d: Tuple[int, int], options: List[Tuple[int, int]]) -> Tuple[int, int]:
        right = _RIGHT[d]
        if right in options:
            return right
        return d if d in options else options[0]

    rings: List[List[Tuple[int, int]]] = []
    for start in sorted(out_edges):
        while out_edges[start]:
            d0 = out_edges[start].pop(0)
            pts, d = [start], d0
            v = (start[0] + d[0], start[1] + d[1])
            while True:
                options = out_edges.get(v, [])
                # the ring closes when the rule would take the first edge again
                chosen = turn(d, options + [d0] if v == start else options)
                if v == start and chosen == d0:
                    break
                pts.append(v)
                options.remove(chosen)
                d = chosen
                v = (v[0] + d[0], v[1] + d[1])
            rings.append(_simplify(pts))
    return rings


def _simplify(pts: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    n = len(pts)
    keep = []
    for i in range(n):
        a, b, c = pts[i - 1], pts[i], pts[(i + 1) % n]
        if (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]) != 0:
            keep.append(b)
    return keep + [keep[0]]


def ring_area(ring: Sequence[Tuple[float, float]]) -> float:
    """Shoelace area; positive for clockwise-on-screen (y down) rings."""
    a = 0.0
    for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:]):
        a += x0 * y1 - x1 * y0
    return a / 2.0


def _inside(pt: Tuple[float, float], ring: Sequence[Tuple[float, float]]) -> bool:
    x, y = pt
    inside = False
    for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:]):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def mask_polygons(binary: np.ndarray) -> List[List[List[Tuple[int, int]]]]:
    """Polygons (outer ring, then holes) of a binary mask, pixel-corner coordinates."""
    rings = trace_rings(binary)
    outers = [r for r in rings if ring_area(r) > 0]
    holes = [r for r in rings if ring_area(r) < 0]
    polys: List[List[List[Tuple[int, int]]]] = [[r] for r in outers]
    areas = [ring_area(r) for r in outers]
    for h in holes:
        # a hole's first edge has foreground on its right: test that pixel's centre
        (x0, y0), (x1, y1) = h[0], h[1]
        dx, dy = np.sign(x1 - x0), np.sign(y1 - y0)
        probe = (x0 + dx * 0.5 - dy * 0.5, y0 + dy * 0.5 + dx * 0.5)
        containing = [i for i, r in enumerate(outers) if _inside(probe, r)]
        if containing:
            polys[min(containing, key=lambda i: areas[i])].append(h)
    return polys


def mask_to_geojson(
    mask: np.ndarray,
    box: Sequence[float],
    classes: Sequence[Mapping[str, Any]] = DEFAULT_CLASSES,
    skip_classes: Sequence[int] = (0,),
    properties: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """QuPath-compatible GeoJSON FeatureCollection of a class-index mask.

    One annotation Feature per class present (skipping ``skip_classes`` and
    255); a single part is a Polygon, several a MultiPolygon. Coordinates are
    level-0 pixels: the mask covers ``box`` = [x, y, w, h]. Rings are closed.
    """
    mask = np.asarray(mask)
    h, w = mask.shape
    x0, y0, bw, bh = [float(v) for v in box]
    sx, sy = bw / w, bh / h

    def to_level0(ring):
        out = []
        for x, y in ring:
            X, Y = x0 + x * sx, y0 + y * sy
            out.append([int(X) if float(X).is_integer() else round(X, 3), int(Y) if float(Y).is_integer() else round(Y, 3)])
        return out

    features = []
    for c, cls in enumerate(classes):
        if c in skip_classes:
            continue
        polys = mask_polygons(mask == c)
        if not polys:
            continue
        coords = [[to_level0(r) for r in poly] for poly in polys]
        geometry = {"type": "Polygon", "coordinates": coords[0]} if len(coords) == 1 else {"type": "MultiPolygon", "coordinates": coords}
        props = {
            "objectType": "annotation",
            "classification": {"name": str(cls["name"]), "color": [int(v) for v in cls["color"]]},
            "isLocked": False,
        }
        if properties:
            props.update(properties)
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def write_annotations(folder: PathLike, manifest: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Rewrite annotations.geojson from the corrected patches' masks."""
    folder = corrections_dir(folder)
    manifest = manifest or read_manifest(folder)
    features: List[Dict[str, Any]] = []
    for p in manifest["patches"]:
        if p["status"] != "corrected":
            continue
        _, mask_path = _patch_paths(folder, p)
        if not mask_path.is_file():
            continue
        mask = _read_mask(mask_path, p["id"], len(manifest["classes"]))
        features += mask_to_geojson(mask, p["box"], manifest["classes"], properties={"uga": {"patch": p["id"]}})["features"]
    fc = {"type": "FeatureCollection", "features": features}
    _atomic_write(folder / ANNOTATIONS, json.dumps(fc).encode("utf-8"))
    return fc


# ----------------------------------------------------------------------------- torch

def CorrectionsDataset(corrections: Corrections, normalization: Mapping[str, Any], augment: bool = False, seed: int = 0):
    """A torch Dataset of (normalized float image [3,H,W], int64 mask [H,W]).

    Needs the ``train`` extra (torch); built lazily so this module stays torch-free.
    """
    import torch
    from torch.utils.data import Dataset

    from .train import Normalizer, augment_batch

    norm = Normalizer.from_dict(normalization)

    class _CorrectionsDataset(Dataset):
        def __init__(self) -> None:
            self.images = torch.from_numpy(np.ascontiguousarray(corrections.images))
            self.masks = torch.from_numpy(np.ascontiguousarray(corrections.masks))
            self.gen = torch.Generator().manual_seed(seed)

        def __len__(self) -> int:
            return len(corrections)

        def __getitem__(self, i: int):
            x, y = augment_batch(self.images[i : i + 1], self.masks[i : i + 1], None, self.gen, colour=augment) if augment else (
                self.images[i : i + 1].permute(0, 3, 1, 2).float(),
                self.masks[i : i + 1].long(),
            )
            return norm(x)[0], y[0]

    return _CorrectionsDataset()
