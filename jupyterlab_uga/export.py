"""Export the U-Net to a TensorFlow.js LayersModel, and load one back.

Written by us from the Keras functional-model JSON format that
``tf.loadLayersModel`` reads (no TensorFlow / tensorflowjs needed):

- ``model.json``: ``format: "layers-model"``, ``modelTopology`` (Keras
  functional config, channels-last), ``weightsManifest``, ``userDefinedMetadata``.
- ``group1-shard1of1.bin``: float32 little-endian weights in manifest order.

Conv kernels go OIHW (torch) -> HWIO (Keras); BatchNorm exports gamma, beta,
moving_mean, moving_variance with the same epsilon. The model outputs softmax
probabilities [N, H, W, C].

    python -m jupyterlab_uga.export --checkpoint runs/default/model.pt --out jupyterlab_uga/default_model

torch is imported inside functions; ``model_hash``/``read_model_json`` work without it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

FORMAT_VERSION = 1
WEIGHTS_FILE = "group1-shard1of1.bin"
TFJS_LAYERS_VERSION = "4.22.0"
# EBHI-Seg does not state its pixel size. Estimated from anatomy in the tiles:
# normal colonic crypt cross-sections have a median equivalent diameter of
# ~63 px (222 crypts) against ~60-75 um in tissue -> ~1.0-1.2 um/px. See
# docs/model-card.md.
EBHI_MPP_ESTIMATE = 1.1
DEFAULT_CLASSES = [
    {"name": "Background", "color": [0, 0, 0]},
    {"name": "Gland", "color": [220, 40, 40]},
]


class ExportError(ValueError):
    pass


# ----------------------------------------------------------------------------- metadata

def make_metadata(
    normalization: Dict[str, Any],
    name: str = "uga-unet-ebhi",
    version: str = "1",
    classes: Optional[List[Dict[str, Any]]] = None,
    foreground_class: int = 1,
    mpp: float = EBHI_MPP_ESTIMATE,
    patch_size: int = 224,
    **extra: Any,
) -> Dict[str, Any]:
    """The ``userDefinedMetadata`` object the engine parses: ``{"uga": {...}}``."""
    uga = {
        "formatVersion": FORMAT_VERSION,
        "name": name,
        "version": str(version),
        "classes": [dict(c) for c in (classes or DEFAULT_CLASSES)],
        "foregroundClass": int(foreground_class),
        "mpp": float(mpp),
        "patchSize": int(patch_size),
        "normalization": {
            "scale": float(normalization.get("scale", 1.0 / 255.0)),
            "mean": [float(v) for v in normalization["mean"]],
            "std": [float(v) for v in normalization["std"]],
        },
        "output": "softmax",
    }
    uga.update(extra)
    return {"uga": uga}


def _check_metadata(metadata: Dict[str, Any]) -> Dict[str, Any]:
    md = metadata if "uga" in metadata else {"uga": metadata}
    uga = md["uga"]
    required = ["formatVersion", "name", "version", "classes", "foregroundClass", "mpp", "patchSize", "normalization", "output"]
    missing = [k for k in required if k not in uga]
    if missing:
        raise ExportError(f"metadata.uga is missing {missing} (build it with make_metadata)")
    norm = uga["normalization"]
    if len(norm.get("mean", [])) != 3 or len(norm.get("std", [])) != 3 or "scale" not in norm:
        raise ExportError("metadata.uga.normalization needs scale, mean[3], std[3]")
    for c in uga["classes"]:
        if "name" not in c or len(c.get("color", [])) != 3:
            raise ExportError(f"class entry {c!r} needs name and color [r, g, b]")
    return json.loads(json.dumps(md))  # plain JSON types only


# ----------------------------------------------------------------------------- graph

class _Graph:
    """Collects Keras layer configs and named weights while walking the U-Net."""

    def __init__(self) -> None:
        self.layers: List[Dict[str, Any]] = []
        self.weights: List[Tuple[str, np.ndarray]] = []

    def add(self, class_name: str, name: str, config: Dict[str, Any], inputs: List[str]) -> str:
        cfg = {"name": name, "trainable": True, "dtype": "float32", **config}
        self.layers.append(
            {
                "class_name": class_name,
                "config": cfg,
                "name": name,
                "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else [],
            }
        )
        return name

    def conv(self, name: str, conv, x: str, activation: str = "linear") -> str:
        w = conv.weight.detach().cpu().numpy().astype(np.float32)  # O, I, kh, kw
        out_ch, _, kh, kw = w.shape
        if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1:
            raise ExportError(f"{name}: only stride 1, dilation 1, groups 1 convolutions export")
        if kh > 1 and tuple(conv.padding) != (kh // 2, kw // 2):
            raise ExportError(f"{name}: only 'same' padding exports")
        use_bias = conv.bias is not None
        self.add(
            "Conv2D",
            name,
            {
                "filters": int(out_ch),
                "kernel_size": [int(kh), int(kw)],
                "strides": [1, 1],
                "padding": "same",
                "data_format": "channels_last",
                "dilation_rate": [1, 1],
                "activation": activation,
                "use_bias": use_bias,
                "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                "bias_initializer": {"class_name": "Zeros", "config": {}},
                "kernel_regularizer": None,
                "bias_regularizer": None,
                "activity_regularizer": None,
                "kernel_constraint": None,
                "bias_constraint": None,
            },
            [x],
        )
        self.weights.append((f"{name}/kernel", np.ascontiguousarray(w.transpose(2, 3, 1, 0))))
        if use_bias:
            self.weights.append((f"{name}/bias", conv.bias.detach().cpu().numpy().astype(np.float32)))
        return name

    def bn(self, name: str, bn, x: str) -> str:
        if not (bn.affine and bn.track_running_stats):
            raise ExportError(f"{name}: BatchNorm must be affine with running stats")
        self.add(
            "BatchNormalization",
            name,
            {
                "axis": -1,
                "momentum": 0.99,
                "epsilon": float(bn.eps),
                "center": True,
                "scale": True,
                "beta_initializer": {"class_name": "Zeros", "config": {}},
                "gamma_initializer": {"class_name": "Ones", "config": {}},
                "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
                "moving_variance_initializer": {"class_name": "Ones", "config": {}},
                "beta_regularizer": None,
                "gamma_regularizer": None,
                "beta_constraint": None,
                "gamma_constraint": None,
            },
            [x],
        )
        for key, t in (
            ("gamma", bn.weight),
            ("beta", bn.bias),
            ("moving_mean", bn.running_mean),
            ("moving_variance", bn.running_var),
        ):
            self.weights.append((f"{name}/{key}", t.detach().cpu().numpy().astype(np.float32)))
        return name

    def act(self, name: str, activation: str, x: str) -> str:
        return self.add("Activation", name, {"activation": activation}, [x])

    def dropout(self, name: str, rate: float, x: str) -> str:
        return self.add("Dropout", name, {"rate": float(rate), "noise_shape": None, "seed": None}, [x])

    def block(self, prefix: str, block, x: str) -> str:
        x = self.conv(f"{prefix}_c1_conv", block.c1.conv, x)
        x = self.bn(f"{prefix}_c1_bn", block.c1.bn, x)
        x = self.act(f"{prefix}_c1_relu", "relu", x)
        if block.drop is not None:
            x = self.dropout(f"{prefix}_dropout", block.drop.p, x)
        x = self.conv(f"{prefix}_c2_conv", block.c2.conv, x)
        x = self.bn(f"{prefix}_c2_bn", block.c2.bn, x)
        return self.act(f"{prefix}_c2_relu", "relu", x)


def _walk_unet(model) -> _Graph:
    """Mirror UNet.forward_logits + softmax as Keras layers (same order, same maths)."""
    g = _Graph()
    cin = model.config.in_channels
    x = g.add(
        "InputLayer",
        "input",
        {"batch_input_shape": [None, None, None, int(cin)], "sparse": False},
        [],
    )
    skips = []
    for i, enc in enumerate(model.encoders):
        x = g.block(f"enc{i}", enc, x)
        skips.append(x)
        x = g.add(
            "MaxPooling2D",
            f"enc{i}_pool",
            {"pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"},
            [x],
        )
    x = g.block("bottleneck", model.bottleneck, x)
    for i, (dec, skip) in enumerate(zip(model.decoders, reversed(skips))):
        up = g.add(
            "UpSampling2D",
            f"dec{i}_up",
            {"size": [2, 2], "data_format": "channels_last", "interpolation": "nearest"},
            [x],
        )
        cat = g.add("Concatenate", f"dec{i}_concat", {"axis": -1}, [up, skip])
        x = g.block(f"dec{i}", dec, cat)
    if model.head_dropout is not None:
        x = g.dropout("head_dropout", model.head_dropout.p, x)
    x = g.conv("head", model.head, x)
    g.act("softmax", "softmax", x)
    return g


def _topology(g: _Graph, model_name: str) -> Dict[str, Any]:
    return {
        "class_name": "Functional",
        "config": {
            "name": model_name,
            "layers": g.layers,
            "input_layers": [[g.layers[0]["name"], 0, 0]],
            "output_layers": [[g.layers[-1]["name"], 0, 0]],
        },
        "keras_version": f"tfjs-layers {TFJS_LAYERS_VERSION}",
        "backend": "tensor_flow.js",
    }


# ----------------------------------------------------------------------------- write

def _write_atomic_dir(out_dir: Path, files: Dict[str, bytes]) -> None:
    """Write files into a temp folder next to out_dir, then swap it in."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a model folder is shared data
    try:
        for name, data in files.items():
            with open(tmp / name, "wb") as f:  # plain open: default permissions
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.rmdir(old)
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def export_tfjs(model, out_dir: os.PathLike, metadata: Dict[str, Any], model_name: str = "uga_unet") -> Dict[str, Any]:
    """Write ``model`` (a jupyterlab_uga.network.UNet) as a tfjs LayersModel.

    ``metadata`` is ``make_metadata(...)`` (``{"uga": {...}}``) or the inner
    ``uga`` dict. Returns the model.json dict. The folder is replaced atomically.
    """
    import torch

    md = _check_metadata(metadata)
    with torch.no_grad():
        g = _walk_unet(model)
    blobs, entries = [], []
    for name, arr in g.weights:
        arr = np.asarray(arr, dtype="<f4")
        entries.append({"name": name, "shape": list(arr.shape), "dtype": "float32"})
        blobs.append(arr.tobytes(order="C"))
    model_json = {
        "format": "layers-model",
        "generatedBy": f"torch {torch.__version__}",
        "convertedBy": "jupyterlab_uga.export",
        "modelTopology": _topology(g, model_name),
        "weightsManifest": [{"paths": [WEIGHTS_FILE], "weights": entries}],
        "userDefinedMetadata": md,
    }
    _write_atomic_dir(
        Path(out_dir),
        {"model.json": json.dumps(model_json, indent=1).encode("utf-8"), WEIGHTS_FILE: b"".join(blobs)},
    )
    return model_json


