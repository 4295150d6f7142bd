# ruff: noqa: E402  (torch/pyannote are imported after _torch_env.prepare())
"""The channel diarizer: one decoded channel -> speaker turns, exclusive turns and confidence.

pyannote's segmentation -> embedding -> clustering -> reconstruction recipe, re-organised so that memory
grows slowly with duration and time stays linear. Differences from
``pyannote.audio.pipelines.SpeakerDiarization`` (same models, same maths where it matters):

* **Streaming over blocks.** The decoded channel lives in a float32 file on disk; ``block_s`` seconds of
  10 s segmentation windows are processed at a time. Per window we keep only the powerset class per frame
  (uint8) and the soft per-speaker activity (uint8), ~2.4 kB per window instead of pyannote's float64 arrays
  and the whole waveform.
* **Embeddings only for active (window, local speaker) pairs** (pyannote also embeds inactive ones), from
  an :class:`~diarist.engine.embeddings.EmbeddingBackend` (CAM++'s shares one trunk pass per block).
* **Scalable clustering** (``diarist.engine.clustering``). Every embedding is then assigned to the nearest
  final centroid (Hungarian per window, so two local speakers of one window never merge), which keeps
  labels consistent over the whole file.
* **Blockwise reconstruction** of the frame-level diarization, speaker count, exclusive diarization and
  confidence: peak memory is one block of frames, the full-length arrays are uint8.

Speakers are numbered by first appearance; turns are sorted; confidence has one value per 20 ms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diarist.engine import _torch_env

_torch_env.prepare()

import torch
from pyannote.audio.utils.powerset import Powerset
from scipy.optimize import linear_sum_assignment

from diarist.engine.audio import SAMPLE_RATE, AudioStore
from diarist.engine.clustering import scalable_ahc, unit_vectors, weighted_centroids
from diarist.engine.embeddings import EmbeddingBackend
from diarist.engine.hyperparameters import Hyperparameters

ProgressFn = Callable[[float], None]  # fraction 0..1 of this channel's work


def no_speech_confidence(duration: float) -> np.ndarray:
    """Confidence of a channel in which nobody speaks: 100 for every 20 ms step."""
    return np.full(int(math.ceil(duration / 0.02 - 1e-9)), 100, dtype=np.uint8)


TurnRow = tuple[float, float, int, float, dict[int, float]]
"""start, end, speaker, the speaker's mean activity 0..1 over the turn, and every speaker's mean
activity over the same frames (pyannoteAI's per-turn ``confidence`` map)."""


@dataclass
class ChannelOutput:
    """Frame-level output of one channel, speakers numbered by first appearance."""

    turns: list[TurnRow]
    exclusive: list[TurnRow]
    num_speakers: int
    confidence: np.ndarray | None  # uint8 per 20 ms
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class Extracted:
    """Everything step 1 keeps about a channel: uint8 per frame and window, float32 per active pair."""

    num_samples: int
    step_s: float
    cls: np.ndarray  # (windows, frames) powerset class, uint8
    soft: np.ndarray  # (windows, frames, local speakers) marginal activity x 255, uint8
    embeddings: np.ndarray  # (pairs, dim) unit-norm float32
    pair_chunk: np.ndarray  # (pairs,) window index
    pair_spk: np.ndarray  # (pairs,) local speaker index
    pair_clean: np.ndarray  # (pairs,) frames where this speaker is the only one active


class ChannelDiarizer:
    """Runs the algorithm on one decoded channel. Stateless apart from the loaded models."""

    def __init__(
        self, segmentation: Any, embedding: EmbeddingBackend, device: torch.device, hp: Hyperparameters
    ) -> None:
        self.model = segmentation
        self.embedding = embedding
        self.device = device
        self.hp = hp
        spec = segmentation.specifications
        if not spec.powerset:
            raise ValueError("only powerset segmentation models (segmentation-3.0 family) are supported")
        self.chunk_s = float(spec.duration)
        self.chunk_len = int(round(self.chunk_s * SAMPLE_RATE))
        self.local_speakers = len(spec.classes)
        mapping: Any = Powerset(len(spec.classes), spec.powerset_max_classes).mapping
        self.mapping = mapping.numpy().astype(np.float32)
        rf = segmentation.receptive_field
        self.frame_step = float(rf.step)
        self.frame_dur = float(rf.duration)
        with torch.inference_mode():
            probe = self.model(torch.zeros(1, 1, self.chunk_len, device=device))
        self.num_frames = int(probe.shape[1])

    # -- step 1: segmentation + embeddings, streamed over blocks ------------------------------------------
    def _segment(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        classes, soft = [], []
        bs = self.hp.segmentation_batch_size
        with torch.inference_mode():
            for s in range(0, len(windows), bs):
                x = torch.from_numpy(np.ascontiguousarray(windows[s : s + bs]))[:, None, :].to(self.device)
                logp = self.model(x).float().cpu().numpy()  # (b, F, P) log-probabilities
                classes.append(np.argmax(logp, axis=-1).astype(np.uint8))
                soft.append(np.exp(logp) @ self.mapping)  # (b, F, S) marginal activity
        return np.concatenate(classes), np.concatenate(soft)

    def extract(self, store: AudioStore, progress: ProgressFn | None = None) -> Extracted:
        """Step 1, streamed over blocks: segmentation of every window + embeddings of active pairs."""
        hp = self.hp
        n = store.num_samples
        step_s = hp.segmentation_step * self.chunk_s
        step_len = int(round(step_s * SAMPLE_RATE))
        if n <= self.chunk_len:
            num_chunks = 1
        else:
            num_chunks = 1 + (n - self.chunk_len) // step_len + int((n - self.chunk_len) % step_len > 0)
        F, S = self.num_frames, self.local_speakers
        cls_all = np.zeros((num_chunks, F), dtype=np.uint8)
        soft_all = np.zeros((num_chunks, F, S), dtype=np.uint8)
        emb_list: list[np.ndarray] = []
        pair_chunk: list[np.ndarray] = []
        pair_spk: list[np.ndarray] = []
        pair_clean: list[np.ndarray] = []
        per_block = max(1, int(hp.block_s / step_s))
        hard_map = self.mapping.astype(np.uint8)
        min_clean = max(1, int(math.ceil(F * 0.05)))
        for c0 in range(0, num_chunks, per_block):
            c1 = min(num_chunks, c0 + per_block)
            start = c0 * step_len
            length = (c1 - 1 - c0) * step_len + self.chunk_len
            audio = store.read(start, length)
            offs = np.arange(c1 - c0) * step_len
            windows = np.lib.stride_tricks.as_strided(
                audio,
                shape=(c1 - c0, self.chunk_len),
                strides=(audio.strides[0] * step_len, audio.strides[0]),
            )
            classes, soft = self._segment(windows)
            cls_all[c0:c1] = classes
            soft_all[c0:c1] = np.clip(np.rint(soft * 255), 0, 255).astype(np.uint8)
            hard = hard_map[classes]  # (b, F, S)
            active = hard.sum(axis=1)  # (b, S) active frames
            ci, si = np.nonzero(active > 0)
            if len(ci):
                masks = hard[ci, :, si].astype(np.float32)  # (p, F)
                single = (hard.sum(axis=2) == 1)[ci]  # (p, F)
                clean = masks * single
                n_clean = clean.sum(axis=1)
                use_clean = hp.exclude_overlap & (n_clean >= min_clean)
                masks = np.where(use_clean[:, None], clean, masks)
                emb = self.embedding.embed_block(audio, offs[ci], self.chunk_len, masks)
                ok = np.all(np.isfinite(emb), axis=1)
                emb_list.append(emb[ok].astype(np.float32))
                pair_chunk.append((ci[ok] + c0).astype(np.int32))
                pair_spk.append(si[ok].astype(np.int8))
                pair_clean.append(n_clean[ok].astype(np.int16))
            if progress is not None:
                progress(0.9 * c1 / num_chunks)
        dim = self.embedding.dimension
        return Extracted(
            num_samples=n,
            step_s=step_s,
            cls=cls_all,
            soft=soft_all,
            embeddings=(
                unit_vectors(np.concatenate(emb_list).astype(np.float64)).astype(np.float32)
                if emb_list
                else np.zeros((0, dim), np.float32)
            ),
            pair_chunk=np.concatenate(pair_chunk) if pair_chunk else np.zeros(0, np.int32),
            pair_spk=np.concatenate(pair_spk) if pair_spk else np.zeros(0, np.int8),
            pair_clean=np.concatenate(pair_clean) if pair_clean else np.zeros(0, np.int16),
        )

    def run(
        self,
        store: AudioStore,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        progress: ProgressFn | None = None,
        want_confidence: bool = True,
    ) -> ChannelOutput:
        ex = self.extract(store, progress)
        out = self.finish(ex, num_speakers, min_speakers, max_speakers, want_confidence)
        if progress is not None:
            progress(1.0)
        return out

    def finish(
        self,
        ex: Extracted,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        want_confidence: bool = True,
        hp: Hyperparameters | None = None,
    ) -> ChannelOutput:
        """Steps 2 and 3: clustering, then blockwise reconstruction."""
        hp = hp or self.hp
        num_chunks, F = ex.cls.shape
        S = self.local_speakers
        stats: dict[str, Any] = {"num_chunks": num_chunks, "num_embeddings": len(ex.embeddings)}
        duration = ex.num_samples / SAMPLE_RATE
        if len(ex.embeddings) == 0:
            return ChannelOutput(
                [], [], 0, no_speech_confidence(duration) if want_confidence else None, stats
            )
        emb_all, pc, ps = ex.embeddings, ex.pair_chunk, ex.pair_spk
        pt = ex.pair_clean >= hp.min_active_ratio * F
        max_spk = num_speakers or max_speakers
        train = np.flatnonzero(pt) if pt.sum() >= 2 else np.arange(len(emb_all))
        n_train = len(train)
        min_c = max(1, min(n_train, num_speakers or min_speakers or 1))
        max_c = max(1, min(n_train, num_speakers or max_speakers or n_train))
        forced = min_c if min_c == max_c else None
        if max_c < 2:
            centroids = unit_vectors(emb_all[train].astype(np.float64).mean(axis=0, keepdims=True))
            stats["clustering"] = {"num_train_embeddings": n_train, "two_stage": False}
        else:
            xt = emb_all[train].astype(np.float64)
            labels, info = scalable_ahc(xt, hp, forced, min_c, max_c)
            stats["clustering"] = info
            centroids = weighted_centroids(xt, labels, np.ones(len(xt)), int(labels.max()) + 1)
        K = len(centroids)
        sim = emb_all.astype(np.float64) @ centroids.T  # (p, K)
        hard_clusters = np.full((num_chunks, S), -2, dtype=np.int16)
        if hp.constrained_assignment and K > 1:
            order = np.argsort(pc, kind="stable")
            bounds = np.flatnonzero(np.diff(pc[order])) + 1
            for grp in np.split(order, bounds):
                if len(grp) == 1:
                    hard_clusters[pc[grp[0]], ps[grp[0]]] = int(np.argmax(sim[grp[0]]))
                    continue
                rows, cols = linear_sum_assignment(sim[grp], maximize=True)
                hard_clusters[pc[grp[rows]], ps[grp[rows]]] = cols
        else:
            hard_clusters[pc, ps] = np.argmax(sim, axis=1)
        out = self._reconstruct(
            ex.cls, ex.soft, hard_clusters, K, ex.step_s, duration, max_spk, want_confidence, hp
        )
        out.stats.update(stats)
        return out

    def _reconstruct(
        self,
        cls_all: np.ndarray,
        soft_all: np.ndarray,
        hard_clusters: np.ndarray,
        K: int,
        step_s: float,
        duration: float,
        max_spk: int | None,
        want_confidence: bool,
        hp: Hyperparameters,
    ) -> ChannelOutput:
        num_chunks, F = cls_all.shape
        hard_map = self.mapping.astype(np.uint8)
        fstep = self.frame_step
        start_frame = np.rint(np.arange(num_chunks) * step_s / fstep).astype(np.int64)
        total = int(np.rint((self.chunk_s + (num_chunks - 1) * step_s) / fstep)) + 1
        binary = np.zeros((total, K), dtype=np.uint8)
        excl = np.zeros((total, K), dtype=np.uint8)
        act_q = np.zeros((total, K), dtype=np.uint8)  # averaged soft activity per final speaker
        conf_frames = np.zeros(total, dtype=np.uint8)
        onehot = np.zeros((num_chunks, self.local_speakers, K), dtype=np.float32)
        valid = hard_clusters >= 0
        cc, ss = np.nonzero(valid)
        onehot[cc, ss, hard_clusters[cc, ss]] = 1.0
        block = max(2048, int(600.0 / fstep))
        for f0 in range(0, total, block):
            f1 = min(total, f0 + block)
            a = int(np.searchsorted(start_frame + F, f0, side="right"))
            b = int(np.searchsorted(start_frame, f1, side="left"))
            width = f1 - f0
            acc = np.zeros((width, K), dtype=np.float32)
            soft_acc = np.zeros((width, K), dtype=np.float32)
            cnt_acc = np.zeros(width, dtype=np.float32)
            n_cover = np.zeros(width, dtype=np.float32)
            for c in range(a, b):
                lo, hi = max(f0, start_frame[c]), min(f1, start_frame[c] + F)
                if hi <= lo:
                    continue
                j0, j1 = lo - start_frame[c], hi - start_frame[c]
                h = hard_map[cls_all[c, j0:j1]].astype(np.float32)  # (w, S)
                sp = soft_all[c, j0:j1].astype(np.float32) / 255.0
                oh = onehot[c]  # (S, K)
                acc[lo - f0 : hi - f0] += np.max(h[:, :, None] * oh[None], axis=1)
                soft_acc[lo - f0 : hi - f0] += np.max(sp[:, :, None] * oh[None], axis=1)
                cnt_acc[lo - f0 : hi - f0] += h.sum(axis=1)
                n_cover[lo - f0 : hi - f0] += 1.0
            cover = np.maximum(n_cover, 1.0)
            count = np.rint(cnt_acc / cover).astype(np.int64)
            if max_spk is not None:
                count = np.minimum(count, max_spk)
            count = np.minimum(count, K)
            order = np.argsort(-acc, axis=1, kind="stable")
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(K)[None, :].repeat(width, 0), axis=1)
            binary[f0:f1] = (rank < count[:, None]).astype(np.uint8)
            excl[f0:f1] = (rank < np.minimum(count, 1)[:, None]).astype(np.uint8)
            soft_avg = soft_acc / cover[:, None]
            act_q[f0:f1] = np.clip(np.rint(soft_avg * 255), 0, 255).astype(np.uint8)
            if want_confidence:
                on = binary[f0:f1].astype(bool)
                certainty = np.where(on, soft_avg, 1.0 - soft_avg)
                conf_frames[f0:f1] = np.clip(np.rint(100 * certainty.min(axis=1)), 0, 100).astype(np.uint8)

        ts = np.arange(total) * fstep + self.frame_dur / 2  # frame middles, as pyannote's Binarize
        turns = self._to_turns(binary, act_q, ts, duration, hp.min_duration_off)
        exclusive = self._to_turns(excl, act_q, ts, duration, hp.min_duration_off)
        # number speakers by first appearance
        first: dict[int, float] = {}
        for st, _, k, _, _ in sorted(turns, key=lambda row: row[:4]):
            first.setdefault(k, st)
        relabel = {k: i for i, k in enumerate(sorted(first, key=lambda k: first[k]))}

        def renumbered(rows: list[TurnRow]) -> list[TurnRow]:
            out = [
                (s, e, relabel[k], c, {relabel[j]: v for j, v in per.items() if j in relabel})
                for s, e, k, c, per in rows
                if k in relabel
            ]
            return sorted(out, key=lambda row: row[:4])

        turns, exclusive = renumbered(turns), renumbered(exclusive)
        confidence = None
        if want_confidence:
            n20 = int(math.ceil(duration / 0.02 - 1e-9))
            t20 = np.arange(n20) * 0.02 + 0.01
            idx = np.clip(np.rint((t20 - self.frame_dur / 2) / fstep).astype(np.int64), 0, total - 1)
            confidence = conf_frames[idx]
        return ChannelOutput(turns, exclusive, len(relabel), confidence, {"num_clusters": K})

    @staticmethod
    def _to_turns(
        binary: np.ndarray, act_q: np.ndarray, ts: np.ndarray, duration: float, min_duration_off: float
    ) -> list[TurnRow]:
        out: list[TurnRow] = []
        total = len(ts)
        for k in range(binary.shape[1]):
            x = binary[:, k].astype(np.int8)
            if not x.any():
                continue
            d = np.diff(np.concatenate([[0], x, [0]]))
            on = np.flatnonzero(d == 1)
            off = np.flatnonzero(d == -1)  # first inactive frame (may be == total)
            segs = []
            for i_on, i_off in zip(on, off, strict=True):
                s = ts[i_on]
                e = ts[i_off] if i_off < total else ts[total - 1]
                segs.append([s, e, i_on, i_off])
            merged = [segs[0]]
            for sg in segs[1:]:
                if sg[0] - merged[-1][1] < min_duration_off:
                    merged[-1][1], merged[-1][3] = sg[1], sg[3]
                else:
                    merged.append(sg)
            for s, e, i_on, i_off in merged:
                s, e = max(0.0, float(s)), min(duration, float(e))
                if e - s <= 1e-3:
                    continue
                seg_act = act_q[int(i_on) : max(int(i_on) + 1, int(i_off))].astype(np.float32) / 255.0
                means = seg_act.mean(axis=0)  # every speaker's activity over this turn's frames
                per = {j: float(means[j]) for j in range(len(means))}
                out.append((round(s, 3), round(e, 3), k, per[k], per))
        return out
