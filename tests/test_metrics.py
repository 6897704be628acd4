import math

import numpy as np
import pytest

from jupyterlab_uga.metrics import (
    auroc,
    dice_per_class,
    dice_summary,
    entropy,
    expected_calibration_error,
    mc_uncertainty,
    uncertainty_auroc,
)


def test_dice_pooled_over_all_pixels_by_hand():
    # image 1: pred fg 2 px, target fg 1 px (overlap 1); image 2: pred fg 0, target fg 1
    pred = np.array([[[1, 1], [0, 0]], [[0, 0], [0, 0]]])
    target = np.array([[[1, 0], [0, 0]], [[0, 0], [1, 0]]])
    d = dice_per_class(pred, target, 2)
    # fg: 2*1 / (2 + 2) ; bg: pred bg = 6 px, target bg = 6 px, overlap 5
    assert d[1] == pytest.approx(0.5)
    assert d[0] == pytest.approx(10 / 12)
    s = dice_summary(pred, target)
    assert s["dice_mean"] == pytest.approx((0.5 + 10 / 12) / 2)
    assert s["dice_gland"] == pytest.approx(0.5)


def test_dice_ignores_255_and_absent_class_is_nan():
    pred = np.array([1, 1, 0, 0])
    target = np.array([1, 255, 0, 255])
    d = dice_per_class(pred, target, 3)
    assert d[0] == 1.0 and d[1] == 1.0 and math.isnan(d[2])


def test_ece_by_hand():
    # 4 pixels, 2 bins: confidences 0.9, 0.8 (bin 2) and 0.6, 0.55 (bin 2 as well: >0.5)
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    target = np.array([1, 1, 1, 0])
    # predictions: 1 (right), 0 (wrong), 1 (right), 1 (wrong); all confidences > 0.5
    conf = np.array([0.9, 0.8, 0.6, 0.7])
    expected = abs(0.5 - conf.mean())
    assert expected_calibration_error(probs, target, n_bins=2) == pytest.approx(expected)
    # with 10 bins each pixel is alone in its bin: mean |correct - conf|
    per = np.abs(np.array([1, 0, 1, 0]) - conf).mean()
    assert expected_calibration_error(probs, target, n_bins=10) == pytest.approx(per)


def test_auroc_by_hand_with_ties():
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4])
    labels = np.array([0, 0, 1, 1, 1])
    # pairs (pos, neg): (0.35,0.1)=1 (0.35,0.4)=0 (0.8,*)=1,1 (0.4,0.1)=1 (0.4,0.4)=0.5 -> 4.5/6
    assert auroc(scores, labels) == pytest.approx(4.5 / 6)
    assert auroc(-scores, labels) == pytest.approx(1.5 / 6)
    assert math.isnan(auroc(scores, np.zeros(5)))


def test_uncertainty_auroc_perfect_separation():
    pred = np.array([0, 1, 1, 0])
    target = np.array([0, 0, 1, 255])
    unc = np.array([0.1, 0.9, 0.2, 5.0])  # ignored pixel has the highest score
    assert uncertainty_auroc(unc, pred, target) == 1.0


def test_mc_uncertainty_entropy_and_mutual_information():
    # two samples that disagree completely: mean (0.5, 0.5) -> H = ln 2, E[H] = 0 -> MI = ln 2
    s = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    u = mc_uncertainty(s)
    assert u["entropy"][0] == pytest.approx(math.log(2))
    assert u["mutual_information"][0] == pytest.approx(math.log(2))
    # identical uncertain samples: MI 0, entropy ln 2
    s2 = np.array([[[0.5, 0.5]], [[0.5, 0.5]]])
    u2 = mc_uncertainty(s2)
    assert u2["mutual_information"][0] == pytest.approx(0.0, abs=1e-9)
    assert entropy(np.array([0.25, 0.25, 0.25, 0.25])) == pytest.approx(math.log(4))
