"""Is a deep ensemble's uncertainty worth more than MC dropout's on the replication model?

    python bench/replicate/ensemble_study.py [--members CKPT,CKPT,...] [--finetune] [--quick]

Members (default): the replication model (bench/replicate/models/late, seed 0) plus the
models `ENSEMBLE=N bash bench/replicate/train_models.sh` trains with seeds 1..N-1 on the same
classes and recipe (bench/replicate/out/models/ensemble/seed-<s>). As in the UGA code the
ensemble's map is predictive entropy of the mean plus the mean KL of each member to the mean
(KL = H(mean) - mean H(member), the ensemble's mutual information).

Per case split of replicate.py's setting (pool / test by case), torch, eval mode:
  - error-detection AUROC of MC dropout (the base model, T samples: entropy, MI) and of the
    ensemble (entropy, KL), each for the errors of its own mean prediction, and all four for
    the base model's deterministic errors — the pixels a correction would fix;
  - the share of the base model's wrong pixels inside the top-K whole tiles (224 px) of each
    ranking (mean of the map over the tile; `ens_uga_code` = the UGA code's score on the
    normalised entropy + KL map), against random tiles (mean of 5 draws), and how many cases
    the picks cover;
  - test Dice (mean of background and gland) of the base model and of the ensemble mean.
Cost: an ensemble of N costs N full deterministic passes per tile (no shared prefix),
MC dropout T = 20 costs ~3.1 passes in the engine (prefix cached; docs/replication.md).
--finetune also runs the selection: replicate.py's fine-tune (its picked recipe) from the base
model on the ensemble's top-K tiles, every split and seed, compared seed-matched with the
random rows of bench/replicate/results/new-pathology/results.jsonl (same split, seed, K, recipe).
Writes a JSON (--out) the replication report includes (`ensemble_study`).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import replicate  # noqa: E402
from jupyterlab_uga import data as ebhi  # noqa: E402
from jupyterlab_uga.metrics import mc_uncertainty, uncertainty_auroc  # noqa: E402

LN2 = float(np.log(2.0))


def ensemble_maps(probs: np.ndarray) -> Dict[str, np.ndarray]:
    """probs [M, N, H, W, C] of M members -> mean probs, entropy of the mean, mean KL to the mean
    (the same algebra as MC dropout's BALD: KL = H(mean) - mean H(member))."""
    u = mc_uncertainty(probs)
    return {"mean": u["mean"].astype(np.float32), "entropy": u["entropy"].astype(np.float32),
            "kl": u["mutual_information"].astype(np.float32)}


def uga_code_tile_score(u: np.ndarray) -> float:
    """The UGA code's score of one patch (here a whole tile): 100 * count(u > 0.8 max u) + sum(u)."""
    return float(100 * np.count_nonzero(u > 0.8 * u.max()) + u.sum())


def rank_tiles(scores: np.ndarray) -> List[int]:
    """Tile indices, best first; ties by index so the order is reproducible."""
    return [int(i) for i in np.lexsort((np.arange(len(scores)), -np.asarray(scores)))]


def wrong_share(wrong: np.ndarray, tiles: List[int]) -> float:
    return float(wrong[tiles].mean()) if tiles else 0.0


def member_probs(member, x: np.ndarray) -> np.ndarray:
    """Softmax probabilities [N, H, W, C] of one loaded member (net, norm), eval mode."""
    import torch

    net, norm = member
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), 8):
            t = norm(torch.from_numpy(np.ascontiguousarray(x[i : i + 8])).permute(0, 3, 1, 2).float())
            out.append(net(t).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def default_members() -> List[Path]:
    extra = sorted((HERE / "out" / "models" / "ensemble").glob("seed-*/model.pt"))
    return [HERE / "models" / "late" / "model.pt", *extra]


def main(argv=None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", default=None, help="comma-separated .pt checkpoints; the first is the base model")
    p.add_argument("--data", default=None)
    p.add_argument("--pairs", default=None)
    p.add_argument("--source-classes", default=replicate.SOURCE_CLASSES)
    p.add_argument("--target-classes", default=replicate.TARGET_CLASSES)
    p.add_argument("--target-splits", default="target-dev")
    p.add_argument("--split-seeds", default="0,1,2")
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--finetune", action="store_true", help="also fine-tune on the ensemble's picks (replicate.py's recipe)")
    p.add_argument("--strategies", default="ens_kl,ens_uga_code", help="ensemble rankings to fine-tune on (--finetune)")
    p.add_argument("--seeds", type=int, default=5, help="fine-tune seeds (--finetune)")
    p.add_argument("--results", default=str(replicate.DEFAULT_WORK / "results.jsonl"), help="the random rows to compare with")
    p.add_argument("--quick", action="store_true", help="8 pool / 8 test tiles, T = 5, 1 split (pipeline check)")
    p.add_argument("--out", default=str(HERE / "out" / "ensemble-study.json"))
    a = p.parse_args(argv)
    import torch

    from jupyterlab_uga.evaluate import predict_split

    torch.set_num_threads(a.threads)
    members = [Path(m) for m in a.members.split(",")] if a.members else default_members()
    if len(members) < 2:
        raise SystemExit(f"an ensemble needs >= 2 members; found {[str(m) for m in members]} "
                         "(train them: OUT=bench/replicate/out/models ONLY_MAIN=1 ENSEMBLE=3 bash bench/replicate/train_models.sh)")
    split_seeds = [int(s) for s in a.split_seeds.split(",")][: 1 if a.quick else None]
    samples = min(a.samples, 5) if a.quick else a.samples
    root = ebhi.ebhi_root(a.data)
    pairs = Path(a.pairs) if a.pairs else root / "pairs.csv"
    rows = replicate.read_pairs(pairs)
    root = pairs.parent
    target, _ = replicate.select_target(rows, a.source_classes, a.target_classes, a.target_splits)
    loaded = [replicate.load_start_model(m)[:2] for m in members]  # once: every split reuses them
    base_net, base_norm = loaded[0]
    out: Dict[str, Any] = {
        "members": [str(m) for m in members], "samples": samples, "k": a.k, "load_start": replicate.loadavg(),
        "text": (f"Deep ensemble of {len(members)} replication models (same classes and recipe, seeds 0-{len(members) - 1}; "
                 f"member 0 = the replication model) vs MC dropout of the replication model (T = {samples}): error-detection "
                 f"AUROC on the pool, each map for its own mean prediction's errors and for the replication model's "
                 f"deterministic errors; picked px wrong = share of the replication model's errors in the top {a.k} whole "
                 f"tiles of each ranking (tile mean of the map; random: mean of 5 draws). Cost: MC T = 20 ~3.1 "
                 f"deterministic passes (engine, prefix cached), the ensemble {len(members)} passes."),
        "splits": [],
    }
    for ss in split_seeds:
        t0 = time.time()
        pool, test, _, _ = replicate.split_by_case(target, ss, 0.5)
        if a.quick:
            pool, test = replicate.subsample(pool, 8, ss + 1), replicate.subsample(test, 8, ss + 2)
        pool_x, pool_y = replicate.load_rows(root, pool)
        test_x, test_y = replicate.load_rows(root, test)
        det, mc_mean, mc_ent, mc_mi = predict_split(base_net, base_norm, pool_x, samples, seed=ss)
        base_wrong = det.argmax(-1) != pool_y
        mc_pred = mc_mean.argmax(-1)
        ens_pool = ensemble_maps(np.stack([member_probs(m, pool_x) for m in loaded]))
        ens_test = np.stack([member_probs(m, test_x) for m in loaded]).mean(0)
        ens_pred = ens_pool["mean"].argmax(-1)
        cases = [r["case"] for r in pool]
        maps = {"mc_entropy": mc_ent, "mc_mi": mc_mi, "ens_entropy": ens_pool["entropy"], "ens_kl": ens_pool["kl"]}
        own = {"mc_entropy": mc_pred, "mc_mi": mc_pred, "ens_entropy": ens_pred, "ens_kl": ens_pred}
        rankings = {name: rank_tiles(m.reshape(len(m), -1).mean(1)) for name, m in maps.items()}
        u = (ens_pool["entropy"] + ens_pool["kl"]) / LN2
        rankings["ens_uga_code"] = rank_tiles(np.array([uga_code_tile_score(t) for t in u]))
        picked = {name: {"wrong": wrong_share(base_wrong, r[: a.k]), "cases": len({cases[t] for t in r[: a.k]}),
                         "tiles": r[: a.k]} for name, r in rankings.items()}
        draws = [list(np.random.default_rng(1000 + s).permutation(len(pool))[: a.k]) for s in range(5)]
        picked["random"] = {"wrong": float(np.mean([wrong_share(base_wrong, d) for d in draws])),
                            "cases": float(np.mean([len({cases[t] for t in d}) for d in draws]))}
        split = {
            "split_seed": ss, "pool_tiles": len(pool), "test_tiles": len(test),
            "pool_error_rate_base": float(base_wrong.mean()),
            "test_dice_base": replicate.dice_of(replicate.predict(base_net, base_norm, test_x), test_y)["dice"],
            "test_dice_ensemble": replicate.dice_of(ens_test.argmax(-1), test_y)["dice"],
            "pool_dice_ensemble": replicate.dice_of(ens_pred, pool_y)["dice"],
            "auroc_own": {name: uncertainty_auroc(m, own[name], pool_y) for name, m in maps.items()},
            "auroc_base_errors": {name: uncertainty_auroc(m, det.argmax(-1), pool_y) for name, m in maps.items()},
            "mean": {name: float(m.mean()) for name, m in maps.items()},
            "picked": picked, "seconds": round(time.time() - t0, 1), "load": replicate.loadavg(),
        }
        out["splits"].append(split)
        print(f"split {ss}: test dice base {split['test_dice_base']:.4f} ensemble {split['test_dice_ensemble']:.4f}; AUROC own "
              f"{ {k: round(v, 3) for k, v in split['auroc_own'].items()} }; picked wrong "
              f"{ {k: round(v['wrong'], 3) for k, v in picked.items()} }; load {split['load']}", flush=True)
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=1))
    if a.finetune:
        out["finetune"] = run_finetunes(a, members[0], rows, root, out)
        Path(a.out).write_text(json.dumps(out, indent=1))
    return out


