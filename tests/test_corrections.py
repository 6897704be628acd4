import json
import os
import time
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from jupyterlab_uga.corrections import (
    CorrectionsError,
    add_patch,
    load_corrections,
    manifest_schema,
    mask_to_geojson,
    read_manifest,
    ring_area,
    schema_errors,
    set_status,
    trace_rings,
    write_corrections,
)

SIZE = 32
MODEL = {"path": "models/base", "hash": "sha256:" + "ab" * 32, "name": "uga-unet-ebhi", "version": "1"}
SLIDE = {"path": "X.svs", "width": 4000, "height": 3000, "mpp": 0.25}
ANALYSIS = {"T": 20, "strategy": "entropy", "patchSize": SIZE, "mpp": 0.5, "level": 0, "downsample": 2.0}


def _patch(i, status="corrected", rng=None):
    rng = rng or np.random.default_rng(i)
    mask = (rng.random((SIZE, SIZE)) > 0.5).astype(np.uint8)
    mask[0, :4] = 255
    return dict(
        id=f"p{i:03d}",
        box=[100 + 64 * i, 200, 64, 64],
        image=rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8),
        mask=mask if status == "corrected" else None,
        score=1.0 / (i + 1),
        rank=i + 1,
        status=status,
    )


@pytest.fixture
def folder(tmp_path):
    patches = [_patch(0), _patch(1), _patch(2, "suggested"), _patch(3, "skipped")]
    write_corrections(tmp_path / "X.svs", SLIDE, patches, model=MODEL, analysis=ANALYSIS)
    return tmp_path / "X.svs.uga"


def test_round_trip(folder):
    c = load_corrections(folder.parent / "X.svs")
    assert c.ids == ["p000", "p001"]
    assert c.images.shape == (2, SIZE, SIZE, 3) and c.images.dtype == np.uint8
    assert c.masks.shape == (2, SIZE, SIZE) and c.masks.dtype == np.uint8
    ref = _patch(1)
    np.testing.assert_array_equal(c.images[1], ref["image"])
    np.testing.assert_array_equal(c.masks[1], ref["mask"])
    assert c.boxes.tolist() == [[100, 200, 64, 64], [164, 200, 64, 64]]
    assert c.ranks.tolist() == [1, 2] and c.statuses == ["corrected", "corrected"]
    assert c.scores[1] == pytest.approx(0.5)
    assert c.manifest["analysis"]["T"] == 20
    # a suggested patch has no mask: every pixel is 'ignore'
    s = load_corrections(folder, statuses=("suggested", "skipped"))
    assert s.ids == ["p002", "p003"] and (s.masks == 255).all()
    # nothing chosen: empty but well-shaped arrays
    folder2 = folder.parent / "Y.svs.uga"
    write_corrections(folder2, SLIDE, [_patch(5, "suggested")], model=MODEL, analysis=ANALYSIS)
    assert load_corrections(folder2).images.shape == (0, SIZE, SIZE, 3)


