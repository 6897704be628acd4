import json
import os
import subprocess

import numpy as np
import pytest


@pytest.fixture
def random_model(torch_mod):
    torch = torch_mod
    from jupyterlab_uga.network import UNetConfig, build_model

    torch.manual_seed(0)
    model = build_model(UNetConfig(widths=[8, 12, 16], dropout=0.3))
    # non-trivial BatchNorm statistics so the export of every BN tensor matters
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model.eval()


@pytest.fixture
def metadata():
    from jupyterlab_uga.export import make_metadata

    return make_metadata({"mean": [0.54, 0.38, 0.75], "std": [0.24, 0.26, 0.16]}, extra_key="kept")


def test_metadata_has_the_engine_shape(metadata):
    uga = metadata["uga"]
    assert set(uga) >= {"formatVersion", "name", "version", "classes", "foregroundClass", "mpp", "patchSize", "normalization", "output"}
    assert uga["formatVersion"] == 1 and uga["output"] == "softmax" and uga["foregroundClass"] == 1
    assert uga["classes"] == [{"name": "Background", "color": [0, 0, 0]}, {"name": "Gland", "color": [220, 40, 40]}]
    assert uga["normalization"]["scale"] == pytest.approx(1 / 255)
    assert uga["extra_key"] == "kept"


def test_model_json_layout(random_model, metadata, tmp_path):
    from jupyterlab_uga.export import WEIGHTS_FILE, export_tfjs

    mj = export_tfjs(random_model, tmp_path / "m", metadata)
    on_disk = json.loads((tmp_path / "m" / "model.json").read_text())
    assert on_disk == mj
    assert mj["format"] == "layers-model" and mj["generatedBy"] and mj["convertedBy"]
    assert mj["userDefinedMetadata"] == metadata
    layers = mj["modelTopology"]["config"]["layers"]
    kinds = {l["class_name"] for l in layers}
    assert kinds == {"InputLayer", "Conv2D", "BatchNormalization", "Activation", "MaxPooling2D", "UpSampling2D", "Concatenate", "Dropout"}
    # dropout only in the last decoder block and before the head
    assert [l["name"] for l in layers if l["class_name"] == "Dropout"] == ["dec1_dropout", "head_dropout"]
    weights = mj["weightsManifest"][0]["weights"]
    assert mj["weightsManifest"][0]["paths"] == [WEIGHTS_FILE]
    size = sum(4 * int(np.prod(w["shape"])) for w in weights)
    assert os.path.getsize(tmp_path / "m" / WEIGHTS_FILE) == size
    conv = next(w for w in weights if w["name"] == "enc0_c1_conv/kernel")
    assert conv["shape"] == [3, 3, 3, 8]  # HWIO
    # the kernel bytes are the torch weight transposed OIHW -> HWIO
    raw = np.fromfile(tmp_path / "m" / WEIGHTS_FILE, dtype="<f4", count=3 * 3 * 3 * 8).reshape(3, 3, 3, 8)
    np.testing.assert_array_equal(raw, random_model.encoders[0].c1.conv.weight.detach().numpy().transpose(2, 3, 1, 0))
    bn = [w["name"] for w in weights if w["name"].startswith("enc0_c1_bn/")]
    assert bn == ["enc0_c1_bn/gamma", "enc0_c1_bn/beta", "enc0_c1_bn/moving_mean", "enc0_c1_bn/moving_variance"]
    eps = next(l for l in layers if l["name"] == "enc0_c1_bn")["config"]["epsilon"]
    assert eps == pytest.approx(random_model.encoders[0].c1.bn.eps)


def test_round_trip_identical(random_model, metadata, tmp_path, torch_mod):
    from jupyterlab_uga.export import export_tfjs, load_tfjs

    a = export_tfjs(random_model, tmp_path / "a", metadata)
    back = load_tfjs(tmp_path / "a")
    b = export_tfjs(back, tmp_path / "b", back.uga_metadata)
    assert a["modelTopology"] == b["modelTopology"]
    assert a["weightsManifest"] == b["weightsManifest"]
    assert a["userDefinedMetadata"] == b["userDefinedMetadata"]
    assert (tmp_path / "a" / "group1-shard1of1.bin").read_bytes() == (tmp_path / "b" / "group1-shard1of1.bin").read_bytes()
    x = torch_mod.randn(1, 3, 16, 16)
    with torch_mod.no_grad():
        assert torch_mod.equal(random_model(x), back(x))


def test_load_rejects_foreign_topology(random_model, metadata, tmp_path):
    from jupyterlab_uga.export import ExportError, export_tfjs, load_tfjs

    export_tfjs(random_model, tmp_path / "m", metadata)
    mj = json.loads((tmp_path / "m" / "model.json").read_text())
    layer = next(l for l in mj["modelTopology"]["config"]["layers"] if l["name"] == "dec0_up")
    layer["config"]["interpolation"] = "bilinear"
    (tmp_path / "m" / "model.json").write_text(json.dumps(mj))
    with pytest.raises(ExportError, match="dec0_up"):
        load_tfjs(tmp_path / "m")


def test_export_is_atomic(random_model, metadata, tmp_path):
    from jupyterlab_uga import export as ex

    ex.export_tfjs(random_model, tmp_path / "m", metadata)
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    # the second file cannot be created: the write fails after model.json was written
    with pytest.raises(FileNotFoundError):
        ex._write_atomic_dir(tmp_path / "m", {"model.json": b"{}", "no-such-dir/shard.bin": b"x"})
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp folder left
    # a successful export replaces the folder as a whole
    ex.export_tfjs(random_model, tmp_path / "m", {"uga": {**metadata["uga"], "version": "2"}})
    assert json.loads((tmp_path / "m" / "model.json").read_text())["userDefinedMetadata"]["uga"]["version"] == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_metadata_is_checked(random_model, tmp_path):
    from jupyterlab_uga.export import ExportError, export_tfjs

    with pytest.raises(ExportError, match="missing"):
        export_tfjs(random_model, tmp_path / "m", {"uga": {"name": "x"}})
    assert not (tmp_path / "m").exists()


def test_parity_with_tfjs_in_node(random_model, metadata, tmp_path, node_tfjs, repo_root, torch_mod):
    from jupyterlab_uga.export import export_tfjs

    export_tfjs(random_model, tmp_path / "m", metadata)
    torch_mod.manual_seed(1)
    x = torch_mod.randn(2, 3, 24, 40)  # non-square, H/W divisible by 4
    with torch_mod.no_grad():
        expected = random_model(x).permute(0, 2, 3, 1).numpy()
    x.permute(0, 2, 3, 1).numpy().astype("<f4").tofile(tmp_path / "in.bin")
    run = subprocess.run(
        [node_tfjs, str(repo_root / "tests" / "helpers" / "tfjs_predict.cjs"), str(tmp_path / "m"), str(tmp_path / "in.bin"), "2,24,40,3", str(tmp_path / "out.bin")],
        capture_output=True,
        text=True,
        cwd=repo_root,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["outputShape"] == [2, 24, 40, 2] and summary["last"] == "softmax"
    got = np.fromfile(tmp_path / "out.bin", dtype="<f4").reshape(expected.shape)
    assert np.abs(got - expected).max() < 1e-4
    assert np.allclose(got.sum(-1), 1, atol=1e-5)


def test_export_uses_normal_permissions(random_model, metadata, tmp_path):
    from jupyterlab_uga.export import export_tfjs

    old = os.umask(0o022)
    try:
        export_tfjs(random_model, tmp_path / "m", metadata)
    finally:
        os.umask(old)
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "m" / "model.json").stat().st_mode & 0o777 == 0o644
