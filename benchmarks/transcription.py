"""Transcription joined with diarization: speed and memory on CPU, and who-said-what accuracy.

    python benchmarks/transcription.py [--speed 10m[,1h]] [--accuracy] [--threads N]

**Speed** (``--speed``, default ``10m``): a mono file of that length made by concatenating real
dev-set speech (``speed.concat_dev_speech``), processed in its own subprocess for a clean peak RSS,
twice: ASR alone (decode + ``Transcriber.transcribe`` over the decoded file, chunk by chunk) and the
whole job (``Engine.diarize`` with ``transcribe=True``: diarization, then ASR, then attribution).
RTF = wall s / audio s; CPU s/s = CPU seconds / audio second (less sensitive to other load).

**Accuracy** (``--accuracy``): the engine diarizes and transcribes each dev-set recording that has
exact speaker labels (the 5 simulated LibriSpeech conversations, stereo ones per channel; and the 9
AMI excerpts, manual labels) and every recognised word is scored against the reference RTTM:

* a word's **true speaker** is the reference speaker whose turns overlap the word most (in the
  simulated set each turn is the speech region of one clean source chunk, so this is exact up to the
  word's own timestamps); a word no reference turn overlaps is *unscored* (counted apart);
* the diarization's labels are mapped to the reference speakers per channel by the assignment that
  maximises the words in agreement (Hungarian); **word diarization error (WDER)** = words whose
  (mapped) speaker is not the true one / scored words;
* "oracle" rows attribute the same words, by the same rule, to the *reference* diarization (made
  exclusive: in overlap, the turn whose centre is nearest): what word timestamps and the rule get
  wrong with a perfect diarization; the rest of the error is the diarization's;
* broken down by where words are: in **overlap** (the word overlaps two reference speakers), in a
  **short turn** (its reference turn < 1 s), **near a change** (within 0.5 s of a reference
  boundary between two speakers), and the rest.

WER needs a reference transcript, and the dev set has none (the LibriSpeech and AMI source
transcripts are not shipped with it): none is computed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from _common import peak_rss_mib
from _speakers import SIMULATED, ref_turns, wav_path
from long_audio import parse_size
from speed import concat_dev_speech, cpu_all

AMI = [
    "ami_EN2001a_0000s_30s",
    "ami_EN2001b_0000s_30s",
    "ami_EN2001e_0000s_30s",
    "ami_EN2003a_0000s_30s",
    "ami_EN2005a_0000s_30s",
    "ami_EN2009b_0000s_30s",
    "ami_ES2003a_0000s_30s",
    "ami_ES2003b_0000s_30s",
    "ami_EN2001_sparse_30s",
]
SHORT_TURN_S = 1.0
NEAR_CHANGE_S = 0.5


# -- speed ---------------------------------------------------------------------------------------


def child(mode: str, path: str) -> int:
    """One measurement in a fresh process; ``asr`` never imports torch (the ASR alone)."""
    from diarist.engine.audio import AudioStore, decode, probe
    from diarist.engine.options import DiarizeOptions, InputLimits
    from diarist.engine.settings import EngineSettings
    from diarist.engine.transcription import load_transcriber

    t0 = time.perf_counter()
    if mode == "asr":
        transcriber = load_transcriber(EngineSettings())
    else:
        from diarist.engine.engine import load_engine

        engine = load_engine()
        engine.transcriber()
    load_s = time.perf_counter() - t0
    rss_loaded = peak_rss_mib()
    c0, w0 = cpu_all(), time.perf_counter()
    words, speakers = 0, 0
    if mode == "asr":
        with tempfile.TemporaryDirectory(prefix="diarist-asr-") as tmp:
            info = probe(Path(path), InputLimits())
            decoded = decode(Path(path), Path(tmp), InputLimits(), "mix", info)
            with AudioStore(decoded.paths[0], decoded.num_samples) as store:
                out = transcriber.transcribe(store)
            words, duration = len(out.words), decoded.duration
    else:
        res = engine.diarize(path, DiarizeOptions(transcribe=True, confidence=False))
        ch = res.channels[0]
        words, speakers, duration = len(ch.word_level_transcription or []), len(ch.speakers), res.duration
    wall, cpu = time.perf_counter() - w0, cpu_all() - c0
    print(
        json.dumps(
            {
                "duration": duration,
                "wall": wall,
                "cpu": cpu,
                "load_s": load_s,
                "peak_rss_mib": peak_rss_mib(),
                "rss_after_load_mib": rss_loaded,
                "words": words,
                "speakers": speakers,
            }
        )
    )
    return 0


def run_speed(sizes: str, threads: int) -> int:
    print(f"CPU: {os.cpu_count()} cores, {threads} threads (shared with other work: wall times are noisy)")
    print(
        f"{'size':>5s} {'what':>10s} {'wall s':>8s} {'RTF':>6s} {'CPU s/s':>8s} {'peak RSS MiB':>13s} "
        f"{'after load':>11s} {'words':>6s}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="diarist-asr-bench-") as tmp:
        for size in sizes.split(","):
            wav = concat_dev_speech(Path(tmp) / f"long_{size}.wav", parse_size(size))
            for mode in ("asr", "full"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, str(wav), "--threads", str(threads)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode != 0:
                    print(f"{size} {mode}: failed\n{out.stderr[-2000:]}")
                    return 1
                r = json.loads(out.stdout.strip().splitlines()[-1])
                what = "ASR only" if mode == "asr" else "diar.+ASR"
                print(
                    f"{size:>5s} {what:>10s} {r['wall']:8.1f} {r['wall'] / r['duration']:6.3f} "
                    f"{r['cpu'] / r['duration']:8.3f} {r['peak_rss_mib']:13.0f} {r['rss_after_load_mib']:11.0f} "
                    f"{r['words']:6d}",
                    flush=True,
                )
            wav.unlink()
    return 0


# -- accuracy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredWord:
    file: str
    channel: int
    text: str
    start: float
    end: float
    hyp: str
    true: str | None
    where: str  # overlap | short turn | near change | clear


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def truth(file_id: str, channel: int, start: float, end: float) -> tuple[str | None, str]:
    turns = [t for t in ref_turns(file_id) if t.channel == channel]
    end = max(end, start + 0.01)
    by_speaker: dict[str, float] = defaultdict(float)
    for t in turns:
        o = _overlap(start, end, t.start, t.end)
        if o > 0:
            by_speaker[t.speaker] += o
    if not by_speaker:
        return None, "unscored"
    true = max(by_speaker, key=lambda s: by_speaker[s])
    if len(by_speaker) > 1:
        return true, "overlap"
    own = [t for t in turns if t.speaker == true and _overlap(start, end, t.start, t.end) > 0]
    if any(t.end - t.start < SHORT_TURN_S for t in own):
        return true, "short turn"
    mid = (start + end) / 2
    for t in turns:
        if t.speaker == true:
            continue
        if min(abs(mid - t.start), abs(mid - t.end)) < NEAR_CHANGE_S + (end - start) / 2:
            return true, "near change"
    return true, "clear"


def mapping(words: list[ScoredWord]) -> dict[str, str]:
    """hyp label -> ref label maximising the words in agreement (one channel)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    hyps = sorted({w.hyp for w in words})
    refs = sorted({w.true for w in words if w.true is not None})
    if not hyps or not refs:
        return {}
    m = np.zeros((len(hyps), len(refs)))
    for w in words:
        if w.true is not None:
            m[hyps.index(w.hyp), refs.index(w.true)] += 1
    rows, cols = linear_sum_assignment(-m)
    return {hyps[r]: refs[c] for r, c in zip(rows, cols, strict=True)}


