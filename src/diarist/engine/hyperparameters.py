"""The tuned settings of the diarization pipeline, one flat dataclass. No torch import here.

Defaults were tuned on the dev set (see docs/engine.md and ``benchmarks/der.py``). The model loader
adapts some of them to the weights it loads and applies the overrides ``EngineSettings`` allows.
Segmentation and embeddings read the ``segmentation_*``, ``embedding_batch_size``, ``exclude_overlap``
and ``block_s`` fields; clustering (``diarist.engine.clustering``) the ``clustering_threshold``,
``min_cluster_size``, ``max_direct_clustering`` and ``stage1_threshold_ratio`` ones; the channel
diarizer's assignment and reconstruction the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Hyperparameters:
    """Tunable settings (defaults tuned on the dev set, see docs/engine.md and benchmarks/der.py)."""

    segmentation_step: float = 0.1  # window step as a fraction of the 10 s window
    segmentation_batch_size: int = 32
    embedding_batch_size: int = 32  # generic (per-window) embedding backend only
    exclude_overlap: bool = True  # embed a speaker from the frames where it speaks alone, when enough
    min_active_ratio: float = 0.1  # a pair is used to *train* clustering if it speaks alone this much
    clustering_threshold: float = 0.8  # euclidean distance between unit embeddings (centroid linkage)
    min_cluster_size: int = 3  # scaled down further for short files, as pyannote does
    min_duration_off: float = 0.0
    constrained_assignment: bool = True
    max_direct_clustering: int = 4000
    stage1_threshold_ratio: float = 0.6  # stage-1 (over-)clustering threshold = ratio * threshold
    block_s: float = 60.0

    def replace(self, **kw: Any) -> Hyperparameters:
        return Hyperparameters(**{**self.__dict__, **kw})
