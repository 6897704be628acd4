"""Smoke version of `make bench-replicate` (new-pathology setting): the whole
loop on a handful of real EBHI-Seg tiles with a tiny random-weight U-Net —
target chosen by class and case from pairs.csv, split by case, Node engine
(wasm) ranking at two patch sizes, oracle corrections through the project's
writer, fine-tuning, export, test and pool Dice; plus the pure pieces
(sign test, case exclusion, run plan, Dropout placements, class filter)."""
from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest

STRATS = ("random", "entropy", "mutual_information", "uga_code", "uga_code_diverse")


@pytest.fixture(scope="module")
def replicate_mod(repo_root):
    sys.path.insert(0, str(repo_root / "bench" / "replicate"))
    import replicate

    return replicate


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, ebhi_dir, torch_mod, node_tfjs, replicate_mod):
    from jupyterlab_uga.export import export_tfjs, make_metadata
    from jupyterlab_uga.network import UNetConfig, build_model

    tmp = tmp_path_factory.mktemp("replicate")
    torch_mod.manual_seed(0)
    net = build_model(UNetConfig(widths=[4, 8], dropout=0.3))
    export_tfjs(net, tmp / "model", make_metadata({"mean": [0.6, 0.4, 0.7], "std": [0.2, 0.2, 0.15]}, name="tiny"))
    # An earlier-format results file at the output path: it must survive as the second section.
    (tmp / "out").mkdir()
    old = {"metric": "old", "results": [{"strategy": s, "k": k, "seed": 0, "dice": 0.9, "dice_fg": 0.9, "dice_bg": 0.9}
                                        for s in ("uga_score", "random") for k in (0, 5)], "setup": {"split": {}}}
    (tmp / "out" / "replication.json").write_text(json.dumps(old))
    args = [
        "--data", str(ebhi_dir), "--model", str(tmp / "model"), "--quick",
        "--pool-limit", "4", "--test-limit", "3", "--replay-limit", "4",
        "--k", "0,2", "--seeds", "1", "--samples", "3", "--ft-grid", "1:1e-3,2:1e-3", "--retrain-steps", "2", "--crop", "64",
        "--patch-sizes", "224,112", "--recipes", "ft,retrain", "--threads", "1", "--work", str(tmp / "work"),
        "--dropout-study", str(tmp / "none.json"),
        "--out-json", str(tmp / "out" / "replication.json"), "--out-md", str(tmp / "out" / "replication.md"),
        "--out-png", str(tmp / "out" / "replication.png"),
    ]
    result = replicate_mod.main(args)
    (tmp / "args.json").write_text(json.dumps(args))
    return result, tmp


