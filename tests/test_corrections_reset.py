"""write_corrections on a folder that already exists: refused, or replaced whole."""
import json

import numpy as np
import pytest

from jupyterlab_uga.corrections import CorrectionsError, load_corrections, read_manifest, record_model, write_corrections

SIZE = 16
MODEL = {"path": "models/base", "hash": "sha256:" + "ab" * 32}
SLIDE = {"path": "X.svs", "width": 4000, "height": 3000, "mpp": 0.25}
ANALYSIS = {"T": 20, "strategy": "entropy", "patchSize": SIZE, "mpp": 0.5, "level": 0, "downsample": 2.0}


def _patch(pid, value=1):
    rng = np.random.default_rng(len(pid))
    return dict(id=pid, box=[0, 0, 32, 32], image=rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8),
                mask=np.full((SIZE, SIZE), value, np.uint8), score=0.5, rank=1, status="corrected")


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def folder(tmp_path):
    write_corrections(tmp_path / "X.svs", SLIDE, [_patch("old1"), _patch("old2")], model=MODEL, analysis=ANALYSIS)
    folder = tmp_path / "X.svs.uga"
    model = folder / "models" / "1"
    model.mkdir(parents=True)
    (model / "model.json").write_text(json.dumps({"weightsManifest": [{"paths": ["w.bin"]}]}))
    (model / "w.bin").write_bytes(b"\x00" * 8)
    record_model(folder, "1", model, parent_hash=MODEL["hash"], patches=["old1"])
    return folder


def test_existing_folder_is_refused_and_left_alone(folder):
    before = {p: (folder / p).read_bytes() for p in _tree(folder) if (folder / p).is_file()}
    with pytest.raises(CorrectionsError, match=r"already holds corrections \(2 patches, 1 models\); pass overwrite=True"):
        write_corrections(folder, SLIDE, [_patch("new")], model=MODEL, analysis=ANALYSIS)
    after = {p: (folder / p).read_bytes() for p in _tree(folder) if (folder / p).is_file()}
    assert after == before


def test_overwrite_removes_old_pngs_and_models(folder):
    write_corrections(folder, SLIDE, [_patch("new", value=0)], model=MODEL, analysis=ANALYSIS, overwrite=True)
    assert _tree(folder) == ["annotations.geojson", "manifest.json", "masks", "masks/new.png", "patches", "patches/new.png"]
    m = read_manifest(folder)
    assert [p["id"] for p in m["patches"]] == ["new"] and m["models"] == []
    c = load_corrections(folder)
    assert c.ids == ["new"] and (c.masks == 0).all()
    # nothing left beside it (staging or the old copy)
    assert sorted(p.name for p in folder.parent.iterdir()) == ["X.svs.uga"]


def test_failed_overwrite_keeps_the_old_folder(folder):
    before = _tree(folder)
    bad = _patch("bad")
    bad["mask"] = np.full((SIZE, SIZE), 9, np.uint8)  # not a class index
    with pytest.raises(CorrectionsError, match="mask values"):
        write_corrections(folder, SLIDE, [_patch("new"), bad], model=MODEL, analysis=ANALYSIS, overwrite=True)
    assert _tree(folder) == before
    assert load_corrections(folder).ids == ["old1", "old2"]
    assert sorted(p.name for p in folder.parent.iterdir()) == ["X.svs.uga"]


def test_empty_folder_is_fine(tmp_path):
    (tmp_path / "E.svs.uga").mkdir()
    write_corrections(tmp_path / "E.svs", SLIDE, [_patch("a")], model=MODEL, analysis=ANALYSIS)
    assert load_corrections(tmp_path / "E.svs").ids == ["a"]
