"""The ensemble study's maths (bench/replicate/ensemble_study.py): entropy of the mean,
mean KL to the mean, the UGA code's tile score and the tile ranking."""
from __future__ import annotations

import sys

import numpy as np
import pytest


@pytest.fixture(scope="module")
def study(repo_root):
    sys.path.insert(0, str(repo_root / "bench" / "replicate"))
    import ensemble_study

    return ensemble_study


def test_agreeing_members_have_no_kl_and_disagreeing_ones_do(study):
    agree = np.tile(np.array([0.9, 0.1], dtype=np.float32), (3, 1, 2, 2, 1))  # M=3, N=1, 2x2 pixels
    m = study.ensemble_maps(agree)
    assert np.allclose(m["kl"], 0, atol=1e-6)
    assert np.allclose(m["entropy"], -(0.9 * np.log(0.9) + 0.1 * np.log(0.1)), atol=1e-6)
    split = np.stack([np.full((1, 2, 2, 2), [1.0, 0.0]), np.full((1, 2, 2, 2), [0.0, 1.0])]).astype(np.float32)
    m = study.ensemble_maps(split)
    # Two confident members that disagree: mean 0.5/0.5, entropy ln 2, all of it epistemic (KL = ln 2).
    assert np.allclose(m["mean"], 0.5) and np.allclose(m["entropy"], np.log(2), atol=1e-5)
    assert np.allclose(m["kl"], np.log(2), atol=1e-5)


def test_uga_code_score_and_ranking(study):
    u = np.zeros((4, 4))
    u[0, 0] = 1.0
    u[1, 1] = 0.85  # above 0.8 * max
    u[2, 2] = 0.5
    assert study.uga_code_tile_score(u) == pytest.approx(100 * 2 + 2.35)
    assert study.rank_tiles(np.array([0.2, 0.9, 0.9, 0.1])) == [1, 2, 0, 3]  # ties keep index order
    wrong = np.zeros((3, 2, 2), dtype=bool)
    wrong[1] = True
    assert study.wrong_share(wrong, [1, 2]) == pytest.approx(0.5)