def test_results_have_every_cell_and_both_readouts(smoke):
    result, tmp = smoke
    saved = json.loads((tmp / "out" / "replication.json").read_text())
    assert saved["setting"] == "new-pathology" and saved["results"] == result["results"]
    main = [r for r in result["results"] if r["strategy"] != "all_pool" and not r["recipe"].startswith("pick:")]
    runs = {(r["patch"], r["strategy"], r["k"], r["recipe"]) for r in main}
    assert runs == {(p, s, 2, rc) for p in (224, 112) for s in STRATS for rc in ("ft", "retrain")}
    for r in result["results"]:
        assert 0.0 <= r["dice_fg"] <= 1.0 and 0.0 <= r["dice_bg"] <= 1.0
        assert r["dice"] == pytest.approx((r["dice_fg"] + r["dice_bg"]) / 2)
    for r in main:
        assert 0.0 <= r["pool_dice"] <= 1.0  # transductive readout present
    # recipe picked on the pool only: the two candidates ran as random K=2 on split 0
    picks = [r for r in result["results"] if r["recipe"].startswith("pick:")]
    assert {r["recipe"] for r in picks} == {"pick:1:1e-3", "pick:2:1e-3"} and all(r["strategy"] == "random" for r in picks)
    assert result["setup"]["ft_recipe"]["steps"] in (1, 2)
    # retrain draws uniformly from source + chosen: 4 replay tiles, 2 patches
    assert all(r["replay_ratio"] == pytest.approx(4 / 6, abs=1e-4) for r in main if r["recipe"] == "retrain")
    ceiling = [r for r in result["results"] if r["strategy"] == "all_pool"]
    assert len(ceiling) == 1 and ceiling[0]["k"] == result["setup"]["splits"]["0"]["pool_tiles"] == 4
    # incremental progress file holds the same rows
    lines = (tmp / "work" / "results.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == result["results"]


def test_report_keeps_the_gtxc_section(smoke):
    result, tmp = smoke
    md = (tmp / "out" / "replication.md").read_text()
    assert "<!-- replication-new-pathology:begin -->" in md and "<!-- replication-results:begin -->" in md
    assert "| UGA code score |" in md and "sign-test p" in md and "K = 2" in md
    assert result["previous"]["setting"] == "ebhi-gtxc" and result["previous"]["metric"] == "old"
    assert (tmp / "out" / "replication.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_split_is_by_case_and_excludes_source_cases(smoke, ebhi_dir):
    result, _ = smoke
    sp = result["setup"]["splits"]["0"]
    assert not set(sp["pool_cases"]) & set(sp["test_cases"])
    with open(ebhi_dir / "pairs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    source = {r["case"] for r in rows if r["split"].startswith("source") and r["class"] in
              ("Normal", "Polyp", "Low-grade IN", "Serrated adenoma")}
    cls = {r["image"].split("/")[-1]: (r["class"], r["case"]) for r in rows}
    for name in sp["test_names"]:
        assert cls[name][0] == "Adenocarcinoma" and cls[name][1] in sp["test_cases"] and cls[name][1] not in source


def test_engine_rankings_per_size_and_diverse_spreads_over_cases(smoke):
    result, tmp = smoke
    ranking = json.loads((tmp / "work" / "split0" / "engine-ranking.json").read_text())
    assert ranking["backend"] == "wasm" and ranking["samples"] == 3
    job = json.loads((tmp / "work" / "split0" / "engine-job.json").read_text())
    for size, per_tile in (("224", 1), ("112", 4)):
        r = ranking["bySize"][size]
        for strategy in ("entropy", "mutual_information", "uga_code"):
            scores = [p["score"] for p in r[strategy]]
            assert scores == sorted(scores, reverse=True) and all(p["width"] == int(size) for p in r[strategy])
        for p in r["entropy"]:
            assert p["score"] == pytest.approx(p["meanEntropy"])
        # uga_code = 100 * count + sum(u): at least the pixel count of one patch for a non-flat map's top patch
        assert r["uga_code"][0]["score"] >= 100
        cases = [job["groups"][p["tile"]] for p in r["uga_code_diverse"]]
        n_cases = len(set(job["groups"]))
        assert len(set(cases[:n_cases])) == min(n_cases, len(cases))  # one patch per case per round
        assert len(r["random"]["0"]) == min(10, 4 * per_tile)


def test_oracle_corrections_and_reported_dice(smoke, ebhi_dir, replicate_mod):
    from jupyterlab_uga.corrections import load_corrections
    from jupyterlab_uga.data import read_mask
    from jupyterlab_uga.export import load_tfjs
    from jupyterlab_uga.train import Normalizer

    result, tmp = smoke
    folder = tmp / "work" / "split0" / "corrections" / "split0-p112-uga_code-k2-seed0-ft.uga"
    corr = load_corrections(folder)
    assert len(corr) == 2
    picked = result["selections"]["split0/112/uga_code"][:2]
    for i, sel in enumerate(picked):
        x, y, w, h = sel["box"]
        gt = read_mask(ebhi_dir / "target-dev" / "masks" / sel["image"])
        assert np.array_equal(corr.masks[i, y: y + h, x: x + w], gt[y: y + h, x: x + w])
        assert (corr.masks[i] == 255).sum() == 224 * 224 - w * h
    manifest = json.loads((folder / "manifest.json").read_text())
    tuned = load_tfjs(folder / manifest["models"][0]["path"])
    names = result["setup"]["splits"]["0"]["test_names"]
    from jupyterlab_uga import data as ebhi

    x, y, _ = ebhi.load_split(ebhi_dir / "target-dev", names=names)
    norm = Normalizer.from_dict(tuned.uga_metadata["uga"]["normalization"])
    row = next(r for r in result["results"] if r["strategy"] == "uga_code" and r["patch"] == 112 and r["recipe"] == "ft")
    assert replicate_mod.evaluate(tuned, norm, x, y)["dice"] == pytest.approx(row["dice"], abs=1e-6)


def test_sign_test_and_plan(replicate_mod):
    assert replicate_mod.sign_test_p(5, 0) == pytest.approx(0.0625)
    assert replicate_mod.sign_test_p(0, 0) == 1.0 and replicate_mod.sign_test_p(3, 3) == 1.0
    assert replicate_mod.sign_test_p(9, 1) == pytest.approx(22 / 1024)
    items = replicate_mod.plan_items("ft/224/10/0-1,retrain/224/10/0,ft/224/10/1-2", ["ft", "retrain"], [224], [0, 10], [0, 1, 2])
    assert items[:3] == [("ft", 224, 10, [0, 1]), ("retrain", 224, 10, [0]), ("ft", 224, 10, [2])]
    assert items[3:] == [("retrain", 224, 10, [1, 2])]  # the rest of the grid follows
    with pytest.raises(SystemExit, match="recipe/patch/K/seeds"):
        replicate_mod.plan_items("ft-224", ["ft"], [224], [10], [0])



def test_report_names_the_cells_that_did_not_finish(replicate_mod):
    import report

    setup = {"seeds": [0, 1], "split_seeds": [0], "ks": [0, 5, 10], "patch_sizes": [224], "strategies": ["random", "entropy"],
             "ft_recipe": {"name": "ft"}, "retrain_recipe": {"name": "retrain"}}
    row = {"recipe": "ft", "patch": 224, "split_seed": 0}
    rows = [{**row, "k": 5, "seed": sd, "strategy": s} for sd in (0, 1) for s in setup["strategies"]]
    rows += [{**row, "k": 10, "seed": 0, "strategy": s} for s in setup["strategies"]]
    rows += [{**row, "k": 10, "seed": 1, "strategy": "random"}]  # entropy of seed 1 missing: the cell is unfinished
    rows += [{**row, "k": 56, "seed": 0, "strategy": "all_pool"}, {**row, "recipe": "pick:1:1e-3", "k": 10, "seed": 0, "strategy": "random"}]
    result = {"setup": setup, "results": rows}
    assert report.grid_size(result) == 2 * 1 * 2 * 2 * 1 * 2
    assert len(report._grid_rows(result)) == 7
    assert report.unfinished_cells(result) == ["ft 224 px K=10 (n=1)", "retrain 224 px K=5 (n=0)", "retrain 224 px K=10 (n=0)"]


def test_select_target_excludes_cases_with_source_tiles(replicate_mod):
    rows = [
        {"split": "source-train", "image": "a.png", "mask": "a.png", "class": "Polyp", "case": "C1"},
        {"split": "target-dev", "image": "b.png", "mask": "b.png", "class": "Adenocarcinoma", "case": "C1"},
        {"split": "target-dev", "image": "c.png", "mask": "c.png", "class": "Adenocarcinoma", "case": "C2"},
        {"split": "target-dev", "image": "d.png", "mask": "d.png", "class": "Polyp", "case": "C3"},
    ]
    target, excluded = replicate_mod.select_target(rows, "Polyp", "Adenocarcinoma", "target-dev")
    assert [r["image"] for r in target] == ["c.png"] and excluded == ["C1"]
    with pytest.raises(SystemExit, match="not in the pairs file"):
        replicate_mod.select_target(rows, "Polyp", "Carcinoid", "target-dev")


def test_dropout_placements(torch_mod):
    from jupyterlab_uga.network import UNetConfig, build_model, mc_predict, mc_predict_cached

    x = torch_mod.rand(1, 3, 16, 16)
    drops = {}
    for at in ("late", "head", "decoder_bottleneck"):
        net = build_model(UNetConfig(widths=[4, 8], dropout=0.3, dropout_at=at))
        drops[at] = sum(isinstance(m, torch_mod.nn.Dropout) for m in net.modules())
        torch_mod.manual_seed(1)
        a = mc_predict(net, x, 3)
        torch_mod.manual_seed(1)
        b = mc_predict_cached(net, x, 3)
        assert torch_mod.allclose(a, b, atol=1e-6)  # the cached path samples the same distribution
        assert (a[0] - a[1]).abs().max() > 0  # and it is stochastic
    assert drops == {"late": 2, "head": 1, "decoder_bottleneck": 3}  # bottleneck + 1 decoder + head at widths [4, 8]
    with pytest.raises(ValueError, match="dropout_at"):
        build_model(UNetConfig(dropout_at="encoder"))


def test_train_class_filter(ebhi_dir):
    from jupyterlab_uga.train import names_by_class

    names = names_by_class(ebhi_dir / "pairs.csv", "source-val", ["Normal", "polyp"])
    assert names and all(n.split("__")[0] in ("normal", "polyp") for n in names)
    with pytest.raises(ValueError, match="not in"):
        names_by_class(ebhi_dir / "pairs.csv", "source-val", ["Carcinoid"])


def test_resume_skips_finished_runs_and_sets_other_models_aside(smoke, replicate_mod):
    result, tmp = smoke
    args = json.loads((tmp / "args.json").read_text())
    results = tmp / "work" / "results.jsonl"
    ranking = tmp / "work" / "split0" / "engine-ranking.json"
    before = results.read_text()
    stamp = ranking.stat().st_mtime_ns
    assert all(r["model_hash"] == result["setup"]["model_hash"] for r in result["results"])
    alien = {**result["results"][-1], "model_hash": "sha256:other", "seed": 99}
    results.write_text(before + json.dumps(alien) + "\n")
    again = replicate_mod.main(args + ["--resume"])
    assert results.read_text() == before  # nothing rerun, nothing added; the other model's row left out
    assert again["results"] == result["results"]
    aside = list((tmp / "work").glob("results-other-model-*.jsonl"))
    assert len(aside) == 1 and json.loads(aside[0].read_text())["seed"] == 99
    assert ranking.stat().st_mtime_ns == stamp  # engine rankings reused, not recomputed
    job = json.loads((tmp / "work" / "split0" / "engine-job.json").read_text())
    moved = {**job, "model": job["model"], "images": ["/elsewhere/" + i.split("/")[-1] for i in job["images"]]}
    assert replicate_mod.same_job(job, moved)  # a checkout elsewhere still reuses them
    assert not replicate_mod.same_job({**job, "modelHash": "sha256:other"}, moved)
    assert not replicate_mod.same_job(job, {**moved, "samples": job["samples"] + 1})


def test_studies_survive_a_rerun_without_their_files(replicate_mod, tmp_path):
    import report

    old = {"setting": "new-pathology", "dropout_study": {"variants": ["kept"]}, "ensemble_study": {"splits": ["old"]}}
    out_json = tmp_path / "replication.json"
    out_json.write_text(json.dumps(old))
    fresh = tmp_path / "ensemble-study.json"
    fresh.write_text(json.dumps({"splits": ["new"]}))
    result = report.attach_studies({"setting": "new-pathology"}, out_json,
                                   {"dropout_study": tmp_path / "missing.json", "ensemble_study": fresh})
    assert result["dropout_study"] == {"variants": ["kept"]}  # no file: the earlier report's copy
    assert result["ensemble_study"] == {"splits": ["new"]}  # a file: it wins
    other = report.attach_studies({"setting": "gtxc"}, out_json, {"dropout_study": tmp_path / "missing.json"})
    assert "dropout_study" not in other  # never carried across settings
