"""The default segmentation network: a small U-Net with late MC-dropout.

Layers are restricted to what the tfjs export maps one-to-one onto Keras layers
(Conv2D 'same', BatchNormalization, ReLU, MaxPooling2D, UpSampling2D nearest,
Concatenate, Dropout, 1x1 Conv2D + softmax), all channels-last on the tfjs side.

Dropout sits only in the last (full-resolution) decoder block: after its first
convolution and right before the 1x1 head. The browser engine caches everything
that is not downstream of a Dropout and re-runs only that suffix T times, so the
suffix (one 16->16 3x3 conv + the head) is ~8% of a forward pass.

torch is imported here at module level: import this module only when torch is
installed (the ``train`` extra).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import List, Sequence

import torch
from torch import nn
import torch.nn.functional as F

# Keras BatchNormalization default; used on both sides so export is exact.
BN_EPSILON = 1e-3


@dataclass
class UNetConfig:
    in_channels: int = 3
    num_classes: int = 2
    widths: List[int] = field(default_factory=lambda: [16, 32, 48, 64])
    dropout: float = 0.2
    bn_epsilon: float = BN_EPSILON
    # Where the Dropout layers sit (see DROPOUT_PLACEMENTS); "late" is the shipped model.
    dropout_at: str = "late"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        return cls(**{k: d[k] for k in d if k in cls.__dataclass_fields__})


# "late": last decoder block (after its first conv) + before the head (the default model);
# "head": before the 1x1 head only; "decoder_bottleneck": the bottleneck, every decoder
# block and the head. Earlier Dropout makes the MC suffix (re-run T times) longer.
DROPOUT_PLACEMENTS = ("late", "head", "decoder_bottleneck")


class ConvBNReLU(nn.Module):
    """3x3 conv ('same', no bias) -> BatchNorm -> ReLU."""

    def __init__(self, cin: int, cout: int, eps: float):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps, momentum=0.05)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Block(nn.Module):
    """Two ConvBNReLU, with an optional Dropout between them."""

    def __init__(self, cin: int, cout: int, eps: float, dropout: float = 0.0):
        super().__init__()
        self.c1 = ConvBNReLU(cin, cout, eps)
        self.drop = nn.Dropout(dropout) if dropout > 0 else None
        self.c2 = ConvBNReLU(cout, cout, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c1(x)
        if self.drop is not None:
            x = self.drop(x)
        return self.c2(x)


class UNet(nn.Module):
    """U-Net: len(widths)-1 poolings; returns softmax probabilities (N, C, H, W).

    ``forward_logits`` gives the pre-softmax scores for training with
    cross-entropy. H and W must be divisible by 2**(len(widths)-1).
    """

    def __init__(self, config: UNetConfig | None = None):
        super().__init__()
        cfg = config or UNetConfig()
        if cfg.dropout_at not in DROPOUT_PLACEMENTS:
            raise ValueError(f"dropout_at must be one of {DROPOUT_PLACEMENTS}, got {cfg.dropout_at!r}")
        self.config = cfg
        w = cfg.widths
        eps = cfg.bn_epsilon
        inner = cfg.dropout if cfg.dropout_at == "decoder_bottleneck" else 0.0
        self.encoders = nn.ModuleList()
        cin = cfg.in_channels
        for width in w[:-1]:
            self.encoders.append(Block(cin, width, eps))
            cin = width
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = Block(w[-2], w[-1], eps, inner)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.decoders = nn.ModuleList()
        below = w[-1]
        for i, width in enumerate(reversed(w[:-1])):
            last = i == len(w) - 2
            rate = cfg.dropout if (last and cfg.dropout_at == "late") else inner
            self.decoders.append(Block(below + width, width, eps, rate))
            below = width
        self.head_dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else None
        self.head = nn.Conv2d(w[0], cfg.num_classes, 1)

    @property
    def divisor(self) -> int:
        return 2 ** (len(self.config.widths) - 1)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for dec, skip in zip(self.decoders, reversed(skips)):
            x = dec(torch.cat([self.up(x), skip], dim=1))
        if self.head_dropout is not None:
            x = self.head_dropout(x)
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.forward_logits(x), dim=1)


def build_model(config: UNetConfig | dict | None = None) -> UNet:
    if isinstance(config, dict):
        config = UNetConfig.from_dict(config)
    return UNet(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def enable_mc_dropout(model: nn.Module) -> nn.Module:
    """Eval mode everywhere (BatchNorm uses running stats) except Dropout."""
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()
    return model


@torch.no_grad()
def mc_predict(model: nn.Module, x: torch.Tensor, samples: int = 20) -> torch.Tensor:
    """T stochastic softmax outputs, shape (T, N, C, H, W); naive full passes."""
    enable_mc_dropout(model)
    out = torch.stack([model(x) for _ in range(samples)])
    model.eval()
    return out


@torch.no_grad()
def mc_predict_cached(model: UNet, x: torch.Tensor, samples: int = 20) -> torch.Tensor:
    """Same distribution as :func:`mc_predict`, computing the dropout-free prefix once.

    Everything up to the first Dropout (encoders, bottleneck, all but the last
    decoder, and the last decoder's first conv) is deterministic in MC mode, so
    only the suffix runs ``samples`` times — what the browser engine does. With
    the same torch seed it draws the same dropout masks in the same order as
    mc_predict, so the outputs are identical. Placements with Dropout earlier
    than the last decoder block fall back to full passes (mc_predict).
    """
    if getattr(model.config, "dropout_at", "late") == "decoder_bottleneck":
        return mc_predict(model, x, samples)
    model.eval()
    skips = []
    h = x
    for enc in model.encoders:
        h = enc(h)
        skips.append(h)
        h = model.pool(h)
    h = model.bottleneck(h)
    decoders = list(model.decoders)
    for dec, skip in zip(decoders[:-1], list(reversed(skips))[:-1]):
        h = dec(torch.cat([model.up(h), skip], dim=1))
    last = decoders[-1]
    prefix = last.c1(torch.cat([model.up(h), skips[0]], dim=1))
    out = []
    for _ in range(samples):
        z = prefix
        if last.drop is not None:
            z = F.dropout(z, last.drop.p, training=True)
        z = last.c2(z)
        if model.head_dropout is not None:
            z = F.dropout(z, model.head_dropout.p, training=True)
        out.append(torch.softmax(model.head(z), dim=1))
    return torch.stack(out)


def normalization_tensors(mean: Sequence[float], std: Sequence[float], scale: float = 1 / 255):
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return scale, m, s