def oracle_spans(file_id: str, channel: int, step: float = 0.01):  # -> list[SpeakerSpan]
    """The reference turns made exclusive on a 10 ms grid: where reference turns overlap, the one
    whose centre is nearest (two turns that cross-fade are split about the middle of the overlap)."""
    import numpy as np

    from diarist.domain.transcription import SpeakerSpan

    turns = [t for t in ref_turns(file_id) if t.channel == channel]
    if not turns:
        return []
    n = int(max(t.end for t in turns) / step) + 2
    best = np.full(n, np.inf)
    label = np.full(n, -1)
    for i, t in enumerate(turns):
        lo, hi = int(t.start / step), int(t.end / step)
        centre = (t.start + t.end) / 2
        dist = np.abs(np.arange(lo, hi) * step - centre)
        better = dist < best[lo:hi]
        best[lo:hi][better] = dist[better]
        label[lo:hi][better] = i
    spans = []
    start = 0
    for k in range(1, n + 1):
        if k == n or label[k] != label[start]:
            if label[start] >= 0:
                spans.append(SpeakerSpan(turns[label[start]].speaker, start * step, k * step))
            start = k
    return spans


def run_accuracy() -> int:
    from diarist.engine import DiarizeOptions, load_engine

    engine = load_engine()
    engine.transcriber()
    from diarist.domain.transcription import WordTiming, attribute_words

    table: dict[str, list[tuple[ScoredWord, bool]]] = defaultdict(list)
    examples: dict[str, list[str]] = defaultdict(list)
    t0 = time.perf_counter()
    for group, files in (("simulated", SIMULATED), ("AMI", AMI)):
        for file_id in files:
            path = wav_path(file_id)
            if not path.is_file():
                print(f"skip {file_id}: not found")
                continue
            res = engine.diarize(
                path, DiarizeOptions(transcribe=True, confidence=False, channel_mode="split")
            )
            for ch in res.channels:
                c = ch.channel or 0
                scored = []
                for w in ch.word_level_transcription or []:
                    true, where = truth(file_id, c, w.start, w.end)
                    scored.append(ScoredWord(file_id, c, w.text, w.start, w.end, w.speaker, true, where))
                names = mapping(scored)
                for w in scored:
                    ok = w.true is not None and names.get(w.hyp) == w.true
                    table[group].append((w, ok))
                    if not ok and w.true is not None and len(examples[w.where]) < 4:
                        examples[w.where].append(
                            f"  {file_id} ch{c + 1} {w.start:7.2f}-{w.end:6.2f} {w.text!r:18s} {w.where:11s} "
                            f"true {w.true}, given {w.hyp} (= {names.get(w.hyp, 'nobody')})"
                        )
                # the same words attributed by the same rule to the reference diarization (made
                # exclusive): what word timing and the rule alone get wrong
                timings = [WordTiming(w.start, w.end, w.text) for w in scored]
                for w, o in zip(scored, attribute_words(timings, oracle_spans(file_id, c)), strict=True):
                    table[f"{group} oracle"].append((w, w.true is not None and o.speaker == w.true))
    print(f"(engine time {time.perf_counter() - t0:.0f} s)")
    print(f"{'set':>17s} {'where':>12s} {'words':>6s} {'wrong':>6s} {'WDER':>7s}")
    for group, rows in table.items():
        kinds = Counter(w.where for w, _ in rows)
        for where in ("all scored", "clear", "near change", "short turn", "overlap"):
            sel = [
                (w, ok)
                for w, ok in rows
                if w.true is not None and (where == "all scored" or w.where == where)
            ]
            if not sel:
                continue
            wrong = sum(1 for _, ok in sel if not ok)
            print(f"{group:>17s} {where:>12s} {len(sel):6d} {wrong:6d} {100 * wrong / len(sel):6.1f}%")
        print(f"{group:>17s} {'unscored':>12s} {kinds['unscored']:6d}  (outside every reference turn)")
    print("some wrong words (engine diarization):")
    for rows in examples.values():
        print("\n".join(rows))
    print("WER: not computed (no reference transcript in the dev set)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", default=None, help="sizes, e.g. 10m or 10m,1h")
    ap.add_argument("--accuracy", action="store_true")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ["DIARIST_NUM_THREADS"] = str(args.threads)
    if args.child:
        return child(*args.child)
    if args.speed is None and not args.accuracy:
        args.speed, args.accuracy = "10m", True
    rc = 0
    if args.accuracy:
        rc |= run_accuracy()
    if args.speed:
        rc |= run_speed(args.speed, args.threads)
    return rc


if __name__ == "__main__":
    sys.exit(main())