def run_finetunes(a, base_ckpt: Path, rows, root: Path, out: Dict[str, Any]) -> Dict[str, Any]:
    """replicate.py's fine-tune from the base model on the ensemble's top-K tiles; seed-matched vs its random rows."""
    done = [json.loads(x) for x in Path(a.results).read_text().splitlines() if x.strip()] if Path(a.results).is_file() else []
    picks = [r for r in done if r["recipe"].startswith("pick:")]
    rargs = replicate.parse_args(["--model", str(base_ckpt), "--samples", str(out["samples"]),
                                  "--work", str(Path(a.out).parent / "ensemble-work"), "--resume"])
    rargs.strategy_list = ["random"]
    base, norm, tfjs_dir = replicate.load_start_model(base_ckpt)
    work = Path(rargs.work)
    work.mkdir(parents=True, exist_ok=True)
    # The committed engine rankings of the grid: reused (same job), so no engine run is needed here.
    for ss in {s["split_seed"] for s in out["splits"]}:
        src = Path(a.results).parent / f"split{ss}"
        if src.is_dir():
            (work / f"split{ss}").mkdir(exist_ok=True)
            for name in ("engine-job.json", "engine-ranking.json"):
                if (src / name).is_file():
                    shutil.copy(src / name, work / f"split{ss}" / name)
    exp = replicate.Experiment(rargs, root, rows, base, norm, tfjs_dir, work)
    src_rows = [r for r in rows if r["split"] == "source-train" and r["class"].strip().lower() in replicate._names(rargs.source_classes)]
    exp.replay = replicate.load_rows(root, src_rows)
    ft = {"name": "ft", "steps": 150, "lr": 1e-3, "replay_ratio": rargs.replay_ratio}
    if picks:  # the recipe the grid picked on the pool
        best = max(picks, key=lambda r: r["pool_dice"])
        ft.update(steps=int(best["steps"]), lr=float(best["lr"]))
    randoms = {(r["split_seed"], r["seed"]): r for r in done
               if r["recipe"] == "ft" and r["strategy"] == "random" and int(r["patch"]) == 224 and int(r["k"]) == a.k}
    got: List[Dict[str, Any]] = []
    for split in out["splits"]:
        ss = split["split_seed"]
        d = exp.split(ss)
        tile_h, tile_w = d["pool_x"].shape[1:3]
        for strategy in [s for s in a.strategies.split(",") if s]:
            tiles = split["picked"][strategy]["tiles"]
            d["engine"].setdefault("bySize", {}).setdefault("224", {})[strategy] = [
                {"tile": t, "image": d["pool"][t]["image"], "x": 0, "y": 0, "width": tile_w, "height": tile_h, "score": 0.0, "rank": i + 1}
                for i, t in enumerate(tiles)]
            for seed in range(a.seeds):
                row = exp.run(ss, 224, strategy, a.k, seed, ft)
                ref = randoms.get((ss, seed))
                row["random_dice"] = ref["dice"] if ref else None
                row["random_pool_dice"] = ref.get("pool_dice") if ref else None
                got.append(row)
                print(f"finetune split {ss} {strategy} seed {seed}: test dice {row['dice']:.4f} (random {row['random_dice']}), "
                      f"pool {row.get('pool_dice', float('nan')):.4f}; load {row['load']}", flush=True)
    summary = {}
    for strategy in [s for s in a.strategies.split(",") if s]:
        rs = [r for r in got if r["strategy"] == strategy and r["random_dice"] is not None]
        diffs = [r["dice"] - r["random_dice"] for r in rs]
        pdiffs = [r["pool_dice"] - r["random_pool_dice"] for r in rs if r.get("random_pool_dice") is not None]
        summary[strategy] = {
            "n": len(rs), "dice": float(np.mean([r["dice"] for r in rs])) if rs else None,
            "mean_diff": float(np.mean(diffs)) if diffs else None, "wins": sum(x > 0 for x in diffs),
            "p": replicate.sign_test_p(sum(x > 0 for x in diffs), sum(x < 0 for x in diffs)),
            "pool_mean_diff": float(np.mean(pdiffs)) if pdiffs else None, "pool_wins": sum(x > 0 for x in pdiffs),
            "pool_p": replicate.sign_test_p(sum(x > 0 for x in pdiffs), sum(x < 0 for x in pdiffs)),
        }
    return {"recipe": ft, "rows": got, "summary": summary}


if __name__ == "__main__":
    main()
