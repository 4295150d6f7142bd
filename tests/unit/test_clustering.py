"""Scalable clustering (direct and two-stage) on synthetic speaker embeddings: numpy/scipy only."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from diarist.engine.clustering import scalable_ahc
from diarist.engine.hyperparameters import Hyperparameters


def _speakers(n_spk: int, per: int, dim: int = 192, spread: float = 0.35, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_spk, dim))
    labels = rng.integers(0, n_spk, size=n_spk * per)
    x = centres[labels] + spread * rng.standard_normal((len(labels), dim)) * np.sqrt(1.0 / dim) * 8
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, labels


def _purity(pred: np.ndarray, true: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    k, m = pred.max() + 1, true.max() + 1
    table = np.zeros((k, m))
    np.add.at(table, (pred, true), 1)
    r, c = linear_sum_assignment(table, maximize=True)
    return table[r, c].sum() / len(pred)


def test_direct_and_two_stage_agree_on_well_separated_speakers() -> None:
    x, y = _speakers(5, 600)  # 3000 embeddings
    hp = Hyperparameters()
    direct, info = scalable_ahc(x, hp, None, 1, len(x))
    assert not info["two_stage"] and direct.max() + 1 == 5 and _purity(direct, y) > 0.99
    two, info = scalable_ahc(x, hp.replace(max_direct_clustering=500), None, 1, len(x))
    assert info["two_stage"] and info["num_stage1_clusters"] < len(x) / 2
    assert two.max() + 1 == 5 and _purity(two, y) > 0.99


def test_forced_and_bounded_counts() -> None:
    x, _ = _speakers(4, 200, seed=1)
    hp = Hyperparameters()
    for k in (2, 3, 6):
        lab, _ = scalable_ahc(x, hp, k, k, k)
        assert lab.max() + 1 == k
    lab, _ = scalable_ahc(x, hp.replace(max_direct_clustering=300), 3, 3, 3)
    assert lab.max() + 1 == 3
    lab, _ = scalable_ahc(x, hp, None, 1, 2)
    assert lab.max() + 1 <= 2


def test_clustering_imports_no_torch() -> None:
    code = "import diarist.engine.clustering, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
