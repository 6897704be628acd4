"""What Dropout placement makes the MC-dropout map worth, on the replication model.

    python bench/replicate/dropout_study.py [--models bench/replicate/models] [--quick]

Variants (bench/replicate/train_models.sh): the replication model fine-tuned
the same number of steps with Dropout (p = 0.2) at
  late               the shipped placement: last decoder block + before the head
  head               before the 1x1 head only
  decoder_bottleneck the bottleneck, every decoder block and the head.
On the pool of the first case split of replicate.py's setting, per variant:
  - error-detection AUROC of predictive entropy and of mutual information
    (torch, T samples; pixels the MC-mean prediction gets wrong);
  - mean MI (how much signal MI carries at all);
  - T-sample cost in deterministic passes, measured in the engine (Node,
    wasm, prefix cached), T-sample and 1-sample passes interleaved per chunk;
  - the selection: share of the pixels the variant gets wrong inside its top-K
    entropy / MI / UGA-code / random patches (engine ranking), i.e. how well
    each map points at the errors; no fine-tune (replicate.py does that).
Writes a JSON the replication report includes (--out).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import replicate  # noqa: E402
from jupyterlab_uga import data as ebhi  # noqa: E402
from jupyterlab_uga.metrics import uncertainty_auroc  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=str(HERE / "models"))
    p.add_argument("--variants", default="ft-late,ft-head,ft-decoder_bottleneck")
    p.add_argument("--data", default=None)
    p.add_argument("--pairs", default=None)
    p.add_argument("--source-classes", default=replicate.SOURCE_CLASSES)
    p.add_argument("--target-classes", default=replicate.TARGET_CLASSES)
    p.add_argument("--target-splits", default="target-dev")
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--pool-limit", type=int, default=0, help="at most N pool tiles (0 = all)")
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--patch-size", type=int, default=224)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(HERE / "out" / "dropout-study.json"))
    a = p.parse_args(argv)
    import torch

    from jupyterlab_uga.evaluate import predict_split

    torch.set_num_threads(a.threads)
    if a.quick:
        a.pool_limit = a.pool_limit or 8
        a.samples = min(a.samples, 5)
    root = ebhi.ebhi_root(a.data)
    pairs = Path(a.pairs) if a.pairs else root / "pairs.csv"
    rows = replicate.read_pairs(pairs)
    root = pairs.parent
    target, _ = replicate.select_target(rows, a.source_classes, a.target_classes, a.target_splits)
    pool, test, _, _ = replicate.split_by_case(target, a.split_seed, 0.5)
    pool = replicate.subsample(pool, a.pool_limit or None, a.split_seed + 1)
    pool_x, pool_y = replicate.load_rows(root, pool)
    test_x, test_y = replicate.load_rows(root, test)
    out = {"split_seed": a.split_seed, "pool_tiles": len(pool), "test_tiles": len(test), "samples": a.samples, "k": a.k,
           "patch_size": a.patch_size, "variants": [], "load_start": replicate.loadavg()}
    base = Path(a.models) / "late" / "model.pt"
    if base.is_file():
        import hashlib

        out["base_model_sha256"] = hashlib.sha256(base.read_bytes()).hexdigest()
    out["text"] = (f"Dropout placement on the replication model (each variant fine-tuned from it for the same steps with "
                   f"Dropout p=0.2 moved; base checkpoint sha256 {out.get('base_model_sha256', '?')[:12]}…), pool of split "
                   f"{a.split_seed} ({len(pool)} tiles), T = {a.samples}: AUROC of each map for the pixels the MC-mean prediction "
                   f"gets wrong; cost = engine wall time of T samples / 1 sample (wasm, prefix cached, interleaved); picked px "
                   f"wrong = share of the deterministic prediction's errors inside the top {a.k} patches of {a.patch_size} px "
                   f"(random: mean of 5 draws).")
    work = Path(a.out).parent / "dropout-work"
    work.mkdir(parents=True, exist_ok=True)
    for name in [v for v in a.variants.split(",") if v]:
        ckpt = Path(a.models) / name / "model.pt"
        if not ckpt.is_file():
            print(f"{name}: no {ckpt}, skipped", flush=True)
            continue
        t0 = time.time()
        net, norm, tfjs = replicate.load_start_model(ckpt)
        det_test = replicate.predict(net, norm, test_x)
        det, mean, ent, mi = predict_split(net, norm, pool_x, a.samples, seed=a.split_seed)
        pred_mc = mean.argmax(-1)
        wrong_det = det.argmax(-1) != pool_y
        job = {"model": str(tfjs), "images": [str(root / r["image"]) for r in pool], "samples": a.samples, "mcSeed": a.split_seed,
               "patchSize": a.patch_size, "strategies": ["random", "entropy", "mutual_information", "uga_code"],
               "randomSeeds": list(range(5)), "count": a.k, "backend": "wasm", "timeDeterministic": True}
        vw = work / name
        vw.mkdir(exist_ok=True)
        eng = replicate.run_engine(job, vw)

        def wrong_share(picks):
            w = sum(int(wrong_det[c["tile"], c["y"]: c["y"] + c["height"], c["x"]: c["x"] + c["width"]].sum()) for c in picks)
            return w / max(1, sum(c["width"] * c["height"] for c in picks))

        picked = {s: wrong_share(eng["rankings"][s]) for s in ("entropy", "mutual_information", "uga_code")}
        picked["random"] = float(np.mean([wrong_share(v) for v in eng["rankings"]["random"].values()]))
        v = {
            "name": name.replace("ft-", ""), "checkpoint": str(ckpt),
            "dice": replicate.dice_of(det_test, test_y)["dice"],
            "pool_dice": replicate.dice_of(det.argmax(-1), pool_y)["dice"],
            "pool_error_rate": float(wrong_det.mean()),
            "auroc_entropy": uncertainty_auroc(ent, pred_mc, pool_y),
            "auroc_mutual_information": uncertainty_auroc(mi, pred_mc, pool_y),
            "mean_entropy": float(ent.mean()), "mean_mutual_information": float(mi.mean()),
            "t20_cost_passes": float(eng["mcSeconds"] / max(eng["detSeconds"], 1e-9)),
            "engine_mc_seconds": round(eng["mcSeconds"], 2), "engine_det_seconds": round(eng["detSeconds"], 2),
            "caches_prefix": eng["cachesPrefix"], "picked_wrong": picked, "seconds": round(time.time() - t0, 1),
            "load": replicate.loadavg(),
        }
        out["variants"].append(v)
        print(f"{v['name']}: test dice {v['dice']:.4f}, pool error {v['pool_error_rate']:.3f}; AUROC entropy {v['auroc_entropy']:.3f} "
              f"MI {v['auroc_mutual_information']:.3f}; mean MI {v['mean_mutual_information']:.4f}; T={a.samples} = "
              f"{v['t20_cost_passes']:.2f} passes; picked wrong {picked}; load {v['load']}", flush=True)
        Path(a.out).write_text(json.dumps(out, indent=1))
    Path(a.out).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
