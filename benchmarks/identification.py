"""Identification with voiceprints enrolled in another recording: right-name rate and absent-speaker matches.

    python benchmarks/identification.py [--thresholds 0,10,30,50,70]

For every target recording B of the dev set whose speakers recur elsewhere (``_speakers.py``: the 5
simulated LibriSpeech conversations; the AMI excerpts of one meeting series or participant):

* each speaker of B heard in another recording A gets a voiceprint from A: its clean speech (no other
  speaker) in turns whose audio does not occur in B, concatenated into <= 30 s and made into a voiceprint
  by ``Engine.voiceprint`` (the source A with the most such speech; none under 3 s);
* every other speaker of the same group (simulated / real) is an *absent* speaker: its voiceprint comes
  from its own recordings and must not be matched in B;
* ``Engine.identify`` runs once per B (stereo files: each channel on its own, the engine's default);
  the matching is then re-applied to the reported 0-100 scores for each threshold
  (``diarist.domain.voiceprints.match_speakers`` within each channel, as the engine does), exclusive
  and not;
* "oracle" rows do the same with the *reference* speakers (their clean speech embedded as the engine
  embeds its speakers): what the voiceprints alone get right, without diarization errors.

Scored on a 10 ms grid against the reference RTTM (overlap counted per speaker):
**right name** = fraction of the enrolled present speakers' reference speech where the identification
has a turn with their name; **absent** = fraction of all reference speech time where the
identification has a turn with an absent speaker's name (the target is < 5 %); **wrong name** = fraction
of the enrolled present speakers' speech that lacks their name but carries another present speaker's.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import set_threads
from _speakers import (
    REAL,
    SIMULATED,
    clean_regions,
    corpus,
    shared_turns,
    shared_with,
    wav_path,
    write_enrollment,
)

GRID = 0.01
MIN_ENROL_S = 3.0


def _mask(regions: list[tuple[float, float]], n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for s, e in regions:
        m[int(round(s / GRID)) : int(round(e / GRID))] = True
    return m


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--thresholds", default="0,10,30,50,70")
    args = ap.parse_args()
    thresholds = [float(x) for x in args.thresholds.split(",")]
    set_threads()

    from diarist.domain.voiceprints import (
        DEFAULT_THRESHOLD,
        confidence_from_cosine,
        decode_voiceprint,
        match_speakers,
    )
    from diarist.engine import DiarizeOptions, load_engine
    from diarist.engine.voiceprints import embed_regions

    engine = load_engine()
    print(f"embedding model: {engine.embedding_model_id}; default threshold {DEFAULT_THRESHOLD:g}")
    # totals[(group, diarization, exclusive, threshold)] = [enrolled speech, right, wrong present, absent,
    # all speech]; diarization = "system" (the engine's) or "oracle" (the reference speakers, embedded alike)
    totals: dict[tuple[str, str, bool, float], np.ndarray] = defaultdict(lambda: np.zeros(5))
    with corpus(SIMULATED + REAL) as c, tempfile.TemporaryDirectory() as tmp:
        shared = shared_with(shared_turns(c))
        cache: dict[tuple[str, str, str], str | None] = {}

        def voiceprint(speaker: str, source: str, avoid: str) -> tuple[str | None, float]:
            """Voiceprint of ``speaker`` from recording ``source``, without audio that occurs in ``avoid``."""
            regions = []
            for sp_ch in {(t.speaker, t.channel) for t in c.turns[source] if t.speaker == speaker}:
                regions += clean_regions(c.turns[source], *sp_ch)
            regions = [
                r for r in sorted(regions, key=lambda r: r[0]) if avoid not in shared.get(r[2].key, ())
            ]
            speech = sum(e - s for s, e, _ in regions)
            if speech < MIN_ENROL_S:
                return None, speech
            key = (speaker, source, avoid)
            if key not in cache:
                wav = Path(tmp) / f"{speaker}_{source}_{avoid}.wav"
                write_enrollment(c, regions, wav)
                cache[key] = engine.voiceprint(wav).voiceprint
            return cache[key], speech

        for group, files in (("simulated", SIMULATED), ("real", REAL)):
            speakers_in = {f: {t.speaker for t in c.turns[f]} for f in files}
            everyone = sorted(set().union(*speakers_in.values()))
            print(f"\n=== {group} ===")
            for b in files:
                present, absent, unknown = {}, {}, []
                for spk in sorted(speakers_in[b]):
                    best = (None, 0.0, "")
                    for a in files:
                        if a != b and spk in speakers_in[a]:
                            vp, speech = voiceprint(spk, a, b)
                            if vp is not None and speech > best[1]:
                                best = (vp, speech, a)
                    if best[0] is None:
                        unknown.append(spk)
                    else:
                        present[spk] = best
                if not present:
                    print(f"{b}: no speaker of it can be enrolled from another recording; skipped")
                    continue
                for spk in everyone:
                    if spk in speakers_in[b]:
                        continue
                    best = (None, 0.0, "")
                    for a in files:
                        if spk in speakers_in[a]:
                            vp, speech = voiceprint(spk, a, b)
                            if vp is not None and speech > best[1]:
                                best = (vp, speech, a)
                    if best[0] is not None:
                        absent[spk] = best
                prints = {spk: v[0] for spk, v in {**present, **absent}.items()}
                result = engine.identify(
                    wav_path(b), prints, DiarizeOptions(confidence=False), exclusive=True, threshold=0
                )
                labels = list(prints)
                n = int(np.ceil(result.duration / GRID)) + 1
                ref = {
                    spk: _mask([(t.start, t.end) for t in c.turns[b] if t.speaker == spk], n)
                    for spk in speakers_in[b]
                }
                speech_all = np.any(np.stack(list(ref.values())), axis=0).sum() * GRID
                print(
                    f"{b}: present+enrolled "
                    + ", ".join(f"{s} (from {v[2]}, {v[1]:.0f} s)" for s, v in present.items())
                    + f"; unknown {unknown or '-'}; absent voiceprints {len(absent)}; found "
                    + " + ".join(str(len(ch.speakers)) for ch in result.channels)
                    + " speakers"
                )
                # (channel, speaker, scores, turns): the engine's speakers, and the reference ones (oracle)
                system = [
                    (
                        ch.channel,
                        m.speaker,
                        [m.confidence[lab] for lab in labels],
                        [(t.start, t.end) for t in ch.diarization if t.speaker == m.speaker],
                    )
                    for ch in result.channels
                    for m in ch.voiceprint_matches or []
                ]
                for chan, spk, row, _ in system:
                    top = sorted(zip(labels, row, strict=True), key=lambda kv: -kv[1])[:3]
                    print(f"    ch{chan} {spk}: " + ", ".join(f"{k} {v}" for k, v in top))
                oracle = []
                matrix = np.asarray([decode_voiceprint(prints[lab]).vector for lab in labels])
                for spk, chan in sorted({(t.speaker, t.channel) for t in c.turns[b]}):
                    regions = [(r0, r1) for r0, r1, _ in clean_regions(c.turns[b], spk, chan, min_s=0.0)]
                    with c.store(b, chan) as store:
                        (vec,) = embed_regions(engine.models.embedding, store, [regions])
                    row = (
                        [confidence_from_cosine(float(x)) for x in matrix @ vec]
                        if vec is not None
                        else [0] * len(labels)
                    )
                    turns = [(t.start, t.end) for t in c.turns[b] if t.speaker == spk and t.channel == chan]
                    oracle.append((chan, spk, row, turns))
                for diarization, speakers in (("system", system), ("oracle", oracle)):
                    for exclusive in (True, False):
                        for thr in thresholds:
                            hyp: dict[str, np.ndarray] = {}
                            for chan in sorted({x[0] for x in speakers}, key=str):
                                rows = [x for x in speakers if x[0] == chan]
                                matched = match_speakers(
                                    [x[2] for x in rows], exclusive=exclusive, threshold=thr
                                )
                                for (_, _, _, turns), j in zip(rows, matched, strict=True):
                                    if j is not None:
                                        hyp[labels[j]] = hyp.get(labels[j], np.zeros(n, bool)) | _mask(
                                            turns, n
                                        )
                            none = np.zeros(n, bool)
                            enrolled = sum(ref[s].sum() for s in present) * GRID
                            right = sum((ref[s] & hyp.get(s, none)).sum() for s in present) * GRID
                            wrong = (
                                GRID
                                * sum(  # s speaks, its name is missing, another present name is there
                                    (
                                        ref[s]
                                        & ~hyp.get(s, none)
                                        & np.any(
                                            [hyp.get(o, none) for o in present if o != s] + [none], axis=0
                                        )
                                    ).sum()
                                    for s in present
                                )
                            )
                            absent_t = (
                                GRID * np.any([hyp.get(o, none) for o in absent] + [none], axis=0).sum()
                            )
                            totals[(group, diarization, exclusive, thr)] += [
                                enrolled,
                                right,
                                wrong,
                                absent_t,
                                speech_all,
                            ]
                            if exclusive and thr in (0.0, DEFAULT_THRESHOLD):
                                print(
                                    f"    {diarization} diarization, exclusive, threshold {thr:g}: right name "
                                    f"{100 * right / enrolled:.1f} %, wrong present name {100 * wrong / enrolled:.1f} %, "
                                    f"absent speakers matched {100 * absent_t / speech_all:.1f} % of speech"
                                )
        print("\n=== overall (time-weighted over target recordings) ===")
        print(
            f"{'group':10s} {'diarization':>11s} {'matching':>10s} {'threshold':>9s} {'right name':>11s} "
            f"{'wrong name':>11s} {'absent':>8s}"
        )
        for (group, diarization, exclusive, thr), (enr, right, wrong, absent_t, speech) in sorted(
            totals.items()
        ):
            print(
                f"{group:10s} {diarization:>11s} {'exclusive' if exclusive else 'any':>10s} {thr:9g} "
                f"{100 * right / enr:10.1f}% "
                f"{100 * wrong / enr:10.1f}% {100 * absent_t / speech:7.1f}%"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
