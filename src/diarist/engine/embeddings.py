# ruff: noqa: E402  (torch is imported after _torch_env.prepare())
"""Speaker-embedding back-ends: the :class:`EmbeddingBackend` protocol the channel diarizer calls, and
:class:`PerWindowBackend` for any pyannote.audio embedding model (e.g. a pipeline directory's WeSpeaker).

CAM++'s faster back-end, which shares one trunk pass per block, lives with CAM++ in
``diarist.engine.campplus``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from diarist.engine import _torch_env

_torch_env.prepare()

import torch


class EmbeddingBackend(Protocol):
    dimension: int

    def embed_block(
        self, audio: np.ndarray, chunk_offsets: np.ndarray, chunk_len: int, masks: np.ndarray
    ) -> np.ndarray:
        """``masks``: (n, num_frames) weights for n (window, speaker) pairs; ``chunk_offsets``: (n,) sample
        offset in ``audio`` of each pair's window. Returns (n, dimension) float32."""
        ...


class PerWindowBackend:
    """Any pyannote.audio embedding Model called as ``model(waveforms, weights=masks)`` (e.g. WeSpeaker)."""

    def __init__(self, model: Any, device: torch.device, batch_size: int = 32) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.dimension = int(model.dimension)

    @torch.inference_mode()
    def embed_block(
        self, audio: np.ndarray, chunk_offsets: np.ndarray, chunk_len: int, masks: np.ndarray
    ) -> np.ndarray:
        out = []
        for s in range(0, len(masks), self.batch_size):
            offs = chunk_offsets[s : s + self.batch_size]
            wav = np.stack([audio[o : o + chunk_len] for o in offs])[:, None, :]
            w = torch.from_numpy(np.ascontiguousarray(masks[s : s + self.batch_size], dtype=np.float32))
            emb = self.model(torch.from_numpy(wav).to(self.device), weights=w.to(self.device))
            out.append(emb.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dimension), dtype=np.float32)
