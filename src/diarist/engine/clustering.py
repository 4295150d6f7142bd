"""Clustering of speaker embeddings: pure numpy/scipy, no torch import here.

* :func:`ahc` is pyannote 3.1's agglomerative clustering (centroid linkage on unit vectors, small
  clusters merged into the nearest large one, exact or bounded counts by walking the dendrogram), with
  sample weights.
* :func:`scalable_ahc` runs :func:`ahc` directly on up to ``max_direct_clustering`` embeddings; above
  that, time-ordered groups are first over-clustered (stage 1) and the stage-1 centroids are clustered
  (stage 2), so time and memory stay bounded on long files.

Invariants: inputs are unit-norm rows; the result has one integer label per input row, counted from 0;
the same input always gives the same labels (no randomness anywhere).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from diarist.engine.hyperparameters import Hyperparameters


def unit_vectors(x: np.ndarray) -> np.ndarray:
    """Every row of ``x`` scaled to unit length (a zero row stays zero)."""
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def weighted_centroids(x: np.ndarray, labels: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """(k, dim) unit-norm centroids of the rows of ``x`` with each label, rows weighted by ``w``."""
    c = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(c, labels, x * w[:, None])
    return unit_vectors(c)


def ahc(
    x: np.ndarray,
    w: np.ndarray,
    threshold: float,
    min_cluster_size: int,
    num_clusters: int | None,
    min_clusters: int,
    max_clusters: int,
) -> np.ndarray:
    """pyannote 3.1's AgglomerativeClustering.cluster (centroid linkage on unit vectors, small clusters
    merged into the nearest large one, forced counts by walking the dendrogram), with sample weights."""
    m = len(x)
    if m == 1:
        return np.zeros(1, dtype=np.int64)
    total = float(w.sum())
    mcs = min(min_cluster_size, max(1, round(0.1 * total)))
    z = linkage(x, method="centroid", metric="euclidean")
    labels = fcluster(z, threshold, criterion="distance") - 1

    def n_large(lab: np.ndarray, size: int) -> int:
        return int(np.sum(np.bincount(lab, weights=w) >= size))

    nl = n_large(labels, mcs)
    target = num_clusters
    if target is None and nl < min_clusters:
        target = min_clusters
    elif target is None and nl > max_clusters:
        target = max_clusters
    if target is not None and nl != target:
        zi = z.copy()
        zi[:, 2] = np.arange(m - 1)
        found = None
        for size in sorted({mcs, max(1, mcs // 2), 1}, reverse=True):
            for k in range(min(target, m), min(m, 5 * target + 50) + 1):
                lab = fcluster(zi, (m - k) - 0.5, criterion="distance") - 1
                if n_large(lab, size) == target:
                    found = (lab, size)
                    break
            if found is not None:
                break
        if found is None:
            lab = fcluster(zi, (m - min(target, m)) - 0.5, criterion="distance") - 1
            found = (lab, 1)
        labels, mcs = found
    sizes = np.bincount(labels, weights=w)
    large = np.flatnonzero(sizes >= mcs)
    if len(large) == 0:
        return np.zeros(m, dtype=np.int64)
    small = np.flatnonzero((sizes < mcs) & (sizes > 0))
    if len(small):
        cents = weighted_centroids(x, labels, w, len(sizes))
        nearest = large[np.argmax(cents[small] @ cents[large].T, axis=1)]
        remap = np.arange(len(sizes))
        remap[small] = nearest
        labels = remap[labels]
    _, labels = np.unique(labels, return_inverse=True)
    return labels.astype(np.int64)


def scalable_ahc(
    x: np.ndarray, hp: Hyperparameters, num_clusters: int | None, min_clusters: int, max_clusters: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Direct AHC up to ``max_direct_clustering`` points, else two-stage (per-group, then centroids)."""
    n = len(x)
    info: dict[str, Any] = {"num_train_embeddings": n, "two_stage": False}
    if n <= hp.max_direct_clustering:
        return ahc(
            x,
            np.ones(n),
            hp.clustering_threshold,
            hp.min_cluster_size,
            num_clusters,
            min_clusters,
            max_clusters,
        ), info
    # stage 1: over-cluster contiguous (time-ordered) groups into small, pure clusters
    points, weights, member = x, np.ones(n), np.arange(n)
    t1 = hp.clustering_threshold * hp.stage1_threshold_ratio
    while len(points) > hp.max_direct_clustering:
        groups = math.ceil(len(points) / hp.max_direct_clustering)
        bounds = np.linspace(0, len(points), groups + 1).astype(int)
        new_pts, new_w, new_lab = [], [], np.empty(len(points), dtype=np.int64)
        offset = 0
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if b - a == 1:
                lab = np.zeros(1, dtype=np.int64)
            else:
                lab = fcluster(linkage(points[a:b], method="centroid"), t1, criterion="distance") - 1
            k = int(lab.max()) + 1
            new_pts.append(weighted_centroids(points[a:b], lab, weights[a:b], k))
            new_w.append(np.bincount(lab, weights=weights[a:b], minlength=k))
            new_lab[a:b] = lab + offset
            offset += k
        if offset >= len(points) * 0.9:  # stage 1 does not reduce anymore: subsample deterministically
            keep = np.linspace(0, len(points) - 1, hp.max_direct_clustering).astype(int)
            lab_keep = ahc(
                points[keep],
                weights[keep],
                hp.clustering_threshold,
                hp.min_cluster_size,
                num_clusters,
                min_clusters,
                max_clusters,
            )
            cents = weighted_centroids(points[keep], lab_keep, weights[keep], int(lab_keep.max()) + 1)
            lab_all = np.argmax(points @ cents.T, axis=1)
            info.update(two_stage=True, subsampled=True)
            return lab_all[member], info
        member = new_lab[member]
        points, weights = np.concatenate(new_pts), np.concatenate(new_w)
    info.update(two_stage=True, num_stage1_clusters=len(points))
    lab2 = ahc(
        points,
        weights,
        hp.clustering_threshold,
        hp.min_cluster_size,
        num_clusters,
        min_clusters,
        max_clusters,
    )
    return lab2[member], info
