"""Speaker verification with the engine's voiceprints: EER, score distributions and the 0-100 calibration.

    python benchmarks/speaker_verification.py

Trials come from the dev set's recordings whose speakers recur in another recording (``_speakers.py``):
the 5 simulated LibriSpeech conversations, and separately the real AMI excerpts. From the reference
RTTMs, each speaker's *clean* speech (no other speaker in its channel) is cut into

* **enrolments**: per (recording, speaker), the clean speech of turns whose audio occurs in no other
  recording, concatenated into one <= 30 s wav and made into a voiceprint by ``Engine.voiceprint``
  (the real path: decoding, the voiceprint's own diarization, most talkative speaker, embedding);
* **chunks**: consecutive clean regions of one speaker grouped into 3-10 s of speech, embedded in place
  with ``diarist.engine.voiceprints.embed_regions`` (the procedure identify uses for speakers);
* **whole speakers**: all of a speaker's clean speech in one recording, embedded the same way.

Trial lists (always across recordings; chunk pairs that share audio are left out):
``enrol x chunk`` (the calibration set), ``enrol x speaker`` (what identify does), ``chunk x chunk``.
Prints, per group and list: EER, cosine distributions of target and non-target trials, a class-balanced
logistic fit of "same speaker" on the cosine, the false-accept / false-reject rates of the constants
currently in ``diarist.domain.voiceprints`` at a few score thresholds and the worst trials; then the
fit on all trials pooled, which gives ``CALIBRATION_CENTER`` and ``CALIBRATION_SLOPE``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import set_threads
from _speakers import (
    REAL,
    SIMULATED,
    Region,
    clean_regions,
    corpus,
    shared_turns,
    shared_with,
    speaker_channels,
    write_enrollment,
)


@dataclass
class Emb:
    kind: str  # enrol | chunk | speaker
    group: str  # simulated | real
    file: str
    speaker: str
    speech_s: float
    vector: np.ndarray
    turns: frozenset[tuple[str, int, float]]


def chunks_of(regions: list[Region], lo: float, hi: float) -> list[list[Region]]:
    out, cur, tot = [], [], 0.0
    for s, e, t in regions:
        e = min(e, s + (hi - tot))
        cur.append((s, e, t))
        tot += e - s
        if tot >= lo:
            out.append(cur)
            cur, tot = [], 0.0
    return out


def eer(tar: np.ndarray, non: np.ndarray) -> tuple[float, float]:
    """(equal error rate, cosine threshold where false accepts ~ false rejects)."""
    thr = np.sort(np.concatenate([tar, non]))
    frr = np.searchsorted(np.sort(tar), thr, side="left") / len(tar)
    far = 1.0 - np.searchsorted(np.sort(non), thr, side="left") / len(non)
    i = int(np.argmin(np.abs(far - frr)))
    return float((far[i] + frr[i]) / 2), float(thr[i])


def logistic_fit(tar: np.ndarray, non: np.ndarray) -> tuple[float, float]:
    """Class-balanced logistic regression of "target" on the cosine: returns (center, slope).

    Platt's targets ((n+1)/(n+2) for the targets, 1/(n+2) for the non-targets) instead of 1 and 0, so the
    fit stays finite when the two classes do not overlap at all (as in the simulated set)."""
    x = np.concatenate([tar, non])
    y = np.concatenate(
        [np.full(len(tar), (len(tar) + 1) / (len(tar) + 2)), np.full(len(non), 1 / (len(non) + 2))]
    )
    w = np.concatenate([np.full(len(tar), 0.5 / len(tar)), np.full(len(non), 0.5 / len(non))])
    X = np.stack([x, np.ones_like(x)], axis=1)
    theta = np.zeros(2)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(X @ theta)))
        grad = X.T @ (w * (p - y))
        H = (X * (w * p * (1 - p))[:, None]).T @ X + 1e-9 * np.eye(2)
        step = np.linalg.solve(H, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    a, b = theta
    return float(-b / a), float(a)


def describe(name: str, v: np.ndarray) -> str:
    if len(v) == 0:
        return f"  {name:10s} n=0"
    p = np.percentile(v, [1, 5, 50, 95, 99])
    return (
        f"  {name:10s} n={len(v):5d} mean={v.mean():.3f} std={v.std():.3f} "
        f"p1={p[0]:.3f} p5={p[1]:.3f} p50={p[2]:.3f} p95={p[3]:.3f} p99={p[4]:.3f}"
    )


Trial = tuple[float, "Emb", "Emb"]


def trials(a: list[Emb], b: list[Emb], exclude_shared: dict) -> tuple[list[Trial], list[Trial]]:
    """(target, non-target) trials of ``a`` x ``b``: different recordings, same group, no shared audio."""
    tar: list[Trial] = []
    non: list[Trial] = []
    for x in a:
        for y in b:
            if x is y or x.file == y.file or x.group != y.group:
                continue
            if any(x.file == f for k in y.turns for f in exclude_shared.get(k, ())) or any(
                y.file == f for k in x.turns for f in exclude_shared.get(k, ())
            ):
                continue
            if a is b and id(x) > id(y):  # each unordered pair once
                continue
            (tar if x.speaker == y.speaker else non).append((float(x.vector @ y.vector), x, y))
    return tar, non


def _name(e: Emb) -> str:
    return f"{e.kind} {e.speaker}@{e.file} ({e.speech_s:.1f} s)"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-chunk", type=float, default=3.0)
    ap.add_argument("--max-chunk", type=float, default=10.0)
    ap.add_argument("--min-enrol", type=float, default=3.0, help="least clean speech for an enrolment")
    ap.add_argument("--save", metavar="NPZ", help="also write every trial's cosine, by group and list")
    args = ap.parse_args()
    set_threads()

    from diarist.domain import voiceprints as dvp
    from diarist.engine import load_engine
    from diarist.engine.voiceprints import embed_regions

    engine = load_engine()
    print(f"embedding model: {engine.embedding_model_id}")
    embs: list[Emb] = []
    with corpus(SIMULATED + REAL) as c, tempfile.TemporaryDirectory() as tmp:
        pairs = shared_turns(c)
        shared = shared_with(pairs)
        print(f"turns whose audio recurs in another recording: {len(shared)} ({len(pairs)} pairs)")
        for f in c.files:
            group = "simulated" if f in SIMULATED else "real"
            by_channel: dict[int, list[tuple[str, str, list[Region]]]] = defaultdict(list)
            for spk, ch in speaker_channels(c.turns[f]):
                regions = clean_regions(c.turns[f], spk, ch)
                for chunk in chunks_of(regions, args.min_chunk, args.max_chunk):
                    by_channel[ch].append(("chunk", spk, chunk))
                if regions:
                    by_channel[ch].append(("speaker", spk, regions))
                own = [r for r in regions if r[2].key not in shared]
                if sum(e - s for s, e, _ in own) >= args.min_enrol:
                    wav = Path(tmp) / f"{f}_{spk}.wav"
                    speech = write_enrollment(c, own, wav)
                    vp = dvp.decode_voiceprint(engine.voiceprint(wav).voiceprint, engine.embedding_model_id)
                    used = frozenset(r[2].key for r in own)
                    embs.append(Emb("enrol", group, f, spk, speech, np.asarray(vp.vector), used))
            for ch, items in by_channel.items():
                with c.store(f, ch) as store:
                    vecs = embed_regions(
                        engine.models.embedding, store, [[(s, e) for s, e, _ in r] for *_, r in items]
                    )
                for (kind, spk, regs), v in zip(items, vecs, strict=True):
                    if v is not None:
                        speech = sum(e - s for s, e, _ in regs)
                        embs.append(Emb(kind, group, f, spk, speech, v, frozenset(r[2].key for r in regs)))
    by_kind = defaultdict(list)
    for e in embs:
        by_kind[(e.group, e.kind)].append(e)
    for (g, k), v in sorted(by_kind.items()):
        print(
            f"{g:9s} {k:8s}: {len(v):3d} embeddings, {np.mean([e.speech_s for e in v]):.1f} s of speech on average"
        )

    fits = {}
    pooled_tar: list[float] = []
    pooled_non: list[float] = []
    saved: dict[str, np.ndarray] = {}
    for group in ("simulated", "real"):
        print(f"\n=== {group} ===")
        for name, a, b in (
            ("enrol x chunk", by_kind[(group, "enrol")], by_kind[(group, "chunk")]),
            ("enrol x speaker", by_kind[(group, "enrol")], by_kind[(group, "speaker")]),
            ("chunk x chunk", by_kind[(group, "chunk")], by_kind[(group, "chunk")]),
        ):
            tar_t, non_t = trials(a, b, shared)
            if not tar_t or not non_t:
                print(f"{name}: no trials")
                continue
            tar, non = np.array([t[0] for t in tar_t]), np.array([t[0] for t in non_t])
            saved[f"{group}/{name}/target"], saved[f"{group}/{name}/non-target"] = tar, non
            pooled_tar += tar.tolist()
            pooled_non += non.tolist()
            e, thr = eer(tar, non)
            center, slope = logistic_fit(tar, non)
            fits[(group, name)] = (center, slope)
            print(
                f"{name}: EER {100 * e:.1f} % at cosine {thr:.3f}; logistic fit center {center:.3f} slope {slope:.1f}"
            )
            print(describe("target", tar))
            print(describe("non-target", non))
            scores = np.array([dvp.score_from_cosine(x) for x in tar])
            nscores = np.array([dvp.score_from_cosine(x) for x in non])
            print(
                "  with the constants in diarist.domain.voiceprints "
                f"(center {dvp.CALIBRATION_CENTER}, slope {dvp.CALIBRATION_SLOPE}): "
                + "; ".join(
                    f"score>={t}: false rejects {100 * np.mean(scores < t):.1f} %, "
                    f"false accepts {100 * np.mean(nscores >= t):.2f} %"
                    for t in (30, 50, 70, 90)
                )
            )
            for label, worst in (
                ("lowest targets", sorted(tar_t, key=lambda t: t[0])[:3]),
                ("highest non-targets", sorted(non_t, key=lambda t: -t[0])[:3]),
            ):
                print(f"  {label}: " + "; ".join(f"{c:.3f} {_name(x)} vs {_name(y)}" for c, x, y in worst))
    if args.save:
        np.savez(args.save, **saved)
    tar, non = np.asarray(pooled_tar), np.asarray(pooled_non)
    e, thr = eer(tar, non)
    center, slope = logistic_fit(tar, non)
    fits[("all", "all")] = (center, slope)
    print(
        f"\nall trials pooled: EER {100 * e:.1f} % at cosine {thr:.3f}; logistic fit center {center:.3f} slope {slope:.1f}"
    )
    print(describe("target", tar))
    print(describe("non-target", non))
    print(
        f"calibration (all trials pooled): CALIBRATION_CENTER = {center:.2f}, CALIBRATION_SLOPE = {slope:.1f}; "
        f"in use: {dvp.CALIBRATION_CENTER}, {dvp.CALIBRATION_SLOPE}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
