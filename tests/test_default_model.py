"""The shipped default model: files, metadata contract, torch/tfjs agreement, sanity on real tiles."""
import json

import pytest


@pytest.fixture(scope="module")
def model_dir(repo_root):
    d = repo_root / "jupyterlab_uga" / "default_model"
    if not (d / "model.json").is_file():
        pytest.skip("jupyterlab_uga/default_model has not been exported yet")
    return d


def test_files_and_metadata_contract(model_dir):
    mj = json.loads((model_dir / "model.json").read_text())
    assert mj["format"] == "layers-model"
    uga = mj["userDefinedMetadata"]["uga"]
    assert uga["formatVersion"] == 1 and uga["name"] == "uga-unet-ebhi"
    assert uga["classes"] == [{"name": "Background", "color": [0, 0, 0]}, {"name": "Gland", "color": [220, 40, 40]}]
    assert uga["foregroundClass"] == 1 and uga["patchSize"] == 224 and uga["output"] == "softmax"
    assert uga["mpp"] > 0
    norm = uga["normalization"]
    assert norm["scale"] == pytest.approx(1 / 255) and len(norm["mean"]) == 3 and len(norm["std"]) == 3
    total = sum(p.stat().st_size for p in model_dir.iterdir() if p.name != "model.pt")
    assert total <= 5 * 1024 * 1024
    assert (model_dir / "model.pt").is_file()


def test_state_dict_matches_the_tfjs_weights(model_dir, torch_mod):
    from jupyterlab_uga.export import load_tfjs
    from jupyterlab_uga.train import load_checkpoint

    from_tfjs = load_tfjs(model_dir)
    from_pt, norm, _ = load_checkpoint(model_dir / "model.pt")
    a, b = from_tfjs.state_dict(), from_pt.state_dict()
    for k in b:
        if k.endswith("num_batches_tracked"):
            continue
        assert torch_mod.equal(a[k], b[k]), k
    assert norm.mean == pytest.approx(from_tfjs.uga_metadata["uga"]["normalization"]["mean"])


def test_segments_real_tiles(model_dir, ebhi_dir, torch_mod):
    from jupyterlab_uga.data import load_split
    from jupyterlab_uga.evaluate import load_any
    from jupyterlab_uga.metrics import dice_summary
    from jupyterlab_uga.train import predict_probs

    model, norm = load_any(model_dir)
    images, masks, _ = load_split(ebhi_dir / "source-val", limit=8)
    d = dice_summary(predict_probs(model, images, norm).argmax(-1), masks)
    assert d["dice_mean"] > 0.7, d
