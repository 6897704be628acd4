"""ONNX graphs of the engine's model for the onnxruntime-web contenders of `make bench-engine`.

Rebuilds the network from the tfjs model folder with
``jupyterlab_uga.export.load_tfjs`` (same architecture and weights as the
browser engine) and writes, with the legacy TorchScript exporter
(``torch.onnx.export(..., dynamo=False)``; the dynamo exporter would need
onnxscript):

- ``det.onnx``: one deterministic pass (eval mode), x [N, 3, H, W] -> probs [N, C, H, W];
- ``mc.onnx``: the whole network with its Dropout layers active (ONNX
  ``Dropout`` with ``training_mode = true``: onnxruntime draws a new mask on
  every run), BatchNorm in eval mode: naive MC is T runs of it;
- ``prefix.onnx``: everything before the first Dropout (encoders, bottleneck,
  all but the last decoder block, the last block's first conv), x -> feature map;
- ``suffix.onnx``: the rest with its Dropout layers active (dropout, conv, BN,
  ReLU, dropout, 1x1 head, softmax): the prefix/suffix split is prefix once,
  suffix T times — the same split as the browser engine and torch_reference.py.

The batch axis is dynamic. Prints a JSON summary (the files, opset, the
prefix's channel count).

    python bench/engine/onnx_export.py --model DIR --out DIR [--size 224]
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from jupyterlab_uga.export import load_tfjs, metadata_of

OPSET = 17


class Prefix(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.m
        skips = []
        h = x
        for enc in m.encoders:
            h = enc(h)
            skips.append(h)
            h = m.pool(h)
        h = m.bottleneck(h)
        decoders = list(m.decoders)
        for dec, skip in zip(decoders[:-1], list(reversed(skips))[:-1]):
            h = dec(torch.cat([m.up(h), skip], dim=1))
        return decoders[-1].c1(torch.cat([m.up(h), skips[0]], dim=1))


class Suffix(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        m = self.m
        last = m.decoders[-1]
        if last.drop is not None:
            z = F.dropout(z, last.drop.p, training=True)
        z = last.c2(z)
        if m.head_dropout is not None:
            z = F.dropout(z, m.head_dropout.p, training=True)
        return torch.softmax(m.head(z), dim=1)


def mc_mode(model: nn.Module) -> None:
    """Eval everywhere (BatchNorm on running statistics) except Dropout."""
    model.eval()
    for mod in model.modules():
        if isinstance(mod, nn.Dropout):
            mod.train()


def export(module: nn.Module, x: torch.Tensor, path: Path, name_in: str, name_out: str, training: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (x,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[name_in],
            output_names=[name_out],
            dynamic_axes={name_in: {0: "n"}, name_out: {0: "n"}},
            # PRESERVE keeps each module's own mode: Dropout exported with
            # training_mode = true, BatchNorm as inference BatchNormalization.
            training=torch.onnx.TrainingMode.PRESERVE if training else torch.onnx.TrainingMode.EVAL,
            do_constant_folding=not training,
        )


def ops_of(path: Path) -> dict:
    import onnx

    counts: dict = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=int, default=0, help="patch side; default the model's patchSize")
    a = p.parse_args()
    size = a.size or int(metadata_of(a.model)["patchSize"])
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_tfjs(a.model)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        model.eval()
        export(model, x, out / "det.onnx", "x", "probs", training=False)
        export(Prefix(model), x, out / "prefix.onnx", "x", "prefix", training=False)
        z = Prefix(model)(x)
        mc_mode(model)
        export(model, x, out / "mc.onnx", "x", "probs", training=True)
        export(Suffix(model), z, out / "suffix.onnx", "prefix", "probs", training=True)
        model.eval()
    files = {n: str(out / f"{n}.onnx") for n in ("det", "mc", "prefix", "suffix")}
    summary = {
        "torch": torch.__version__,
        "opset": OPSET,
        "size": size,
        "prefix_channels": int(z.shape[1]),
        "classes": int(model.head.out_channels),
        "files": files,
        "ops": {n: ops_of(Path(f)) for n, f in files.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
