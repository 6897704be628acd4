"""Smoke version of `make bench-replicate`: the whole loop on a handful of real
EBHI-Seg tiles with a tiny random-weight U-Net — Node engine (wasm) ranking,
oracle corrections through the project's writer, fine-tuning, export, Dice."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, ebhi_dir, torch_mod, node_tfjs, repo_root):
    from jupyterlab_uga.export import export_tfjs, make_metadata
    from jupyterlab_uga.network import UNetConfig, build_model

    sys.path.insert(0, str(repo_root / "bench" / "replicate"))
    import replicate

    tmp = tmp_path_factory.mktemp("replicate")
    torch_mod.manual_seed(0)
    net = build_model(UNetConfig(widths=[4, 8], dropout=0.3))
    export_tfjs(net, tmp / "model", make_metadata({"mean": [0.6, 0.4, 0.7], "std": [0.2, 0.2, 0.15]}, name="tiny"))
    result = replicate.main([
        "--data", str(ebhi_dir), "--model", str(tmp / "model"),
        "--pool-limit", "4", "--test-limit", "3", "--replay-limit", "4",
        "--k", "0,2", "--seeds", "1", "--samples", "3", "--steps", "2", "--crop", "64",
        "--patch-size", "112", "--threads", "1", "--work", str(tmp / "work"),
        "--out-json", str(tmp / "out" / "replication.json"), "--out-md", str(tmp / "out" / "replication.md"),
        "--out-png", str(tmp / "out" / "replication.png"),
    ])
    return result, tmp


def test_results_json_has_one_row_per_run(smoke):
    result, tmp = smoke
    assert json.loads((tmp / "out" / "replication.json").read_text())["results"] == result["results"]
    runs = {(r["strategy"], r["k"], r["seed"]) for r in result["results"]}
    assert runs == {(s, k, 0) for s in ("entropy", "mutual_information", "uga_score", "random") for k in (0, 2)}
    for r in result["results"]:
        assert 0.0 <= r["dice_fg"] <= 1.0 and 0.0 <= r["dice_bg"] <= 1.0
        assert r["dice"] == pytest.approx((r["dice_fg"] + r["dice_bg"]) / 2)
    k0 = {r["dice"] for r in result["results"] if r["k"] == 0}
    assert len(k0) == 1  # the same starting model for every strategy
    md = (tmp / "out" / "replication.md").read_text()
    assert "| UGA score" in md and "K = 2" in md
    assert (tmp / "out" / "replication.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_engine_rankings_follow_their_scores(smoke):
    result, tmp = smoke
    ranking = json.loads((tmp / "work" / "engine-ranking.json").read_text())
    assert ranking["backend"] == "wasm" and ranking["samples"] == 3 and ranking["perTile"] == 4
    for strategy in ("entropy", "mutual_information", "uga_score"):
        picked = ranking["rankings"][strategy]
        assert len(picked) == 2
        assert picked[0]["score"] >= picked[1]["score"]
        for p in picked:
            assert p["width"] == p["height"] == 112
            if strategy == "entropy":
                assert p["score"] == pytest.approx(p["meanEntropy"])
            elif strategy == "mutual_information":
                assert p["score"] == pytest.approx(p["meanMutualInformation"])
            else:  # an entropy average with weights in [1, 2]: a normalised entropy
                assert 0.0 <= p["score"] <= 1.0
    # the best entropy patch is at least as uncertain as any tile's mean
    assert ranking["rankings"]["entropy"][0]["score"] >= max(t["meanEntropy"] for t in ranking["tiles"]) - 1e-6


def test_oracle_corrections_folder_and_finetuned_model(smoke, ebhi_dir):
    from jupyterlab_uga.corrections import load_corrections
    from jupyterlab_uga.data import read_mask
    from jupyterlab_uga.export import load_tfjs
    from jupyterlab_uga.train import Normalizer

    import replicate

    result, tmp = smoke
    folder = tmp / "work" / "uga_score-seed0.uga"
    corr = load_corrections(folder)
    assert len(corr) == 2
    picked = result["selections"]["uga_score"]["0"][:2]
    for i, sel in enumerate(picked):
        x, y, w, h = sel["box"]
        gt = read_mask(ebhi_dir / "target-dev" / "masks" / sel["image"])
        inside = corr.masks[i, y : y + h, x : x + w]
        assert np.array_equal(inside, gt[y : y + h, x : x + w])
        outside = corr.masks[i].copy()
        outside[y : y + h, x : x + w] = 0
        assert set(np.unique(outside)) <= {0, 255} and (corr.masks[i] == 255).sum() == 224 * 224 - w * h
    geo = json.loads((folder / "annotations.geojson").read_text())
    assert geo["type"] == "FeatureCollection"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [m["version"] for m in manifest["models"]] == ["2"]
    tuned = load_tfjs(folder / manifest["models"][0]["path"])
    base = load_tfjs(tmp / "model")
    # --train decoder: the encoder is untouched, the last decoder block moved
    for a, b in zip(base.encoders.parameters(), tuned.encoders.parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    assert not np.array_equal(base.head.weight.detach().numpy(), tuned.head.weight.detach().numpy())
    # the reported Dice is the exported model's Dice on the test tiles
    from jupyterlab_uga import data as ebhi

    names = result["setup"]["split"]["test_names"]
    x, y, _ = ebhi.load_split(ebhi_dir / "target-dev", names=names)
    norm = Normalizer.from_dict(tuned.uga_metadata["uga"]["normalization"])
    row = next(r for r in result["results"] if r["strategy"] == "uga_score" and r["k"] == 2)
    assert replicate.evaluate(tuned, norm, x, y)["dice"] == pytest.approx(row["dice"], abs=1e-6)
    # test tiles come from cases never in the pool
    assert not set(result["setup"]["split"]["pool_cases"]) & set(result["setup"]["split"]["test_cases"])
