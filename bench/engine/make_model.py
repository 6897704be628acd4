"""Write a benchmark model when the trained default model is not there yet.

Same architecture as the default model (jupyterlab_uga.network defaults),
random weights and non-trivial BatchNorm statistics, exported with the
package's own tfjs exporter, so tfjs and torch run identical weights.

    python bench/engine/make_model.py OUT_DIR [--patch-size 224]
"""
from __future__ import annotations

import argparse

import torch

from jupyterlab_uga.export import export_tfjs, make_metadata
from jupyterlab_uga.network import build_model


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--patch-size", type=int, default=224)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    model = build_model()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.8, 1.2)
                m.bias.uniform_(-0.1, 0.1)
    model.eval()
    meta = make_metadata({"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}, name="bench-random-unet", patch_size=a.patch_size)
    export_tfjs(model, a.out, meta)
    print(f"wrote {a.out} ({sum(p.numel() for p in model.parameters())} parameters)")


if __name__ == "__main__":
    main()
