"""Replicate the UGA experiment (Khalili et al. 2024) where the model genuinely
fails out of domain: a new pathology it has never seen.

    python bench/replicate/replicate.py [--quick] [--data ../shared/data] [--model CKPT] ...
    (make bench-replicate  ->  bash bench/bench-replicate.sh)

Setting (defaults; every part is an option over pairs.csv's split/class/case columns):
  - the replication model (bench/replicate/train_models.sh) is trained on the
    --source-classes (Normal, Polyp, Low-grade IN, Serrated adenoma) of
    source-train, checkpoint on the same classes of source-val;
  - the target is the --target-classes (Adenocarcinoma) tiles of the
    --target-splits (target-dev) whose case never appears among the source
    tiles; split BY CASE into a pool and a test set (--pool-fraction), once per
    --split-seeds (>= 3 so one lucky split cannot decide).

One run per (split seed, patch size, strategy, K, seed, recipe):
  1. the tfjs engine (Node, wasm: bench/replicate/rank_pool.ts) computes
     MC-dropout maps over every pool tile with the starting model and ranks
     patches per strategy (random, entropy, mutual_information, uga_code =
     100*count(u > 0.8 max u) + sum u, uga_code_diverse = the same score
     spread over cases), for every patch size from one pass;
  2. an oracle writes the top K as corrections (ground truth inside the box,
     255 elsewhere) through the project's writer;
  3. ``finetune`` adapts the starting model (whole network, source replay) —
     recipe "ft" — or "retrain" continues training the source checkpoint on
     source + chosen at the training learning rate;
  4. readouts: held-out test Dice (mean of background and gland Dice, pooled
     over every test pixel; per class and per tissue class too) and the
     paper-faithful transductive pool Dice with the corrected pixels ignored.
Controls: K = 0 (the floor) and all pool tiles annotated (the ceiling).
The fine-tune recipe is picked first, on the pool only (transductive pool
Dice of random K=10 runs), never on the test set.

Progress goes to <work>/results.jsonl (one row per run, appended as it ends),
<work>/partial.json and the reports are rewritten as runs finish, so an
interrupted run keeps what it did; --resume skips runs already in results.jsonl.
Runs are ordered by priority (--order): the headline cells complete for every
seed and split first.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
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

SETTING = "new-pathology"
STRATEGIES = ("random", "entropy", "mutual_information", "uga_code", "uga_code_diverse", "uga_score")
DEFAULT_STRATEGIES = ("random", "entropy", "mutual_information", "uga_code", "uga_code_diverse")
SOURCE_CLASSES = "Normal,Polyp,Low-grade IN,Serrated adenoma"
TARGET_CLASSES = "Adenocarcinoma"
# Committed (bench/replicate/models/late/: model.pt + history.json, ~1 MB, not in the wheel, which packages
# jupyterlab_uga/ only); the tfjs export next to it is regenerated (deterministic, same hash).
DEFAULT_MODEL = HERE / "models" / "late" / "model.pt"
# Committed progress of the full table: results.jsonl (one row per finished run) and the engine rankings
# per split; --resume continues from them in a later session.
DEFAULT_WORK = HERE / "results" / "new-pathology"
QUICK_WORK = HERE / "out" / "run-quick"
METRIC = (
    "Dice per class pooled over all test pixels (deterministic eval-mode prediction, argmax); "
    "dice = mean of background and gland Dice; pool_dice = the same on the pool tiles with the corrected pixels ignored"
)
MOSAIC_COLUMNS = 32  # pool tiles laid out as one virtual slide, row-major
DEFAULT_FT_GRID = "60:1e-3,150:1e-3"
# Headline cell first for 2 seeds, then the patch-size and recipe questions, then more seeds.
DEFAULT_PLAN = ("ft/224/10/0-1,ft/112/10/0-1,retrain/224/10/0,ft/224/10/2-4,ft/112/10/2-4,ft/224/20/0-4,"
                "ft/224/5/0-4,retrain/224/10/1-4,ft/112/20/0-4,ft/112/5/0-4")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> List[float]:
    try:
        return [round(float(v), 2) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


# ----------------------------------------------------------------------------- data

def read_pairs(path: Path) -> List[Dict[str, str]]:
    if not path.is_file():
        raise SystemExit(f"no pairs file at {path} (pass --pairs FILE with columns split, image, mask, class, case)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"split", "image", "mask", "class", "case"}
    if not rows or not need <= set(rows[0]):
        raise SystemExit(f"{path} needs the columns {sorted(need)}; it has {sorted(rows[0]) if rows else 'no rows'}")
    return rows


def _names(spec: str) -> set:
    return {s.strip().lower() for s in spec.split(",") if s.strip()}


def select_target(rows: List[Dict[str, str]], source_classes: str, target_classes: str, target_splits: str,
                  source_splits: str = "source-train,source-val") -> Tuple[List[Dict[str, str]], List[str]]:
    """Target rows (class and split wanted) whose case is not among the source tiles; -> (rows, excluded cases)."""
    src_c, tgt_c, tgt_s, src_s = _names(source_classes), _names(target_classes), _names(target_splits), _names(source_splits)
    known = {r["class"].strip().lower() for r in rows}
    for label, wanted in (("--source-classes", src_c), ("--target-classes", tgt_c)):
        if not wanted or wanted - known:
            raise SystemExit(f"{label}: {sorted(wanted - known) or 'empty'} not in the pairs file's classes {sorted(known)}")
    splits = {r["split"].strip().lower() for r in rows}
    if tgt_s - splits:
        raise SystemExit(f"--target-splits: {sorted(tgt_s - splits)} not in the pairs file's splits {sorted(splits)}")
    train_cases = {r["case"] for r in rows if r["split"].strip().lower() in src_s and r["class"].strip().lower() in src_c}
    cand = [r for r in rows if r["split"].strip().lower() in tgt_s and r["class"].strip().lower() in tgt_c]
    excluded = sorted({r["case"] for r in cand if r["case"] in train_cases})
    target = [r for r in cand if r["case"] not in train_cases]
    if not target:
        raise SystemExit("no target tiles left: every target case also has source tiles")
    return target, excluded


def split_by_case(target: List[Dict[str, str]], split_seed: int, pool_fraction: float):
    """-> (pool rows, test rows, pool cases, test cases); cases never straddle."""
    cases = sorted({r["case"] for r in target})
    if len(cases) < 2:
        raise SystemExit(f"the target has {len(cases)} case(s): need at least 2 to split by case")
    rng = np.random.default_rng(split_seed)
    order = [cases[i] for i in rng.permutation(len(cases))]
    n_pool = min(max(1, int(round(pool_fraction * len(cases)))), len(cases) - 1)
    pool_cases, test_cases = sorted(order[:n_pool]), sorted(order[n_pool:])
    key = lambda r: r["image"]  # noqa: E731
    pool = sorted((r for r in target if r["case"] in set(pool_cases)), key=key)
    test = sorted((r for r in target if r["case"] in set(test_cases)), key=key)
    return pool, test, pool_cases, test_cases


def subsample(rows: List[Dict[str, str]], limit: Optional[int], seed: int) -> List[Dict[str, str]]:
    if limit is None or limit >= len(rows):
        return rows
    rng = np.random.default_rng(seed)
    return [rows[i] for i in sorted(rng.choice(len(rows), limit, replace=False))]


def load_rows(root: Path, rows: List[Dict[str, str]]) -> Tuple[np.ndarray, np.ndarray]:
    images = np.stack([ebhi.read_rgb(root / r["image"]) for r in rows])
    masks = np.stack([ebhi.read_mask(root / r["mask"]) for r in rows])
    return images, masks


# ----------------------------------------------------------------------------- model

def dice_of(pred: np.ndarray, masks: np.ndarray) -> Dict[str, float]:
    bg, fg = dice_per_class(pred, masks, 2)
    return {"dice": float(np.nanmean([bg, fg])), "dice_fg": float(fg), "dice_bg": float(bg)}


def predict(net, norm, images: np.ndarray) -> np.ndarray:
    from jupyterlab_uga.train import predict_probs

    return predict_probs(net, images, norm, batch_size=8).argmax(-1).astype(np.uint8)


def evaluate(net, norm, images: np.ndarray, masks: np.ndarray) -> Dict[str, float]:
    """Headline Dice of a model on tiles (kept for callers of the earlier version)."""
    return dice_of(predict(net, norm, images), masks)


def load_start_model(path: Path):
    """-> (torch UNet, Normalizer, tfjs folder for the engine). A .pt checkpoint is exported once next to itself."""
    from jupyterlab_uga.export import export_tfjs, load_tfjs, make_metadata
    from jupyterlab_uga.train import Normalizer, load_checkpoint

    if (path / "model.json").is_file():
        net = load_tfjs(path)
        return net, Normalizer.from_dict(net.uga_metadata["uga"]["normalization"]), path
    if not path.is_file():
        raise SystemExit(
            f"no replication model at {path}: train it with `bash bench/replicate/train_models.sh` "
            f"(about 15 min) or pass --model (a .pt checkpoint or a tfjs folder)"
        )
    net, norm, ckpt = load_checkpoint(path)
    tfjs = path.parent / "tfjs"
    stamp = tfjs / ".source-mtime"
    if not (tfjs / "model.json").is_file() or not stamp.is_file() or stamp.read_text() != str(path.stat().st_mtime_ns):
        export_tfjs(net, tfjs, make_metadata(norm.to_dict(), name="uga-unet-replication", version=f"epoch{ckpt.get('epoch')}"))
        stamp.write_text(str(path.stat().st_mtime_ns))
    net.uga_metadata = {"uga": {**json.loads((tfjs / "model.json").read_text())["userDefinedMetadata"]["uga"]}}
    return net, norm, tfjs


def same_job(old: Dict[str, Any], new: Dict[str, Any]) -> bool:
    """Whether cached engine rankings answer this job: same settings, same tile names, same model weights
    (by hash: the checkout may sit elsewhere, the tfjs export is regenerated)."""
    from jupyterlab_uga.export import model_hash

    def norm(job: Dict[str, Any]) -> Dict[str, Any]:
        out = {k: v for k, v in job.items() if k not in ("model", "images", "modelHash")}
        out["images"] = [Path(i).name for i in job.get("images", [])]
        return out

    try:
        new_hash = model_hash(Path(new["model"]))
    except Exception:  # noqa: BLE001 - no model there: not the same job
        return False
    return norm(old) == norm(new) and old.get("modelHash", new_hash if old.get("model") == new["model"] else None) == new_hash


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


# ----------------------------------------------------------------------------- statistics

def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test (ties dropped): P(|W - n/2| >= observed) under Binomial(n, 1/2)."""
    from math import comb

    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    p = sum(comb(n, i) for i in range(0, k + 1)) / 2 ** n
    return float(min(1.0, 2 * p))


