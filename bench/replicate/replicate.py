"""Replicate the UGA experiment (Khalili et al. 2024) on EBHI-Seg: does
correcting the patches the model is most uncertain about adapt it to a new
domain better than correcting random patches?

    python bench/replicate/replicate.py [--quick] [--data ../shared/data] [--model DIR] ...
    (make bench-replicate  ->  bash bench/bench-replicate.sh)

One run, as a user's would go:
  1. target-dev is split BY CASE (seeded, fixed) into a pool (patches may be
     picked from it) and a test set (never picked);
  2. the tfjs engine (Node, wasm backend: bench/replicate/rank_pool.ts)
     computes MC-dropout uncertainty over every pool tile with the starting
     model and ranks candidate patches per strategy (entropy, mutual
     information, uga_score, and seeded random);
  3. an oracle "corrects" the top K: it copies the ground truth of the patch
     into a corrections folder through the project's writer (manifest.json,
     patches/, masks/ with 255 outside the corrected box, annotations.geojson);
  4. ``finetune`` trains a copy of the starting model on the corrections
     (with source replay) and exports a tfjs model into the folder;
  5. Dice (per class, pooled over all test pixels; headline = mean of
     background and gland) is measured on the test set.
K grows 5 -> 10 -> 20 in one corrections folder per (strategy, seed): the
folder holds the first K patches of the ranking, and every fine-tune starts
from the starting model. Seeds vary the fine-tuning (and random's draw).

Writes the results JSON, a Markdown table and a plot (bench/replicate/report.py)
and ends with one ``key=value`` line.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from jupyterlab_uga import data as ebhi  # noqa: E402
from jupyterlab_uga.corrections import add_patch, model_entry, write_corrections  # noqa: E402
from jupyterlab_uga.metrics import IGNORE_INDEX, dice_per_class  # noqa: E402

GUIDED = ("entropy", "mutual_information", "uga_score")
STRATEGIES = GUIDED + ("random",)
METRIC = (
    "Dice per class pooled over all test pixels (deterministic eval-mode prediction, argmax); "
    "dice = mean of background and gland Dice"
)
MOSAIC_COLUMNS = 32  # pool tiles laid out as one virtual slide, row-major


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------- data

def split_target(root: Path, split_seed: int, pool_fraction: float) -> Tuple[List[str], List[str], List[str], List[str]]:
    """target-dev tile names split by case: (pool names, test names, pool cases, test cases)."""
    by_case: Dict[str, List[str]] = {}
    with open(root / "pairs.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["split"] == "target-dev":
                by_case.setdefault(row["case"], []).append(Path(row["image"]).name)
    cases = sorted(by_case)
    rng = np.random.default_rng(split_seed)
    order = [cases[i] for i in rng.permutation(len(cases))]
    n_pool = int(round(pool_fraction * len(cases)))
    pool_cases, test_cases = sorted(order[:n_pool]), sorted(order[n_pool:])
    pool = sorted(n for c in pool_cases for n in by_case[c])
    test = sorted(n for c in test_cases for n in by_case[c])
    return pool, test, pool_cases, test_cases


def subsample(names: List[str], limit: Optional[int], seed: int) -> List[str]:
    if limit is None or limit >= len(names):
        return names
    rng = np.random.default_rng(seed)
    return sorted(names[i] for i in rng.choice(len(names), limit, replace=False))


# ----------------------------------------------------------------------------- model

def evaluate(net, norm, images: np.ndarray, masks: np.ndarray) -> Dict[str, float]:
    from jupyterlab_uga.train import predict_probs

    pred = predict_probs(net, images, norm, batch_size=8).argmax(-1)
    bg, fg = dice_per_class(pred, masks, 2)
    return {"dice": float(np.nanmean([bg, fg])), "dice_fg": float(fg), "dice_bg": float(bg)}


def run_engine(job: Dict[str, Any], work: Path) -> Dict[str, Any]:
    """Pool uncertainty + rankings from the TypeScript engine (npx tsx, wasm)."""
    job_path = work / "engine-job.json"
    out_path = work / "engine-ranking.json"
    job_path.write_text(json.dumps(job))
    cmd = ["npx", "--no-install", "tsx", str(HERE / "rank_pool.ts"), "--config", str(job_path), "--out", str(out_path)]
    proc = subprocess.run(cmd, cwd=REPO, stdout=sys.stdout, stderr=sys.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"the engine failed (exit {proc.returncode}): {' '.join(cmd)}")
    return json.loads(out_path.read_text())


# ----------------------------------------------------------------------------- oracle

def oracle_patch(tile_image: np.ndarray, tile_mask: np.ndarray, cand: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """What a perfect annotator hands back: the whole tile as the patch image,
    the ground truth inside the suggested box and 255 (ignore) elsewhere."""
    x, y, w, h = int(cand["x"]), int(cand["y"]), int(cand["width"]), int(cand["height"])
    mask = np.full(tile_mask.shape, IGNORE_INDEX, dtype=np.uint8)
    mask[y : y + h, x : x + w] = tile_mask[y : y + h, x : x + w]
    return tile_image, mask


def patch_id(cand: Dict[str, Any]) -> str:
    stem = Path(cand["image"]).stem.replace("__", "-")
    return f"{stem}-{cand['x']}-{cand['y']}"[-120:].lstrip("-_.")


# ----------------------------------------------------------------------------- main

def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="data root or ebhi-seg folder (default $UGA_DATA or ../shared/data)")
    p.add_argument("--model", default=str(REPO / "jupyterlab_uga" / "default_model"), help="starting tfjs model folder")
    p.add_argument("--quick", action="store_true", help="a few minutes: smaller pool/test, 2 seeds, K 0,5,10, T=10")
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--k", default="0,5,10,20", help="numbers of corrected patches")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--samples", type=int, default=20, help="MC-dropout samples T")
    p.add_argument("--patch-size", type=int, default=112, help="corrected patch side (224 = whole tile)")
    p.add_argument("--split-seed", type=int, default=2024)
    p.add_argument("--pool-fraction", type=float, default=0.5, help="share of target-dev cases in the pool")
    p.add_argument("--pool-limit", type=int, default=120, help="use at most N pool tiles (0 = all)")
    p.add_argument("--test-limit", type=int, default=120, help="use at most N test tiles (0 = all)")
    p.add_argument("--steps", type=int, default=20, help="fine-tuning steps")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--replay-ratio", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, default=96, help="random training crop (multiple of 8; 0 = whole tile)")
    p.add_argument("--train", choices=("all", "decoder"), default="decoder",
                   help="what fine-tuning updates: every layer, or the decoder and head only (encoder frozen: cheaper backward)")
    p.add_argument("--replay-limit", type=int, default=None, help="use at most N source-train tiles for replay")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default=None, help="folder for corrections folders and models (default: a temp folder, removed)")
    p.add_argument("--out-json", default=str(REPO / "docs" / "replication.json"))
    p.add_argument("--out-md", default=str(REPO / "docs" / "replication.md"))
    p.add_argument("--out-png", default=str(REPO / "docs" / "replication.png"))
    args = p.parse_args(argv)
    if args.quick:
        args.seeds = min(args.seeds, 2)
        args.k = "0,5,10" if args.k == "0,5,10,20" else args.k
        args.samples = min(args.samples, 10)
        args.pool_limit = min(args.pool_limit or 64, 64)
        args.test_limit = min(args.test_limit or 64, 64)
        args.replay_limit = args.replay_limit or 200
        args.steps = min(args.steps, 20)
    args.pool_limit = args.pool_limit or None
    args.test_limit = args.test_limit or None
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    import torch

    from jupyterlab_uga.export import load_tfjs
    from jupyterlab_uga.finetune import finetune
    from jupyterlab_uga.train import Normalizer

    torch.set_num_threads(args.threads)
    t_start = time.time()
    root = ebhi.ebhi_root(args.data)
    model_dir = Path(args.model).resolve()
    if not (model_dir / "model.json").is_file():
        raise SystemExit(f"no tfjs model at {model_dir} (model.json); pass --model")
    strategies = [s for s in args.strategies.split(",") if s]
    for s in strategies:
        if s not in STRATEGIES:
            raise SystemExit(f"unknown strategy {s}; use {STRATEGIES}")
    ks = sorted({int(k) for k in args.k.split(",")})
    seeds = list(range(args.seeds))
    k_max = max(ks)

    pool, test, pool_cases, test_cases = split_target(root, args.split_seed, args.pool_fraction)
    pool = subsample(pool, args.pool_limit, args.split_seed + 1)
    test = subsample(test, args.test_limit, args.split_seed + 2)
    tgt = root / "target-dev"
    test_x, test_y, _ = ebhi.load_split(tgt, names=test)
    pool_x, pool_y, _ = ebhi.load_split(tgt, names=pool)
    replay = ebhi.load_split(root / "source-train", args.replay_limit)[:2]
    log(
        f"data {root}: pool {len(pool)} tiles ({len(pool_cases)} cases), test {len(test)} tiles ({len(test_cases)} cases), "
        f"replay {len(replay[0])} source tiles; model {model_dir}"
    )

    base = load_tfjs(model_dir)
    if args.train == "decoder":
        # finetune() deep-copies the model and optimises only parameters that require grad.
        for module in (base.encoders, base.bottleneck):
            for prm in module.parameters():
                prm.requires_grad_(False)
    norm = Normalizer.from_dict(base.uga_metadata["uga"]["normalization"])
    base_scores = evaluate(base, norm, test_x, test_y)
    log(f"K=0 (starting model) test dice {base_scores['dice']:.4f} (fg {base_scores['dice_fg']:.4f}, bg {base_scores['dice_bg']:.4f})")
    # Where the starting model is wrong on the pool: to judge what each strategy picked.
    from jupyterlab_uga.train import predict_probs

    pool_wrong = predict_probs(base, pool_x, norm, batch_size=8).argmax(-1) != pool_y

    work_tmp = None
    if args.work:
        work = Path(args.work).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work_tmp = tempfile.TemporaryDirectory(prefix="uga-replicate-")
        work = Path(work_tmp.name)

    t_engine = time.time()
    job = {
        "model": str(model_dir),
        "images": [str(tgt / "images" / n) for n in pool],
        "samples": args.samples,
        "mcSeed": args.split_seed,
        "patchSize": args.patch_size,
        "stride": args.patch_size // 2,
        "strategies": strategies,
        "randomSeeds": seeds,
        "count": k_max,
        "backend": "wasm",
    }
    engine = run_engine(job, work) if k_max > 0 else {"rankings": {}, "seconds": 0.0, "samples": args.samples}
    engine_seconds = time.time() - t_engine
    log(f"engine pass over the pool: {engine_seconds:.1f} s")

    slide = {
        "path": f"ebhi-seg/target-dev (pool: {len(pool)} tiles as a virtual mosaic, {MOSAIC_COLUMNS} per row)",
        "width": MOSAIC_COLUMNS * pool_x.shape[2],
        "height": ((len(pool) + MOSAIC_COLUMNS - 1) // MOSAIC_COLUMNS) * pool_x.shape[1],
        "mpp": base.uga_metadata["uga"].get("mpp"),
    }
    tile_h, tile_w = pool_x.shape[1:3]
    rows: List[Dict[str, Any]] = []
    selections: Dict[str, Any] = {}
    # Seed-major: an interrupted run still has every strategy for its finished seeds.
    runs = [(s, seed) for seed in seeds for s in strategies]
    n_ft = len(runs) * len([k for k in ks if k > 0])
    done = 0
    ft_seconds: List[float] = []
    model_hash = model_entry(model_dir)["hash"]

    def assemble() -> Dict[str, Any]:
        return {
            "metric": METRIC,
            "results": rows,
            "setup": {
                "data": str(root),
                "model": str(model_dir),
                "model_hash": model_hash,
                "split": {"seed": args.split_seed, "pool_fraction": args.pool_fraction, "pool_cases": pool_cases,
                          "test_cases": test_cases, "pool_tiles": len(pool), "test_tiles": len(test), "test_names": test},
                "engine": {"backend": engine.get("backend"), "samples": engine.get("samples"), "cachesPrefix": engine.get("cachesPrefix"),
                           "seconds": round(engine_seconds, 1)},
                "patch_size": args.patch_size,
                "finetune": {"steps": args.steps, "lr": args.lr, "replay_ratio": args.replay_ratio, "batch_size": args.batch_size,
                             "replay_tiles": len(replay[0]), "crop": args.crop or None, "freeze_bn": True,
                             "train": args.train},
                "ks": ks, "seeds": seeds, "strategies": strategies, "quick": bool(args.quick),
                "seconds": round(time.time() - t_start, 1),
                "finetune_seconds_mean": round(float(np.mean(ft_seconds)), 2) if ft_seconds else 0.0,
            },
            "selections": selections,
        }

    for strategy, seed in runs:
        ranking = engine["rankings"].get(strategy, []) if k_max > 0 else []
        if strategy == "random" and k_max > 0:
            ranking = ranking[str(seed)]
        selections.setdefault(strategy, {})[str(seed)] = [
            {"image": Path(c["image"]).name, "box": [c["x"], c["y"], c["width"], c["height"]], "score": c["score"]} for c in ranking
        ]
        folder = work / f"{strategy}-seed{seed}.uga"
        analysis = {"T": int(engine.get("samples", args.samples)), "strategy": strategy, "patchSize": int(tile_w),
                    "mpp": slide["mpp"], "level": 0, "downsample": 1.0}
        write_corrections(folder, slide, model=model_entry(model_dir), analysis=analysis)
        added = 0
        for k in ks:
            if k == 0:
                rows.append({"strategy": strategy, "k": 0, "seed": seed, **base_scores})
                continue
            if len(ranking) < k:
                log(f"{strategy}: only {len(ranking)} ranked patches, K={k} skipped")
                continue
            for cand in ranking[added:k]:
                tile = int(cand["tile"])
                image, mask = oracle_patch(pool_x[tile], pool_y[tile], cand)
                box = [(tile % MOSAIC_COLUMNS) * tile_w, (tile // MOSAIC_COLUMNS) * tile_h, tile_w, tile_h]
                add_patch(folder, id=patch_id(cand), box=box, image=image, mask=mask, score=float(cand["score"]),
                          rank=int(cand["rank"]), status="corrected")
            added = k
            picked = ranking[:k]
            wrong = sum(int(pool_wrong[int(c["tile"]), c["y"] : c["y"] + c["height"], c["x"] : c["x"] + c["width"]].sum()) for c in picked)
            pixels = sum(int(c["width"]) * int(c["height"]) for c in picked)
            fg = sum(int(pool_y[int(c["tile"]), c["y"] : c["y"] + c["height"], c["x"] : c["x"] + c["width"]].sum()) for c in picked)
            net = finetune(
                base, folder, replay=replay, steps=args.steps, lr=args.lr, replay_ratio=args.replay_ratio,
                seed=seed, batch_size=args.batch_size, crop=args.crop or None, threads=args.threads, version=str(k),
            )
            scores = evaluate(net, norm, test_x, test_y)
            ft_seconds.append(net.finetune_info["seconds"])
            rows.append({
                "strategy": strategy, "k": k, "seed": seed, **scores,
                "picked_error_rate": wrong / max(pixels, 1),
                "picked_gland_fraction": fg / max(pixels, 1),
                "picked_tiles": len({int(c["tile"]) for c in picked}),
                "finetune_seconds": net.finetune_info["seconds"],
            })
            done += 1
            log(
                f"[{done}/{n_ft}] {strategy} seed {seed} K={k}: dice {scores['dice']:.4f} "
                f"(fg {scores['dice_fg']:.4f}, bg {scores['dice_bg']:.4f}); picked pixels the model got wrong "
                f"{wrong / max(pixels, 1):.3f}; fine-tune {net.finetune_info['seconds']:.1f} s"
            )
        (work / "partial-results.json").write_text(json.dumps(assemble()))

    result = assemble()
    for path in (args.out_json, args.out_md, args.out_png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out_json).write_text(json.dumps(result, indent=1) + "\n")
    import report

    summary = report.write_reports(result, Path(args.out_md), Path(args.out_png))
    log(f"wrote {args.out_json}, {args.out_md}, {args.out_png} in {time.time() - t_start:.0f} s total")
    print(report.keyvalue_line(result, summary), flush=True)
    if work_tmp is not None:
        work_tmp.cleanup()
    return result


if __name__ == "__main__":
    main()