# ----------------------------------------------------------------------------- read

def read_model_json(model_dir: os.PathLike) -> Dict[str, Any]:
    path = Path(model_dir) / "model.json" if Path(model_dir).is_dir() else Path(model_dir)
    with open(path, "r", encoding="utf-8") as f:
        mj = json.load(f)
    if mj.get("format") != "layers-model":
        raise ExportError(f"{path}: not a tfjs layers-model (format={mj.get('format')!r})")
    return mj


def model_hash(model_dir: os.PathLike) -> str:
    """sha256 over model.json bytes followed by every weight shard in manifest order."""
    model_dir = Path(model_dir)
    h = hashlib.sha256()
    raw = (model_dir / "model.json").read_bytes()
    h.update(raw)
    for group in json.loads(raw)["weightsManifest"]:
        for p in group["paths"]:
            h.update((model_dir / p).read_bytes())
    return "sha256:" + h.hexdigest()


def read_weights(model_dir: os.PathLike, model_json: Optional[Dict[str, Any]] = None) -> Dict[str, np.ndarray]:
    model_dir = Path(model_dir)
    mj = model_json or read_model_json(model_dir)
    out: Dict[str, np.ndarray] = {}
    for group in mj["weightsManifest"]:
        buf = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            if w.get("dtype", "float32") != "float32" or "quantization" in w:
                raise ExportError(f"weight {w['name']}: only unquantized float32 is supported")
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            end = offset + 4 * n
            if end > len(buf):
                raise ExportError(f"weight {w['name']}: shard data too short")
            out[w["name"]] = np.frombuffer(buf[offset:end], dtype="<f4").reshape(w["shape"]).copy()
            offset = end
        if offset != len(buf):
            raise ExportError(f"weight shards hold {len(buf) - offset} unused bytes")
    return out


