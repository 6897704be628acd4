"""Shared fixtures: repository on sys.path, optional torch/node/data."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(REPO))


def _data_root() -> Path:
    return Path(os.environ.get("UGA_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def ebhi_dir() -> Path:
    root = _data_root() / "ebhi-seg"
    if not (root / "target-dev" / "images").is_dir():
        pytest.skip(f"EBHI-Seg data not found at {root} (set UGA_DATA)")
    return root


@pytest.fixture(scope="session")
def torch_mod():
    torch = pytest.importorskip("torch", reason="torch (the 'train' extra) is not installed")
    # tiny tensors: one thread avoids spin overhead on a busy 2-core machine
    torch.set_num_threads(1)
    return torch


@pytest.fixture(scope="session")
def node_tfjs() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (REPO / "node_modules" / "@tensorflow" / "tfjs" / "package.json").is_file():
        pytest.skip("node_modules/@tensorflow/tfjs is not installed (npm ci)")
    return node
