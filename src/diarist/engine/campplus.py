# ruff: noqa: E402  (torch/pyannote are imported after _torch_env.prepare())
"""3D-Speaker CAM++: the speaker embedding wrapped as a ``pyannote.audio.Model``, and the engine's
embedding back-end for it.

The network definition comes from ``speakerlab-slim`` (3D-Speaker's inference package); the weights are
``campplus_cn_en_common.pt`` (Apache-2.0). Features follow 3D-Speaker's inference recipe: 80-dim Kaldi
fbank (25 ms / 10 ms, povey window, no dither) on the [-1, 1] waveform, mean-normalised over time.

pyannote's ``SpeakerDiarization`` pipeline calls ``model(waveforms, weights=masks)`` with one
segmentation-frame-rate mask per waveform. The frame-level CAM++ features are pooled with those weights
(weighted mean + std statistics pooling), so one 10 s chunk gives one embedding per local speaker.

:class:`CAMPPlusSharedBackend` is what the engine uses: the convolutional trunk runs once per block of
audio and each (window, speaker) embedding is a mask-weighted statistics pooling of those frame features
followed by CAM++'s dense layer, about 10x less compute than embedding every 10 s window again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from diarist.engine import _torch_env

_torch_env.prepare()

import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi
from pyannote.audio import Model
from speakerlab.models.campplus.DTDNN import CAMPPlus

EMBEDDING_DIM = 192
SAMPLE_RATE = 16000


class CAMPPlusEmbedding(Model):
    """pyannote.audio-compatible CAM++ (192-dim) speaker embedding."""

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        num_channels: int = 1,
        num_mel_bins: int = 80,
        embedding_size: int = EMBEDDING_DIM,
        task: Any = None,
    ) -> None:
        super().__init__(sample_rate=sample_rate, num_channels=num_channels, task=task)
        self.save_hyperparameters("sample_rate", "num_channels", "num_mel_bins", "embedding_size")
        self.campplus = CAMPPlus(feat_dim=num_mel_bins, embedding_size=embedding_size)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: torch.device | None = None) -> CAMPPlusEmbedding:
        model = cls()
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        model.campplus.load_state_dict(state, strict=True)
        model.eval()
        if device is not None:
            model.to(device)
        return model

    def _hp(self, name: str) -> Any:
        return self.hparams[name]

    @property
    def dimension(self) -> int:
        return int(self._hp("embedding_size"))

    def compute_fbank(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, 1, samples) in [-1, 1] -> mean-normalised (batch, frames, 80) fbank."""
        wav = waveforms[:, 0, :]
        feats = torch.stack(
            [
                kaldi.fbank(
                    w.unsqueeze(0),
                    num_mel_bins=int(self._hp("num_mel_bins")),
                    sample_frequency=float(self._hp("sample_rate")),
                    dither=0.0,
                )
                for w in wav
            ]
        )
        return feats - feats.mean(dim=1, keepdim=True)

    def forward(self, waveforms: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        feats = self.compute_fbank(waveforms)  # (B, T, F)
        net = self.campplus
        x = net.head(feats.permute(0, 2, 1))
        # run the x-vector trunk up to (not including) statistics pooling
        for name, module in net.xvector.named_children():
            if name == "stats":
                break
            x = module(x)
        # x: (B, C, T')
        if weights is None:
            stats = torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)
        else:
            w = weights.to(x.dtype)
            if w.dim() == 1:
                w = w.unsqueeze(0)
            w = F.interpolate(w.unsqueeze(1), size=x.shape[-1], mode="nearest").squeeze(1)  # (B, T')
            v1 = w.sum(dim=-1, keepdim=True).clamp_min(1e-8)
            mean = (x * w.unsqueeze(1)).sum(dim=-1) / v1
            dx2 = (x - mean.unsqueeze(-1)) ** 2
            v2 = (w**2).sum(dim=-1, keepdim=True)
            var = (dx2 * w.unsqueeze(1)).sum(dim=-1) / (v1 - v2 / v1).clamp_min(1e-8)
            stats = torch.cat([mean, var.clamp_min(1e-8).sqrt()], dim=-1)
        return net.xvector.dense(stats)


class CAMPPlusSharedBackend:
    """CAM++: trunk once per block, masked statistics pooling per (window, speaker)."""

    def __init__(self, model: CAMPPlusEmbedding, device: torch.device) -> None:
        self.model = model
        self.device = device
        self.dimension = int(model.dimension)
        self.hop = 160 * 2  # fbank hop (10 ms) x trunk time stride (2)
        self.center = 200  # first fbank frame centre, in samples

    @torch.inference_mode()
    def trunk(self, audio: np.ndarray) -> torch.Tensor:
        net = self.model.campplus
        wav = torch.from_numpy(audio).to(self.device)[None, None]
        x = net.head(self.model.compute_fbank(wav).permute(0, 2, 1))
        for name, module in net.xvector.named_children():
            if name == "stats":
                break
            x = module(x)
        return x[0]  # (C, T')

    @torch.inference_mode()
    def embed_block(
        self, audio: np.ndarray, chunk_offsets: np.ndarray, chunk_len: int, masks: np.ndarray
    ) -> np.ndarray:
        if len(masks) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        feats = self.trunk(audio)  # (C, T)
        num_t = feats.shape[1]
        t_centres = self.center + self.hop * np.arange(num_t)  # sample position of each trunk frame
        num_frames = masks.shape[1]
        weights = np.zeros((len(masks), num_t), dtype=np.float32)
        for i, (off, m) in enumerate(zip(chunk_offsets, masks, strict=True)):
            lo = int(np.searchsorted(t_centres, off, side="left"))
            hi = int(np.searchsorted(t_centres, off + chunk_len, side="left"))
            rel = (t_centres[lo:hi] - off) * num_frames // chunk_len
            weights[i, lo:hi] = m[np.clip(rel, 0, num_frames - 1)]
        w = torch.from_numpy(weights).to(self.device, torch.float64)
        x = feats.to(torch.float64)  # (C, T)
        v1 = w.sum(dim=1, keepdim=True).clamp_min(1e-6)
        v2 = (w**2).sum(dim=1, keepdim=True)
        mean = (w @ x.T) / v1
        sq = (w @ (x**2).T) / v1
        var = (sq - mean**2).clamp_min(0.0) * v1 / (v1 - v2 / v1).clamp_min(1e-6)
        stats = torch.cat([mean, var.clamp_min(1e-8).sqrt()], dim=1).to(feats.dtype)
        emb = self.model.campplus.xvector.dense(stats)
        return emb.float().cpu().numpy()
