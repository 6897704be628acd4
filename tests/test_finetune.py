import json

import numpy as np
import pytest

from jupyterlab_uga.corrections import load_corrections, read_manifest, write_corrections

SIZE = 32


def _synthetic(n, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    images = np.empty((n, SIZE, SIZE, 3), np.uint8)
    masks = np.empty((n, SIZE, SIZE), np.uint8)
    for i in range(n):
        cy, cx, r = rng.integers(8, SIZE - 8, 2).tolist() + [int(rng.integers(4, 8))]
        m = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        img = np.where(m[..., None], [120, 60, 160], [230, 170, 200]).astype(np.float64)
        images[i] = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        masks[i] = m
    return images, masks


@pytest.fixture
def base_and_folder(torch_mod, tmp_path):
    from jupyterlab_uga.corrections import model_entry
    from jupyterlab_uga.export import export_tfjs, make_metadata
    from jupyterlab_uga.network import UNet, UNetConfig

    torch_mod.manual_seed(0)
    model = UNet(UNetConfig(widths=[8, 12, 16], dropout=0.2)).eval()
    base = tmp_path / "base"
    export_tfjs(model, base, make_metadata({"mean": [0.7, 0.5, 0.75], "std": [0.2, 0.2, 0.2]}, patch_size=SIZE))
    images, masks = _synthetic(4, 1)
    masks[:, :2, :] = 255  # ignored rows
    patches = [
        dict(id=f"t{i}", box=[SIZE * i, 0, SIZE, SIZE], image=images[i], mask=masks[i], score=1.0, rank=i + 1, status="corrected")
        for i in range(4)
    ]
    write_corrections(
        tmp_path / "slide.svs", {"path": "slide.svs", "width": 512, "height": 512, "mpp": 0.5}, patches,
        model=model_entry(base, tmp_path), analysis={"patchSize": SIZE, "mpp": 0.5},
    )
    return base, tmp_path / "slide.svs.uga"


def test_finetune_exports_and_records_versions(base_and_folder, torch_mod):
    from jupyterlab_uga.export import load_tfjs, model_hash
    from jupyterlab_uga.finetune import finetune

    base, folder = base_and_folder
    replay = _synthetic(6, 2)
    before = (base / "group1-shard1of1.bin").read_bytes()
    m1 = finetune(base, folder, replay=replay, steps=4, batch_size=4, crop=None, seed=0)
    assert (base / "group1-shard1of1.bin").read_bytes() == before  # the parent is untouched
    assert (folder / "models" / "1" / "model.json").is_file()
    manifest = read_manifest(folder)
    entry = manifest["models"][0]
    assert entry["version"] == "1" and entry["path"] == "models/1"
    assert entry["hash"] == model_hash(folder / "models" / "1")
    assert entry["parentHash"] == model_hash(base)
    assert entry["patches"] == ["t0", "t1", "t2", "t3"] and entry["settings"]["steps"] == 4
    uga = json.loads((folder / "models" / "1" / "model.json").read_text())["userDefinedMetadata"]["uga"]
    assert uga["version"] == "1+ft1" and uga["parentModelHash"] == model_hash(base)
    assert uga["patchSize"] == SIZE and uga["normalization"]["mean"] == [0.7, 0.5, 0.75]
    assert len(m1.finetune_info["losses"]) == 4
    # the exported weights are the returned model's
    back = load_tfjs(folder / "models" / "1")
    x = torch_mod.randn(1, 3, SIZE, SIZE)
    with torch_mod.no_grad():
        assert torch_mod.allclose(back(x), m1(x), atol=1e-6)
        assert not torch_mod.allclose(load_tfjs(base)(x), m1(x), atol=1e-4)
    # chaining from the returned model gives version 2 with version 1 as parent
    m2 = finetune(m1, load_corrections(folder), replay=None, steps=2, batch_size=2, crop=None)
    # a model loaded from a tfjs folder knows its own hash and passes it on as the parent
    m3 = finetune(load_tfjs(base), load_corrections(folder), steps=1, batch_size=2, crop=None)
    assert read_manifest(folder)["models"][2]["parentHash"] == model_hash(base)
    assert m3.finetune_info["export_dir"].endswith("models/3")
    entry2 = read_manifest(folder)["models"][1]
    assert entry2["version"] == "2" and entry2["parentHash"] == entry["hash"]
    assert m2.finetune_info["replay_ratio"] == 0.0


def test_finetune_learns_the_corrections(base_and_folder, torch_mod):
    from jupyterlab_uga.finetune import finetune
    from jupyterlab_uga.metrics import dice_summary
    from jupyterlab_uga.train import Normalizer, predict_probs

    base, folder = base_and_folder
    c = load_corrections(folder)
    m = finetune(base, c, replay=_synthetic(6, 2), steps=30, lr=1e-2, batch_size=4, crop=None, export=False)
    losses = m.finetune_info["losses"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    norm = Normalizer.from_dict(m.uga_metadata["uga"]["normalization"])
    pred = predict_probs(m, c.images, norm).argmax(-1)
    assert dice_summary(pred, c.masks)["dice_gland"] > 0.7  # 255 rows are ignored
    assert not (folder / "models").exists()  # export=False writes nothing


def test_finetune_needs_corrected_patches(base_and_folder, tmp_path):
    from jupyterlab_uga.corrections import model_entry
    from jupyterlab_uga.finetune import finetune

    base, _ = base_and_folder
    images, _ = _synthetic(1, 3)
    write_corrections(tmp_path / "empty.svs", {"path": "empty.svs", "width": 64, "height": 64}, [
        dict(id="s0", box=[0, 0, SIZE, SIZE], image=images[0], status="suggested")
    ], model=model_entry(base), analysis={"patchSize": SIZE, "mpp": None})
    with pytest.raises(ValueError, match="no corrected patches"):
        finetune(base, tmp_path / "empty.svs.uga")


def test_corrections_dataset(base_and_folder, torch_mod):
    from jupyterlab_uga.corrections import CorrectionsDataset

    _, folder = base_and_folder
    c = load_corrections(folder)
    norm = {"scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    ds = CorrectionsDataset(c, norm)
    assert len(ds) == 4
    x, y = ds[2]
    assert x.shape == (3, SIZE, SIZE) and y.shape == (SIZE, SIZE) and y.dtype == torch_mod.int64
    expected = (c.images[2].astype(np.float32) / 255 - 0.5) / 0.25
    np.testing.assert_allclose(x.permute(1, 2, 0).numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(y.numpy(), c.masks[2])
    xa, ya = CorrectionsDataset(c, norm, augment=True)[2]
    assert xa.shape == (3, SIZE, SIZE) and sorted(np.unique(ya.numpy()).tolist()) == sorted(np.unique(c.masks[2]).tolist())