def _infer_config(layers: List[Dict[str, Any]]):
    from .network import UNetConfig

    by = {l["name"]: l for l in layers}
    widths = []
    i = 0
    while f"enc{i}_c1_conv" in by:
        widths.append(by[f"enc{i}_c1_conv"]["config"]["filters"])
        i += 1
    if not widths or "bottleneck_c1_conv" not in by or "head" not in by:
        raise ExportError("model.json is not a jupyterlab_uga U-Net (missing enc*/bottleneck/head layers)")
    widths.append(by["bottleneck_c1_conv"]["config"]["filters"])
    rate = by["head_dropout"]["config"]["rate"] if "head_dropout" in by else 0.0
    return UNetConfig(
        in_channels=by["input"]["config"]["batch_input_shape"][-1],
        num_classes=by["head"]["config"]["filters"],
        widths=widths,
        dropout=float(rate),
        bn_epsilon=float(by["enc0_c1_bn"]["config"]["epsilon"]),
    )


def _strip(layer: Dict[str, Any]) -> Dict[str, Any]:
    return {"class_name": layer["class_name"], "name": layer["name"], "config": layer["config"], "inbound_nodes": layer["inbound_nodes"]}


def load_tfjs(model_dir: os.PathLike):
    """Rebuild the torch U-Net (eval mode) from a tfjs model folder written by export_tfjs.

    The topology is re-derived from the rebuilt network and must match the
    file's layer for layer; weights are loaded by name (HWIO -> OIHW).
    """
    import torch

    from .network import build_model

    model_dir = Path(model_dir)
    mj = read_model_json(model_dir)
    layers = mj["modelTopology"]["config"]["layers"]
    model = build_model(_infer_config(layers))
    g = _walk_unet(model)
    want = [_strip(l) for l in g.layers]
    have = [_strip(l) for l in layers]
    if json.loads(json.dumps(want)) != have:
        diff = next((a["name"], b["name"]) for a, b in zip(want + [{"name": None}] * len(have), have + [{"name": None}] * len(want)) if a != b)
        raise ExportError(f"model.json topology is not the U-Net this package builds (first difference at {diff})")
    weights = read_weights(model_dir, mj)
    expected = {name for name, _ in g.weights}
    if set(weights) != expected:
        raise ExportError(f"weights differ from the topology: missing {sorted(expected - set(weights))}, extra {sorted(set(weights) - expected)}")
    sd = {}
    prefixes = _module_paths(model)
    for keras_layer, module_path in prefixes.items():
        kind = module_path[1]
        if kind == "conv":
            sd[f"{module_path[0]}.weight"] = torch.from_numpy(weights[f"{keras_layer}/kernel"].transpose(3, 2, 0, 1).copy())
            if f"{keras_layer}/bias" in weights:
                sd[f"{module_path[0]}.bias"] = torch.from_numpy(weights[f"{keras_layer}/bias"])
        else:
            for torch_key, keras_key in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"), ("running_var", "moving_variance")):
                sd[f"{module_path[0]}.{torch_key}"] = torch.from_numpy(weights[f"{keras_layer}/{keras_key}"])
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ExportError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    model.eval()
    model.uga_metadata = mj.get("userDefinedMetadata", {})
    model.uga_hash = model_hash(model_dir)  # parent hash for models fine-tuned from this one
    return model