# ----------------------------------------------------------------------------- options

def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="data root or ebhi-seg folder (default $UGA_DATA or ../shared/data)")
    p.add_argument("--pairs", default=None, help="pairs file with columns split,image,mask,class,case (default <data>/pairs.csv); paths relative to its folder")
    p.add_argument("--source-classes", default=SOURCE_CLASSES, help="classes the model was trained on (their cases are excluded from the target)")
    p.add_argument("--target-classes", default=TARGET_CLASSES, help="e.g. 'Adenocarcinoma,High-grade IN'")
    p.add_argument("--target-splits", default="target-dev", help="splits the target tiles come from")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="starting model: .pt checkpoint or tfjs folder")
    p.add_argument("--quick", action="store_true", help="a few minutes: 1 split, 2 seeds, K 0,5, patch 224, T=10, short fine-tune")
    p.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES))
    p.add_argument("--k", default=None, help="numbers of corrected patches (default 0,5,10,20; --quick 0,5)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--split-seeds", default=None, help="case splits of the target into pool/test (default 0,1,2; --quick 0)")
    p.add_argument("--samples", type=int, default=20, help="MC-dropout samples T")
    p.add_argument("--patch-sizes", default=None, help="corrected patch sides, 224 = whole tile (default 224,112; --quick 224)")
    p.add_argument("--pool-fraction", type=float, default=0.5, help="share of target cases in the pool")
    p.add_argument("--pool-limit", type=int, default=0, help="use at most N pool tiles (0 = all)")
    p.add_argument("--test-limit", type=int, default=0, help="use at most N test tiles (0 = all)")
    p.add_argument("--recipes", default="ft,retrain", help="ft (fine-tune, recipe picked on the pool) and/or retrain")
    p.add_argument("--ft-grid", default=DEFAULT_FT_GRID,
                   help="fine-tune candidates steps:lr; the best transductive pool Dice of random K=10 runs wins (pool only)")
    p.add_argument("--ft-steps", type=int, default=None, help="skip the pick: use this many fine-tune steps (with --ft-lr)")
    p.add_argument("--ft-lr", type=float, default=1e-3)
    p.add_argument("--retrain-steps", type=int, default=150)
    p.add_argument("--retrain-lr", type=float, default=3e-3, help="the training learning rate")
    p.add_argument("--replay-ratio", type=float, default=0.5, help="ft: share of each batch from source tiles")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, default=96, help="random training crop (multiple of 8; 0 = whole tile)")
    p.add_argument("--replay-limit", type=int, default=None, help="use at most N source tiles for replay")
    p.add_argument("--no-ceiling", action="store_true", help="skip the all-pool-annotated control")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--plan", default=DEFAULT_PLAN,
                   help="priority of recipe/patch/K/seeds items (others of the grid follow, ft first); inside an item every "
                        "seed runs over every split seed and strategy, so partial results stay seed-matched")
    p.add_argument("--work", default=None,
                   help="progress (results.jsonl), rankings and corrections folders (default bench/replicate/results/new-pathology, "
                        "committed so --resume continues across sessions; --quick: bench/replicate/out/run-quick)")
    p.add_argument("--resume", action="store_true", help="keep <work>/results.jsonl and skip the runs it has")
    p.add_argument("--keep-folders", action="store_true", help="keep every corrections folder (default: only in --quick)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop starting runs after this long (results so far are written)")
    p.add_argument("--dropout-study", default=str(HERE / "out" / "dropout-study.json"),
                   help="results of bench/replicate/dropout_study.py to include in the report, when present")
    p.add_argument("--ensemble-study", default=str(HERE / "out" / "ensemble-study.json"),
                   help="results of bench/replicate/ensemble_study.py to include in the report, when present")
    p.add_argument("--out-json", default=None, help="default docs/replication.json (--quick: bench/replicate/out/quick/)")
    p.add_argument("--out-md", default=None)
    p.add_argument("--out-png", default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds = min(args.seeds, 2)
        args.k = args.k or "0,5"
        args.split_seeds = args.split_seeds or "0"
        args.patch_sizes = args.patch_sizes or "224"
        args.samples = min(args.samples, 10)
        args.pool_limit = args.pool_limit or 24
        args.test_limit = args.test_limit or 24
        args.replay_limit = args.replay_limit or 64
        if args.ft_grid == DEFAULT_FT_GRID:
            args.ft_grid = "5:1e-3,10:1e-3"
        args.retrain_steps = min(args.retrain_steps, 10)
        args.keep_folders = True
    args.work = args.work or str(QUICK_WORK if args.quick else DEFAULT_WORK)
    out_dir = HERE / "out" / "quick" if args.quick else REPO / "docs"
    args.out_json = args.out_json or str(out_dir / "replication.json")
    args.out_md = args.out_md or str(out_dir / "replication.md")
    args.out_png = args.out_png or str(out_dir / "replication.png")
    args.k = args.k or "0,5,10,20"
    args.split_seeds = args.split_seeds or "0,1,2"
    args.patch_sizes = args.patch_sizes or "224,112"
    args.pool_limit = args.pool_limit or None
    args.test_limit = args.test_limit or None
    return args


# ----------------------------------------------------------------------------- main

class Experiment:
    """Everything one split seed needs, built lazily (data, floor, engine rankings)."""

    def __init__(self, args, root: Path, rows, base, norm, tfjs_dir: Path, work: Path):
        self.args, self.root, self.rows, self.base, self.norm, self.tfjs_dir, self.work = args, root, rows, base, norm, tfjs_dir, work
        self.target, self.excluded = select_target(rows, args.source_classes, args.target_classes, args.target_splits)
        self.splits: Dict[int, Dict[str, Any]] = {}
        self.model_hash = model_entry(tfjs_dir)["hash"]

    def split(self, split_seed: int) -> Dict[str, Any]:
        if split_seed in self.splits:
            return self.splits[split_seed]
        a = self.args
        pool, test, pool_cases, test_cases = split_by_case(self.target, split_seed, a.pool_fraction)
        pool = subsample(pool, a.pool_limit, split_seed + 1)
        test = subsample(test, a.test_limit, split_seed + 2)
        pool_x, pool_y = load_rows(self.root, pool)
        test_x, test_y = load_rows(self.root, test)
        floor_test = predict(self.base, self.norm, test_x)
        floor_pool = predict(self.base, self.norm, pool_x)
        d = {
            "seed": split_seed, "pool": pool, "test": test, "pool_cases": pool_cases, "test_cases": test_cases,
            "pool_x": pool_x, "pool_y": pool_y, "test_x": test_x, "test_y": test_y,
            "pool_wrong": floor_pool != pool_y,
            "test_classes": np.array([r["class"] for r in test]),
        }
        d["floor"] = {**self.readouts(floor_test, d, floor_pool, []), "pool_dice_all": dice_of(floor_pool, pool_y)["dice"]}
        work = self.work / f"split{split_seed}"
        work.mkdir(parents=True, exist_ok=True)
        ks = [int(k) for k in a.k.split(",")]
        sizes = [int(s) for s in a.patch_sizes.split(",")]
        t0 = time.time()
        cached = work / "engine-ranking.json"
        job = {
            "model": str(self.tfjs_dir), "images": [str(self.root / r["image"]) for r in pool], "samples": a.samples,
            "mcSeed": split_seed, "patchSize": sizes[0], "patchSizes": sizes, "strategies": a.strategy_list,
            "groups": [r["case"] for r in pool], "randomSeeds": list(range(a.seeds)), "count": max(max(ks), 10),
            "backend": "wasm",
        }
        job_file = work / "engine-job.json"
        if a.resume and cached.is_file() and job_file.is_file() and same_job(json.loads(job_file.read_text()), job):
            d["engine"] = json.loads(cached.read_text())
        else:
            d["engine"] = run_engine(job, work)
            d["engine"]["wallSeconds"] = round(time.time() - t0, 1)
            (work / "engine-job.json").write_text(json.dumps({**job, "modelHash": model_entry(self.tfjs_dir)["hash"]}))
            cached.write_text(json.dumps(d["engine"]))
        d["engine_seconds"] = d["engine"].get("wallSeconds", round(time.time() - t0, 1))
        log(
            f"split {split_seed}: pool {len(pool)} tiles / {len(pool_cases)} cases, test {len(test)} tiles / {len(test_cases)} cases; "
            f"floor test dice {d['floor']['dice']:.4f} (fg {d['floor']['dice_fg']:.4f}), pool dice {d['floor']['pool_dice_all']:.4f}; "
            f"engine {d['engine_seconds']} s"
        )
        self.splits[split_seed] = d
        return d

    def readouts(self, test_pred: np.ndarray, d: Dict[str, Any], pool_pred: Optional[np.ndarray], boxes) -> Dict[str, Any]:
        out = dice_of(test_pred, d["test_y"])
        classes = sorted(set(d["test_classes"]))
        if len(classes) > 1:
            out["dice_by_class"] = {c: dice_of(test_pred[d["test_classes"] == c], d["test_y"][d["test_classes"] == c])["dice"] for c in classes}
        if pool_pred is not None:
            masked = d["pool_y"].copy()
            for tile, x, y, w, h in boxes:
                masked[tile, y : y + h, x : x + w] = IGNORE_INDEX
            if (masked != IGNORE_INDEX).any():
                pd = dice_of(pool_pred, masked)
                out.update(pool_dice=pd["dice"], pool_dice_fg=pd["dice_fg"])
        return out

    def ranking(self, d, size: int, strategy: str, seed: int) -> List[Dict[str, Any]]:
        eng = d["engine"]
        r = eng["bySize"][str(size)][strategy] if "bySize" in eng else eng["rankings"][strategy]
        return r[str(seed)] if strategy == "random" else r

    def run(self, split_seed: int, size: int, strategy: str, k: int, seed: int, recipe: Dict[str, Any]) -> Dict[str, Any]:
        from jupyterlab_uga.finetune import finetune

        a = self.args
        d = self.split(split_seed)
        pool_x, pool_y = d["pool_x"], d["pool_y"]
        tile_h, tile_w = pool_x.shape[1:3]
        if strategy == "all_pool":
            picked = [{"tile": i, "image": r["image"], "x": 0, "y": 0, "width": tile_w, "height": tile_h, "score": 0.0, "rank": i + 1}
                      for i, r in enumerate(d["pool"])]
        else:
            picked = self.ranking(d, size, strategy, seed)[:k]
            if len(picked) < k:
                raise RuntimeError(f"{strategy}: only {len(picked)} ranked patches of {size} px for K={k}")
        name = f"split{split_seed}-p{size}-{strategy}-k{k}-seed{seed}-{recipe['name']}"
        folder = self.work / f"split{split_seed}" / "corrections" / f"{name}.uga"
        if folder.exists():
            shutil.rmtree(folder)
        slide = {
            "path": f"pool of split {split_seed} ({len(d['pool'])} tiles as a virtual mosaic, {MOSAIC_COLUMNS} per row)",
            "width": MOSAIC_COLUMNS * tile_w,
            "height": ((len(d["pool"]) + MOSAIC_COLUMNS - 1) // MOSAIC_COLUMNS) * tile_h,
            "mpp": self.base.uga_metadata["uga"].get("mpp"),
        }
        # patchSize = the stored patch image (the whole tile); the box inside it is what was corrected.
        analysis = {"T": int(a.samples), "strategy": strategy, "patchSize": int(tile_w), "mpp": slide["mpp"], "level": 0, "downsample": 1.0}
        write_corrections(folder, slide, model=model_entry(self.tfjs_dir), analysis=analysis)
        boxes = []
        for cand in picked:
            tile = int(cand["tile"])
            image, mask = oracle_patch(pool_x[tile], pool_y[tile], cand)
            box = [(tile % MOSAIC_COLUMNS) * tile_w, (tile // MOSAIC_COLUMNS) * tile_h, tile_w, tile_h]
            add_patch(folder, id=patch_id(cand), box=box, image=image, mask=mask, score=float(cand["score"]),
                      rank=int(cand["rank"]), status="corrected")
            boxes.append((tile, int(cand["x"]), int(cand["y"]), int(cand["width"]), int(cand["height"])))
        wrong = sum(int(d["pool_wrong"][t, y : y + h, x : x + w].sum()) for t, x, y, w, h in boxes)
        fg = sum(int(pool_y[t, y : y + h, x : x + w].sum()) for t, x, y, w, h in boxes)
        pixels = sum(w * h for _, _, _, w, h in boxes)
        n_src = len(self.replay[0])
        # retrain: chosen patches drawn as often as any source tile (uniform over source + chosen).
        ratio = recipe["replay_ratio"] if recipe.get("replay_ratio") is not None else n_src / (n_src + len(boxes))
        net = finetune(
            self.base, folder, replay=self.replay, steps=recipe["steps"], lr=recipe["lr"], replay_ratio=ratio,
            seed=seed, batch_size=a.batch_size, crop=a.crop or None, threads=a.threads, version=str(k),
            export=bool(a.keep_folders),
        )
        both = predict(net, self.norm, np.concatenate([d["test_x"], pool_x]))
        test_pred, pool_pred = both[: len(d["test_x"])], both[len(d["test_x"]):]
        row = {
            "split_seed": split_seed, "patch": size, "strategy": strategy, "k": k, "seed": seed, "recipe": recipe["name"],
            **self.readouts(test_pred, d, None if strategy == "all_pool" else pool_pred, boxes),
            "picked_error_rate": wrong / max(pixels, 1), "picked_gland_fraction": fg / max(pixels, 1),
            "picked_tiles": len({b[0] for b in boxes}),
            "picked_cases": len({d["pool"][b[0]]["case"] for b in boxes}),
            "finetune_seconds": net.finetune_info["seconds"], "steps": recipe["steps"], "lr": recipe["lr"],
            "replay_ratio": round(ratio, 4), "load": loadavg(), "model_hash": self.model_hash,
        }
        if not a.keep_folders:
            shutil.rmtree(folder, ignore_errors=True)
        return row


def plan_items(plan: str, recipes: List[str], sizes: List[int], ks: List[int], seeds: List[int]) -> List[Tuple[str, int, int, List[int]]]:
    """(recipe, patch, K, seeds) in run order: the plan's items within the grid, then the rest of the grid."""
    items: List[Tuple[str, int, int, List[int]]] = []
    covered = set()
    for item in [i for i in plan.split(",") if i.strip()]:
        try:
            recipe, size, k, span = item.strip().split("/")
            lo, _, hi = span.partition("-")
            want = list(range(int(lo), int(hi or lo) + 1))
            size, k = int(size), int(k)
        except ValueError:
            raise SystemExit(f"--plan item {item!r}: use recipe/patch/K/seeds, e.g. ft/224/10/0-4")
        got = [s for s in want if s in seeds and (recipe, size, k, s) not in covered]
        if recipe in recipes and size in sizes and k in ks and k > 0 and got:
            items.append((recipe, size, k, got))
            covered.update((recipe, size, k, s) for s in got)
    for recipe in recipes:
        for size in sizes:
            for k in ks:
                rest = [s for s in seeds if k > 0 and (recipe, size, k, s) not in covered]
                if rest:
                    items.append((recipe, size, k, rest))
                    covered.update((recipe, size, k, s) for s in rest)
    return items


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t_start = time.time()
    root = ebhi.ebhi_root(args.data)
    pairs = Path(args.pairs) if args.pairs else root / "pairs.csv"
    rows = read_pairs(pairs)
    root = pairs.parent  # image/mask paths in the pairs file are relative to it
    args.strategy_list = [s for s in args.strategies.split(",") if s]
    for s in args.strategy_list:
        if s not in STRATEGIES:
            raise SystemExit(f"unknown strategy {s}; use {STRATEGIES}")
    if "random" not in args.strategy_list:
        raise SystemExit("the strategies must include random (the comparison every readout is against)")
    ks = sorted({int(k) for k in args.k.split(",")})
    sizes = [int(s) for s in args.patch_sizes.split(",")]
    split_seeds = [int(s) for s in args.split_seeds.split(",")]
    seeds = list(range(args.seeds))
    recipes_wanted = [r for r in args.recipes.split(",") if r]
    for r in recipes_wanted:
        if r not in ("ft", "retrain"):
            raise SystemExit(f"unknown recipe {r}; use ft, retrain")

    base, norm, tfjs_dir = load_start_model(Path(args.model).resolve())
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    exp = Experiment(args, root, rows, base, norm, tfjs_dir, work)
    # Replay = the source tiles the model was trained on (the same classes of source-train).
    src_rows = [r for r in rows if r["split"] == "source-train" and r["class"].strip().lower() in _names(args.source_classes)]
    if args.replay_limit:
        src_rows = subsample(src_rows, args.replay_limit, 7)
    exp.replay = load_rows(root, src_rows)
    log(f"target: {len(exp.target)} tiles of {args.target_classes} in {args.target_splits} "
        f"({len({r['case'] for r in exp.target})} cases; {len(exp.excluded)} cases excluded: they have source tiles); "
        f"replay {len(src_rows)} source tiles; model {args.model}; load {loadavg()}")

    results_path = work / "results.jsonl"
    done_rows: List[Dict[str, Any]] = []
    if args.resume and results_path.is_file():
        done_rows = [json.loads(line) for line in results_path.read_text().splitlines() if line.strip()]
        other = [r for r in done_rows if r.get("model_hash") != exp.model_hash]
        if other:
            # Rows of another starting model answer another question: set them aside, never mix them in.
            aside = results_path.with_name(f"results-other-model-{int(time.time())}.jsonl")
            aside.write_text("".join(json.dumps(r) + "\n" for r in other))
            done_rows = [r for r in done_rows if r.get("model_hash") == exp.model_hash]
            results_path.write_text("".join(json.dumps(r) + "\n" for r in done_rows))
            log(f"--resume: {len(other)} rows of another model moved to {aside.name}; {len(done_rows)} kept")
        log(f"--resume: {len(done_rows)} runs already in {results_path}")
    elif results_path.exists():
        results_path.unlink()
    done_keys = {(r["split_seed"], r["patch"], r["strategy"], r["k"], r["seed"], r["recipe"]) for r in done_rows}
    picks: List[Dict[str, Any]] = [r for r in done_rows if r["recipe"].startswith("pick:")]
    rows_out: List[Dict[str, Any]] = list(done_rows)
    deadline = t_start + args.max_minutes * 60 if args.max_minutes else None
    state = {"stopped": None}

    def record(row: Dict[str, Any]) -> None:
        rows_out.append(row)
        with open(results_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def go(split_seed, size, strategy, k, seed, recipe) -> Optional[Dict[str, Any]]:
        key = (split_seed, size, strategy, k, seed, recipe["name"])
        if key in done_keys:
            return next(r for r in rows_out if (r["split_seed"], r["patch"], r["strategy"], r["k"], r["seed"], r["recipe"]) == key)
        if deadline and time.time() > deadline:
            state["stopped"] = f"--max-minutes {args.max_minutes} reached"
            return None
        row = exp.run(split_seed, size, strategy, k, seed, recipe)
        record(row)
        done_keys.add(key)
        pool_txt = f", pool {row['pool_dice']:.4f}" if "pool_dice" in row else ""
        log(f"[{len(rows_out)}] split {split_seed} {size}px {strategy} K={k} seed {seed} {recipe['name']}: test dice {row['dice']:.4f} "
            f"(fg {row['dice_fg']:.4f}){pool_txt}; picked wrong {row['picked_error_rate']:.3f}; {row['finetune_seconds']:.0f} s; load {row['load']}")
        return row

    def write(final: bool = False) -> Dict[str, Any]:
        result = assemble(args, exp, rows_out, ft_recipe, retrain_recipe, ks, sizes, split_seeds, seeds, t_start, state)
        (work / "partial.json").write_text(json.dumps(result))
        if final:
            import report

            for path in (args.out_json, args.out_md, args.out_png):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            result = report.attach_previous(result, Path(args.out_json))
            result = report.attach_studies(result, Path(args.out_json), {"dropout_study": Path(args.dropout_study),
                                                                          "ensemble_study": Path(args.ensemble_study)})
            Path(args.out_json).write_text(json.dumps(result, indent=1) + "\n")
            report.write_reports(result, Path(args.out_md), Path(args.out_png))
        return result

    # 1. the fine-tune recipe, picked on the pool only: random K=10 (or the largest K), 224 px, split 0, seeds 0-1.
    ft_recipe = retrain_recipe = None
    retrain_recipe = {"name": "retrain", "steps": args.retrain_steps, "lr": args.retrain_lr, "replay_ratio": None}
    s0 = split_seeds[0]
    exp.split(s0)
    if "ft" in recipes_wanted:
        if args.ft_steps:
            ft_recipe = {"name": "ft", "steps": args.ft_steps, "lr": args.ft_lr, "replay_ratio": args.replay_ratio}
        else:
            k_pick = 10 if 10 in ks else max(ks)
            scores = {}
            for cand in args.ft_grid.split(","):
                steps, lr = cand.split(":")
                rec = {"name": f"pick:{steps}:{lr}", "steps": int(steps), "lr": float(lr), "replay_ratio": args.replay_ratio}
                got = [go(s0, sizes[0], "random", k_pick, sd, {**rec}) for sd in seeds[:2]]
                got = [g for g in got if g]
                if got:
                    scores[cand] = float(np.mean([g["pool_dice"] for g in got]))
            if not scores:
                raise SystemExit("no recipe candidate finished")
            best = max(scores, key=scores.get)
            steps, lr = best.split(":")
            ft_recipe = {"name": "ft", "steps": int(steps), "lr": float(lr), "replay_ratio": args.replay_ratio,
                         "picked_from": scores, "picked_on": f"transductive pool Dice, random K={k_pick}, {sizes[0]} px, split {s0}, seeds 0-1"}
            log(f"fine-tune recipe picked on the pool: {best} (pool Dice per candidate {scores})")
    write()
    main_recipe = ft_recipe or retrain_recipe
    # 2. floor (K = 0) per split is measured when the split is built; ceiling = every pool tile annotated.
    for ss in split_seeds:
        exp.split(ss)
        if not args.no_ceiling:
            go(ss, 224, "all_pool", len(exp.split(ss)["pool"]), 0, main_recipe)
        write()
    # 3. the table, item by item of the plan; strategies innermost so every finished seed is a matched set.
    recipes = {"ft": ft_recipe, "retrain": retrain_recipe}
    for recipe, size, k, item_seeds in plan_items(args.plan, recipes_wanted, sizes, ks, seeds):
        for seed in item_seeds:
            for ss in split_seeds:
                for strategy in args.strategy_list:
                    go(ss, size, strategy, k, seed, recipes[recipe])
            write()
    result = write(final=True)
    import report

    log(f"wrote {args.out_json}, {args.out_md}, {args.out_png} in {time.time() - t_start:.0f} s total"
        f"{'; ' + state['stopped'] if state['stopped'] else ''}")
    print(report.keyvalue_line(result), flush=True)
    return result


def assemble(args, exp, rows_out, ft_recipe, retrain_recipe, ks, sizes, split_seeds, seeds, t_start, state) -> Dict[str, Any]:
    splits = {}
    for ss, d in exp.splits.items():
        splits[str(ss)] = {
            "pool_cases": d["pool_cases"], "test_cases": d["test_cases"], "pool_tiles": len(d["pool"]), "test_tiles": len(d["test"]),
            "test_names": [Path(r["image"]).name for r in d["test"]], "floor": d["floor"], "engine_seconds": d["engine_seconds"],
            "engine": {k: d["engine"].get(k) for k in ("backend", "samples", "cachesPrefix", "seconds")},
        }
    selections = {}
    for ss, d in exp.splits.items():
        for size in sizes:
            for strat in args.strategy_list:
                for seed in (seeds if strat == "random" else [0]):
                    r = exp.ranking(d, size, strat, seed)[: max(ks)]
                    selections[f"split{ss}/{size}/{strat}" + (f"/{seed}" if strat == "random" else "")] = [
                        {"image": Path(c["image"]).name, "box": [c["x"], c["y"], c["width"], c["height"]], "score": c["score"]} for c in r]
    return {
        "setting": SETTING,
        "setting_text": (
            f"model trained on {args.source_classes} of source-train (checkpoint on the same classes of source-val); "
            f"target = {args.target_classes} tiles of {args.target_splits} from cases with no source tile, split by case "
            f"into pool and test ({args.pool_fraction:.0%} of cases in the pool)"
        ),
        "metric": METRIC,
        "results": rows_out,
        "setup": {
            "data": str(exp.root), "model": str(args.model), "model_hash": model_entry(exp.tfjs_dir)["hash"],
            "source_classes": args.source_classes, "target_classes": args.target_classes, "target_splits": args.target_splits,
            "excluded_cases": exp.excluded, "target_tiles": len(exp.target), "splits": splits,
            "samples": args.samples, "patch_sizes": sizes, "ks": ks, "seeds": seeds, "split_seeds": split_seeds,
            "strategies": args.strategy_list, "ft_recipe": ft_recipe, "retrain_recipe": retrain_recipe,
            "batch_size": args.batch_size, "crop": args.crop or None, "replay_tiles": len(exp.replay[0]), "threads": args.threads,
            "quick": bool(args.quick), "seconds": round(time.time() - t_start, 1), "stopped": state["stopped"],
            "command": "bash bench/bench-replicate.sh " + " ".join(sys.argv[1:]) if __name__ == "__main__" else None,
        },
        "selections": selections,
    }


if __name__ == "__main__":
    main()
