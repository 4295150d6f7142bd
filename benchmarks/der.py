"""DER on the dev set: Diarist's engine next to pyannote's SpeakerDiarization pipeline at its default
settings, both built from the same weights (segmentation-3.0 + CAM++), in one run.

    python benchmarks/der.py [--skip-default] [--set clustering_threshold=0.8 ...] [--only ID ...]

Scoring: pyannote.metrics DiarizationErrorRate, overlap scored, per file and overall, with no collar and
with a 0.25 s collar (+-0.25 s around each reference boundary, md-eval's convention = pyannote.metrics
``collar=0.5``). Stereo files are diarized per channel and scored against that channel's RTTM lines.
"pyannote default" = ``SpeakerDiarization(clustering="AgglomerativeClustering")`` with
pyannote/speaker-diarization-3.1's published hyper-parameters (centroid linkage, threshold 0.7046,
min_cluster_size 12, min_duration_off 0, segmentation step 0.1, no overlap exclusion); the 4.x default
(VBx) needs a PLDA trained for the embedding, which CAM++ does not have.
"""

from __future__ import annotations

import argparse
import time

from _common import DEV_SET, dev_items, reference, set_threads

COLLARS = {"c0": 0.0, "c0.25": 0.5}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-default", action="store_true", help="only run Diarist's engine")
    ap.add_argument("--set", action="append", default=[], help="hyper-parameter override key=value")
    ap.add_argument("--only", nargs="*", default=None, help="item ids to run")
    ap.add_argument("--oracle-count", action="store_true", help="give both systems the true speaker count")
    args = ap.parse_args()
    threads = set_threads()

    import torch
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    from diarist.engine import load_engine
    from diarist.engine.audio import AudioStore, decode
    from diarist.engine.options import InputLimits

    engine = load_engine()
    hp = engine.hyperparameters
    for kv in args.set:
        k, v = kv.split("=", 1)
        cur = getattr(hp, k)
        hp = hp.replace(**{k: (v.lower() in ("1", "true", "yes")) if isinstance(cur, bool) else type(cur)(v)})
    diarizer = engine.channel_diarizer(hp)
    print(f"dev set: {DEV_SET}\nthreads: {threads}  device: {engine.device}\nours: {hp}")

    pipeline = None
    if not args.skip_default:
        import pyannote.audio.pipelines.speaker_diarization as sd
        from pyannote.audio.pipelines import SpeakerDiarization

        sd.get_plda = lambda *a, **k: None  # AHC needs no PLDA; don't look for community-1's on the hub

        pipeline = SpeakerDiarization(
            segmentation=engine.models.segmentation,
            embedding=engine.models.embedding_model,
            clustering="AgglomerativeClustering",
            segmentation_batch_size=32,
            embedding_batch_size=32,
        )
        pipeline.instantiate(
            {
                "segmentation": {"min_duration_off": 0.0},
                "clustering": {"method": "centroid", "min_cluster_size": 12, "threshold": 0.7045654963945799},
            }
        )

    systems = ["ours"] + (["default"] if pipeline is not None else [])
    metrics = {
        (s, c): DiarizationErrorRate(collar=v, skip_overlap=False)
        for s in systems
        for c, v in COLLARS.items()
    }
    times = dict.fromkeys(systems, 0.0)
    audio_s = 0.0
    items = [it for it in dev_items() if args.only is None or it.id in args.only]
    import tempfile
    from pathlib import Path

    header = f"{'item':40s} {'spk':>3s} " + " ".join(f"{s + ' ' + c:>14s}" for s in systems for c in COLLARS)
    print(header + "  found")
    for it in items:
        ref = reference(it)
        uem = Segment(0, it.duration)
        with tempfile.TemporaryDirectory() as tmp:
            dec = decode(it.path, Path(tmp), InputLimits(), "split")
            ch = it.channel or 0
            audio_s += dec.duration
            hyps = {}
            found = {}
            ns = it.num_speakers if args.oracle_count else None
            t0 = time.perf_counter()
            with AudioStore(dec.paths[ch], dec.num_samples) as store:
                out = diarizer.run(store, num_speakers=ns, want_confidence=False)
            times["ours"] += time.perf_counter() - t0
            hyp = Annotation(uri=it.uri)
            for i, (s, e, k, *_) in enumerate(out.turns):
                hyp[Segment(s, e), i] = f"S{k}"
            hyps["ours"], found["ours"] = hyp, out.num_speakers
            if pipeline is not None:
                with AudioStore(dec.paths[ch], dec.num_samples) as store:
                    wav = torch.from_numpy(store.read(0, dec.num_samples))[None]
                t0 = time.perf_counter()
                res = pipeline({"waveform": wav, "sample_rate": 16000, "uri": it.uri}, num_speakers=ns)
                times["default"] += time.perf_counter() - t0
                hyps["default"] = res.speaker_diarization
                found["default"] = len(res.speaker_diarization.labels())
        cells = []
        for s in systems:
            for c in COLLARS:
                cells.append(f"{100 * metrics[(s, c)](ref, hyps[s], uem=_uem(uem)):14.1f}")
        print(
            f"{it.uri:40s} {it.num_speakers:3d} "
            + " ".join(cells)
            + "  "
            + " ".join(f"{s}={found[s]}" for s in systems),
            flush=True,
        )
    print("-" * len(header))
    print(
        f"{'OVERALL (aggregated over items)':40s} {'':3s} "
        + " ".join(f"{100 * abs(metrics[(s, c)]):14.1f}" for s in systems for c in COLLARS)
    )
    for s in systems:
        print(f"{s}: {times[s]:.1f} s for {audio_s:.0f} s of audio (RTF {times[s] / audio_s:.3f})")
    return 0


def _uem(seg):  # -> pyannote.core.Timeline
    from pyannote.core import Timeline

    return Timeline([seg])


if __name__ == "__main__":
    raise SystemExit(main())