def _when(stamp):
    assert stamp.endswith("Z"), stamp
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_writer_updates_timestamps_status_and_leaves_no_temp_files(folder):
    before = {p["id"]: p for p in read_manifest(folder)["patches"]}
    mask = np.ones((SIZE, SIZE), np.uint8)
    time.sleep(0.005)  # timestamps have millisecond resolution
    set_status(folder, "p002", "corrected", mask=mask)
    after = {p["id"]: p for p in read_manifest(folder)["patches"]}
    assert after["p002"]["status"] == "corrected"
    assert after["p002"]["created"] == before["p002"]["created"]
    assert _when(after["p002"]["updated"]) > _when(before["p002"]["updated"])
    assert _when(after["p002"]["updated"]) > _when(after["p002"]["created"])
    # the untouched patch keeps its timestamp
    assert after["p000"]["updated"] == before["p000"]["updated"]
    assert load_corrections(folder).ids == ["p000", "p001", "p002"]
    leftovers = [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    # a new patch without explicit rank gets the next one
    add_patch(folder, "extra", [0, 0, 64, 64], _patch(9)["image"], score=0.1)
    assert {p["id"]: p["rank"] for p in read_manifest(folder)["patches"]}["extra"] == 5


def test_annotations_geojson_written_for_corrected_patches(folder):
    fc = json.loads((folder / "annotations.geojson").read_text())
    assert fc["type"] == "FeatureCollection"
    patches = {f["properties"]["uga"]["patch"] for f in fc["features"]}
    assert patches == {"p000", "p001"}
    for f in fc["features"]:
        assert f["properties"]["classification"] == {"name": "Gland", "color": [220, 40, 40]}


def _edit_manifest(folder, fn):
    m = json.loads((folder / "manifest.json").read_text())
    fn(m)
    (folder / "manifest.json").write_text(json.dumps(m))


def test_missing_manifest(tmp_path):
    (tmp_path / "A.svs.uga").mkdir()
    with pytest.raises(CorrectionsError, match="no manifest.json"):
        load_corrections(tmp_path / "A.svs")
    with pytest.raises(CorrectionsError, match="no corrections folder"):
        load_corrections(tmp_path / "B.svs")


def test_newer_format_version(folder):
    _edit_manifest(folder, lambda m: m.update(formatVersion=2))
    with pytest.raises(CorrectionsError, match="formatVersion 2 is newer"):
        load_corrections(folder)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["patches"][0].update(status="done"), r"patches\[0\]\.status: 'done' is not one of"),
        (lambda m: m["patches"][1].pop("box"), r"patches\[1\]: missing required 'box'"),
        (lambda m: m["patches"][0].update(box=[1, 2, 3]), r"patches\[0\]\.box: needs at least 4"),
        (lambda m: m["analysis"].update(T="20"), r"analysis\.T: expected integer"),
        (lambda m: m["model"].update(hash="md5:00"), r"model\.hash"),
        (lambda m: m["patches"].append(dict(m["patches"][0])), r"duplicate ids \['p000'\]"),
    ],
)
def test_schema_violations(folder, edit, message):
    _edit_manifest(folder, edit)
    with pytest.raises(CorrectionsError, match=message):
        load_corrections(folder)


def test_builtin_validator_agrees_with_jsonschema(folder):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(manifest_schema())
    good = json.loads((folder / "manifest.json").read_text())
    assert schema_errors(good) == [] and validator.is_valid(good)
    bad_edits = [
        lambda m: m["patches"][0].update(status="done"),
        lambda m: m["patches"][0].update(image="../outside.png"),
        lambda m: m["patches"][0].update(mask="/etc/passwd"),
        lambda m: m["slide"].update(width=0),
        lambda m: m.pop("classes"),
        lambda m: m["classes"][0].update(color=[0, 0, 256]),
        lambda m: m["patches"][0].update(id="../x"),
        lambda m: m["analysis"].update(mpp=0),
    ]
    for edit in bad_edits:
        m = json.loads(json.dumps(good))
        edit(m)
        assert schema_errors(m), edit
        assert not validator.is_valid(m), edit


def test_mask_size_differs(folder):
    Image.fromarray(np.zeros((SIZE, SIZE + 1), np.uint8)).save(folder / "masks" / "p001.png")
    with pytest.raises(CorrectionsError, match="mask size 33x32 differs from patch size 32x32"):
        load_corrections(folder)


def test_mask_with_bad_values_or_mode(folder):
    Image.fromarray(np.full((SIZE, SIZE), 7, np.uint8)).save(folder / "masks" / "p001.png")
    with pytest.raises(CorrectionsError, match=r"mask values \[7\]"):
        load_corrections(folder)
    Image.fromarray(np.zeros((SIZE, SIZE, 3), np.uint8)).save(folder / "masks" / "p001.png")
    with pytest.raises(CorrectionsError, match="single-channel"):
        load_corrections(folder)


def test_corrected_patch_without_mask(folder):
    os.remove(folder / "masks" / "p000.png")
    with pytest.raises(CorrectionsError, match="'corrected' but its mask"):
        load_corrections(folder)


def test_paths_outside_the_folder(folder, tmp_path):
    outside = tmp_path / "secret.png"
    Image.fromarray(np.zeros((SIZE, SIZE, 3), np.uint8)).save(outside)
    # '..' and absolute paths are schema violations
    _edit_manifest(folder, lambda m: m["patches"][0].update(image="../secret.png"))
    with pytest.raises(CorrectionsError, match="patches\\[0\\]\\.image"):
        load_corrections(folder)
    _edit_manifest(folder, lambda m: m["patches"][0].update(image=str(outside)))
    with pytest.raises(CorrectionsError, match="patches\\[0\\]\\.image"):
        load_corrections(folder)
    # a symlink inside the folder that points outside it
    _edit_manifest(folder, lambda m: m["patches"][0].update(image="patches/link.png"))
    os.symlink(outside, folder / "patches" / "link.png")
    with pytest.raises(CorrectionsError, match="outside the corrections folder"):
        load_corrections(folder)


