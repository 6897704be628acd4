"""make bench-finetune: tfjs fine-tuning (Node: cpu backend, WebGPU on SwiftShader) next to
jupyterlab_uga.finetune (PyTorch CPU) on the same corrections, interleaved; Dice after N steps of each
on the same test patches.

    .venv/bin/python bench/finetune/bench.py [--rounds 2] [--steps 4] [--batch 4] [--crop 64]
        [--corrections 3] [--webgpu-steps 2] [--webgpu-crop 32] [--threads 2]

Data: the packaged mosaic (jupyterlab_uga/sample/ebhi-target-mosaic.tif, 40 EBHI-Seg target-dev tiles of
224 px with ground truth). The --corrections most uncertain patches (MC-dropout entropy, T=5) are
"corrected" with their ground truth; Dice is measured on the other patches. Both sides: the same steps,
batch, crop, lr 1e-4, no replay, seed 0. Each side runs twice per round: BatchNorm frozen (the browser's
default, as the issue asks) and updated (the Python default, freeze_bn=False). Timings are whole calls (model load to result) / steps. Ends with
one key=value line.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--corrections", type=int, default=3)
    p.add_argument("--webgpu-steps", type=int, default=2)
    p.add_argument("--webgpu-crop", type=int, default=32)
    p.add_argument("--webgpu-batch", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-webgpu", action="store_true")
    args = p.parse_args()
    import tifffile
    import torch
    from PIL import Image

    from jupyterlab_uga.corrections import model_entry, write_corrections
    from jupyterlab_uga.evaluate import load_any, predict_split
    from jupyterlab_uga.finetune import finetune
    from jupyterlab_uga.metrics import dice_summary
    from jupyterlab_uga.train import predict_probs

    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    model_dir = ROOT / "jupyterlab_uga" / "default_model"
    slide_path = ROOT / "jupyterlab_uga" / "sample" / "ebhi-target-mosaic.tif"
    with tifffile.TiffFile(slide_path) as tif:
        slide = tif.pages[0].asarray()
    truth = np.asarray(Image.open(str(slide_path) + ".mask.png"))
    S = 224
    boxes = [(x, y) for y in range(0, slide.shape[0] - S + 1, S) for x in range(0, slide.shape[1] - S + 1, S)]
    images = np.stack([slide[y : y + S, x : x + S] for x, y in boxes])
    masks = np.stack([truth[y : y + S, x : x + S] for x, y in boxes])
    model, norm = load_any(model_dir)
    _, _, ent, _ = predict_split(model, norm, images, samples=5)
    order = np.argsort(-ent.mean(axis=(1, 2)))
    picked, test = order[: args.corrections], np.sort(order[args.corrections :])
    work = Path(tempfile.mkdtemp(prefix="uga-bench-ft-"))
    raw = work / "raw"
    raw.mkdir()
    ids = [f"p{i:03d}" for i in range(1, len(picked) + 1)]
    images[picked].astype(np.uint8).tofile(raw / "images.u8")
    masks[picked].astype(np.uint8).tofile(raw / "masks.u8")
    (raw / "meta.json").write_text(json.dumps({"n": len(picked), "size": S, "ids": ids}))
    folder = work / "mosaic.tif.uga"
    mpp = model.uga_metadata["uga"]["mpp"]
    write_corrections(folder, {"path": "mosaic.tif", "width": slide.shape[1], "height": slide.shape[0], "mpp": mpp},
                      [dict(id=ids[k], box=[boxes[i][0], boxes[i][1], S, S], image=images[i], mask=masks[i], score=1.0, rank=k + 1, status="corrected")
                       for k, i in enumerate(picked)], model=model_entry(model_dir))

    def dice_of(net, nrm) -> float:
        return dice_summary(predict_probs(net, images[test], nrm).argmax(-1), masks[test])["dice_mean"]

    before = dice_of(model, norm)
    rows = {}

    def add(name, seconds, steps, dice, extra=""):
        r = rows.setdefault(name, {"s_per_step": [], "dice": [], "extra": extra})
        r["s_per_step"].append(seconds / steps)
        r["dice"].append(dice)

    def tfjs(backend, steps, batch, crop, tag, bn="frozen"):
        out = work / f"tfjs-{tag}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = ["npx", "tsx", "bench/finetune/tfjs_side.ts", "--backend", backend, "--data", str(raw), "--model", str(model_dir), "--out", str(out),
               "--steps", str(steps), "--batch", str(batch), "--crop", str(crop), "--lr", str(args.lr), "--bn", bn]
        env = dict(os.environ)
        if backend == "webgpu":
            env.setdefault("VK_ICD_FILENAMES", "/usr/lib/chromium/vk_swiftshader_icd.json")
        run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"tfjs side failed:\n{run.stderr[-3000:]}")
        res = json.loads(run.stdout.strip().splitlines()[-1])
        if res["backend"] != backend:
            raise SystemExit(f"asked for {backend}, tfjs ran {res['backend']}")
        net, nrm = load_any(out)
        return res, dice_of(net, nrm)

    def torch_run(steps, batch, crop, freeze):
        tuned = finetune(model_dir, folder, replay=None, steps=steps, lr=args.lr, batch_size=batch, crop=crop, freeze_bn=freeze, export=False, seed=0)
        return tuned.finetune_info["train_seconds"], dice_of(tuned, norm)

    for r in range(args.rounds):
        res, d = tfjs("cpu", args.steps, args.batch, args.crop, f"cpu{r}")
        add("tfjs cpu (BN frozen)", res["seconds"], args.steps, d)
        res, d = tfjs("cpu", args.steps, args.batch, args.crop, f"cpu-bn{r}", bn="update")
        add("tfjs cpu (BN updated)", res["seconds"], args.steps, d)
        s, d = torch_run(args.steps, args.batch, args.crop, True)
        add("torch (BN frozen)", s, args.steps, d)
        s, d = torch_run(args.steps, args.batch, args.crop, False)
        add("torch (BN updated, Python default)", s, args.steps, d)
        print(f"round {r + 1}/{args.rounds} done, load {os.getloadavg()[0]:.2f}", flush=True)
    if not args.no_webgpu and os.path.exists(os.environ.get("VK_ICD_FILENAMES", "/usr/lib/chromium/vk_swiftshader_icd.json")):
        ws, wc, wb = args.webgpu_steps, args.webgpu_crop, args.webgpu_batch
        res, d = tfjs("webgpu", ws, wb, wc, "webgpu")
        add(f"tfjs webgpu SwiftShader ({wb}x{wc}px, {ws} steps)", res["seconds"], ws, d)
        res, d = tfjs("cpu", ws, wb, wc, "cpu-small")
        add(f"tfjs cpu ({wb}x{wc}px, {ws} steps)", res["seconds"], ws, d)
        s, d = torch_run(ws, wb, wc, True)
        add(f"torch BN frozen ({wb}x{wc}px, {ws} steps)", s, ws, d)
    load1 = os.getloadavg()
    print(f"\ncorrections: {len(picked)} mosaic patches (most uncertain), test: {len(test)} other patches; "
          f"steps {args.steps}, batch {args.batch} x {args.crop}px crops, lr {args.lr}, no replay")
    print(f"Dice mean before: {before:.4f}")
    print(f"{'contender':48s} {'s/step (median)':>16s} {'steps/s':>8s} {'Dice after':>11s}")
    for name, r in rows.items():
        med = float(np.median(r["s_per_step"]))
        print(f"{name:48s} {med:16.3f} {1 / med:8.3f} {np.mean(r['dice']):11.4f}")
    a = float(np.median(rows["tfjs cpu (BN frozen)"]["s_per_step"]))
    b = float(np.median(rows["torch (BN frozen)"]["s_per_step"]))
    print(f"\nratio tfjs cpu / torch (same settings, BN frozen): {a / b:.1f}x slower per step")
    print(f"load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} ({os.cpu_count()} cores)")
    shutil.rmtree(work, ignore_errors=True)
    print(f"bench_finetune tfjs_cpu_s_per_step={a:.3f} torch_s_per_step={b:.3f} ratio={a / b:.2f} dice_before={before:.4f} "
          f"dice_tfjs={np.mean(rows['tfjs cpu (BN frozen)']['dice']):.4f} dice_torch={np.mean(rows['torch (BN frozen)']['dice']):.4f}")


if __name__ == "__main__":
    main()