def _module_paths(model) -> Dict[str, Tuple[str, str]]:
    """Keras layer name -> (torch module path, 'conv' | 'bn')."""
    out: Dict[str, Tuple[str, str]] = {}

    def block(prefix: str, path: str) -> None:
        for c in ("c1", "c2"):
            out[f"{prefix}_{c}_conv"] = (f"{path}.{c}.conv", "conv")
            out[f"{prefix}_{c}_bn"] = (f"{path}.{c}.bn", "bn")

    for i in range(len(model.encoders)):
        block(f"enc{i}", f"encoders.{i}")
    block("bottleneck", "bottleneck")
    for i in range(len(model.decoders)):
        block(f"dec{i}", f"decoders.{i}")
    out["head"] = ("head", "conv")
    return out


def metadata_of(model_dir: os.PathLike) -> Dict[str, Any]:
    return read_model_json(model_dir).get("userDefinedMetadata", {}).get("uga", {})


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description="Export a training checkpoint (model.pt) to a tfjs LayersModel")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--version", default="1")
    p.add_argument("--mpp", type=float, default=EBHI_MPP_ESTIMATE, help="micrometres per pixel of the training tiles")
    p.add_argument("--copy-checkpoint", action="store_true", help="also copy the state dict as <out>/model.pt")
    args = p.parse_args(argv)
    import torch

    from .train import load_checkpoint

    model, norm, ckpt = load_checkpoint(args.checkpoint)
    extra = {"training": {"data": "EBHI-Seg source-train (CC BY 4.0, Shi et al. 2023)", "epoch": ckpt.get("epoch"),
                          "val": {k: v for k, v in (ckpt.get("metrics") or {}).items() if k.startswith("val_")}}}
    export_tfjs(model, args.out, make_metadata(norm.to_dict(), version=args.version, mpp=args.mpp, **extra))
    if args.copy_checkpoint:
        torch.save({k: ckpt[k] for k in ("config", "state_dict", "normalization", "epoch", "metrics") if k in ckpt},
                   Path(args.out) / "model.pt")
    print(f"wrote {args.out} ({model_hash(args.out)})")


if __name__ == "__main__":
    main()