def test_writer_rejects_bad_input(folder):
    img = _patch(0)["image"]
    with pytest.raises(CorrectionsError, match="needs a mask"):
        add_patch(folder, "q", [0, 0, 64, 64], img, status="corrected")
    with pytest.raises(CorrectionsError, match="patchSize"):
        add_patch(folder, "q", [0, 0, 64, 64], np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(CorrectionsError, match="patch id"):
        add_patch(folder, "../q", [0, 0, 64, 64], img)
    with pytest.raises(CorrectionsError, match="mask values"):
        add_patch(folder, "q", [0, 0, 64, 64], img, mask=np.full((SIZE, SIZE), 9, np.uint8), status="corrected")


# ----------------------------------------------------------------------------- GeoJSON

def _polygon_area(ring):
    return abs(ring_area([tuple(p) for p in ring]))


def test_trace_rings_hole_orientation_and_pinch():
    m = np.zeros((6, 6), bool)
    m[1:5, 1:5] = True
    m[2, 2] = False
    rings = trace_rings(m)
    assert len(rings) == 2
    outer, hole = sorted(rings, key=ring_area, reverse=True)
    assert outer == [(1, 1), (5, 1), (5, 5), (1, 5), (1, 1)]
    assert ring_area(outer) == 16 and ring_area(hole) == -1
    # diagonal contact: 4-connected, so two separate unit squares
    d = np.array([[1, 0], [0, 1]], bool)
    assert sorted(abs(ring_area(r)) for r in trace_rings(d)) == [1, 1]


def test_mask_to_geojson_qupath_shape_and_scaling():
    mask = np.zeros((8, 8), np.uint8)
    mask[1:4, 1:4] = 1  # one gland with a hole
    mask[2, 2] = 0
    mask[5:7, 5:8] = 1  # second gland
    mask[0, 7] = 255  # ignore pixels produce nothing
    gj = mask_to_geojson(mask, [1000, 2000, 16, 16])
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 1
    f = gj["features"][0]
    assert f["properties"]["objectType"] == "annotation"
    assert f["properties"]["classification"] == {"name": "Gland", "color": [220, 40, 40]}
    assert f["geometry"]["type"] == "MultiPolygon"
    polys = f["geometry"]["coordinates"]
    areas = []
    for poly in polys:
        for ring in poly:
            assert ring[0] == ring[-1] and len(ring) >= 4  # closed
            for x, y in ring:
                assert 1000 <= x <= 1016 and 2000 <= y <= 2016
        areas.append(_polygon_area(poly[0]) - sum(_polygon_area(h) for h in poly[1:]))
    # level-0 area = pixel count * (16/8)^2
    assert sorted(areas) == [6 * 4, 8 * 4]
    json.dumps(gj)  # plain JSON


def test_single_part_is_polygon_and_background_skipped():
    mask = np.zeros((4, 4), np.uint8)
    mask[1:3, 1:3] = 1
    gj = mask_to_geojson(mask, [0, 0, 4, 4])
    assert [f["geometry"]["type"] for f in gj["features"]] == ["Polygon"]
    assert gj["features"][0]["geometry"]["coordinates"] == [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]
    gj_bg = mask_to_geojson(mask, [0, 0, 4, 4], skip_classes=())
    names = [f["properties"]["classification"]["name"] for f in gj_bg["features"]]
    assert names == ["Background", "Gland"]
    assert gj_bg["features"][0]["geometry"]["coordinates"][1] != []  # background has the gland as a hole


def test_random_masks_area_is_preserved():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = (rng.random((12, 12)) > 0.55).astype(np.uint8)
        gj = mask_to_geojson(mask, [0, 0, 12, 12])
        total = 0.0
        for f in gj["features"]:
            g = f["geometry"]
            polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
            for poly in polys:
                total += _polygon_area(poly[0]) - sum(_polygon_area(h) for h in poly[1:])
        assert total == mask.sum()


def test_written_files_use_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_corrections(tmp_path / "P.svs", SLIDE, [_patch(0)], model=MODEL, analysis=ANALYSIS)
    finally:
        os.umask(old)
    for name in ("manifest.json", "patches/p000.png", "masks/p000.png", "annotations.geojson"):
        assert (tmp_path / "P.svs.uga" / name).stat().st_mode & 0o777 == 0o644, name
