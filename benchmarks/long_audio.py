"""Memory and time against duration: 10 min, 1 h and 4 h inputs made by concatenating real dev-set speech
(generated in a temp dir), each diarized in its own subprocess for a clean peak RSS.

    python benchmarks/long_audio.py [--sizes 10m,1h,4h] [--threads N]

Prints wall time, RTF, CPU s/s and peak RSS per size, the growth per hour, and a linear extrapolation
to 24 h (an extrapolation, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import peak_rss_mib
from speed import concat_dev_speech, cpu_all


def parse_size(s: str) -> float:
    s = s.strip().lower()
    if s.endswith("h"):
        return float(s[:-1]) * 3600
    if s.endswith("m"):
        return float(s[:-1]) * 60
    return float(s)


def child(path: str) -> int:
    from diarist.engine import DiarizeOptions, load_engine

    engine = load_engine()
    rss_loaded = peak_rss_mib()
    c0, w0 = cpu_all(), time.perf_counter()
    res = engine.diarize(path, DiarizeOptions(confidence=True))
    wall, cpu = time.perf_counter() - w0, cpu_all() - c0
    ch = res.channels[0]
    print(
        json.dumps(
            {
                "duration": res.duration,
                "wall": wall,
                "cpu": cpu,
                "peak_rss_mib": peak_rss_mib(),
                "rss_after_load_mib": rss_loaded,
                "speakers": len(ch.speakers),
                "turns": len(ch.diarization),
                "confidence_frames": len(ch.confidence.score),
            }
        )
    )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10m,1h,4h")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ["DIARIST_NUM_THREADS"] = str(args.threads)
    if args.child:
        return child(args.child)
    rows = []
    print(
        f"{'size':>6s} {'wall s':>8s} {'RTF':>6s} {'CPU s/s':>8s} {'peak RSS MiB':>13s} {'after load':>11s} "
        f"{'speakers':>8s}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="diarist-long-") as tmp:
        for size in args.sizes.split(","):
            secs = parse_size(size)
            wav = concat_dev_speech(Path(tmp) / f"long_{size}.wav", secs)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(wav), "--threads", str(args.threads)],
                capture_output=True,
                text=True,
                check=False,
            )
            wav.unlink()
            if out.returncode != 0:
                print(f"{size}: failed\n{out.stderr[-2000:]}")
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["size"] = size
            rows.append(r)
            print(
                f"{size:>6s} {r['wall']:8.1f} {r['wall'] / r['duration']:6.3f} {r['cpu'] / r['duration']:8.3f} "
                f"{r['peak_rss_mib']:13.0f} {r['rss_after_load_mib']:11.0f} {r['speakers']:8d}",
                flush=True,
            )
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        hours = (b["duration"] - a["duration"]) / 3600
        rss_per_h = (b["peak_rss_mib"] - a["peak_rss_mib"]) / hours
        wall_per_h = (b["wall"] - a["wall"]) / hours
        print(
            f"growth between {a['size']} and {b['size']}: {rss_per_h:.0f} MiB of peak RSS per audio hour, "
            f"{wall_per_h:.0f} s of wall time per audio hour"
        )
        extra = (24 * 3600 - b["duration"]) / 3600
        # the duration-dependent state (uint8 per window/frame, float32 per embedding, uint8 per output frame
        # and speaker) is small next to the model activations that set the peak; bound it from its sizes
        per_h_state = (3600 / 1.0) * (589 + 589 * 3 + 1.5 * 768) / 2**20 + (3600 / 0.016875) * 3 * 30 / 2**20
        growth = max(rss_per_h, 0.0)
        print(
            f"EXTRAPOLATION (linear, not measured) to 24 h: peak RSS ~{b['peak_rss_mib'] + growth * extra:.0f} "
            f"MiB from the measured growth; upper bound ~{b['peak_rss_mib'] + per_h_state * extra:.0f} MiB if all "
            f"duration-dependent state (~{per_h_state:.0f} MiB/h at 30 speakers) added to the peak; "
            f"wall ~{(b['wall'] + wall_per_h * extra) / 3600:.1f} h on this machine at the measured rate"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
