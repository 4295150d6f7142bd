"""Speed of the engine on this machine: model load time, real-time factor, CPU seconds per audio second,
peak RSS. Runs every dev-set file plus a 10-minute concatenation of dev-set speech.

    python benchmarks/speed.py [--threads N] [--minutes 10]

RTF = wall seconds / audio seconds; CPU s/s = (user+system CPU seconds) / audio seconds (independent of
other load on the machine, unlike the wall clock). Decoding (ffmpeg, a child process) is included in the
wall time; its CPU time is included via RUSAGE_CHILDREN.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DEV_SET, dev_items, peak_rss_mib


def cpu_all() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def concat_dev_speech(dest: Path, seconds: float) -> Path:
    """Mono 16 kHz wav of dev-set recordings concatenated (repeated) up to ``seconds``."""
    files = sorted({it.path for it in dev_items()})
    lst = dest.with_suffix(".txt")
    total, lines = 0.0, []
    durs = {it.path: it.duration for it in dev_items()}
    while total < seconds:
        for f in files:
            lines.append(f"file '{f}'")
            total += durs[f]
            if total >= seconds:
                break
    lst.write_text("\n".join(lines) + "\n")
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(lst),
            "-ac",
            "1",
            "-ar",
            "16000",
            "-t",
            str(seconds),
            "-c:a",
            "pcm_s16le",
            str(dest),
        ],
        check=True,
    )
    return dest


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    os.environ["DIARIST_NUM_THREADS"] = str(args.threads)

    t0 = time.perf_counter()
    from diarist.engine import DiarizeOptions, load_engine
    from diarist.engine import engine as _engine_mod  # noqa: F401  (imports torch + pyannote)

    t_import = time.perf_counter() - t0
    engine = load_engine()
    print(f"machine: {os.cpu_count()} cores, torch threads {args.threads}, device {engine.device}")
    print(f"import torch+pyannote: {t_import:.1f} s; model load: {engine.load_seconds:.2f} s")
    print(f"hyper-parameters: {engine.hyperparameters}")
    opts = DiarizeOptions(confidence=True)
    # warm-up (first call allocates)
    engine.diarize(DEV_SET / "fasterwhisper_stereo_5s.wav", opts)

    def run(path: Path) -> tuple[float, float, float]:
        c0, w0 = cpu_all(), time.perf_counter()
        res = engine.diarize(path, opts)
        return time.perf_counter() - w0, cpu_all() - c0, res.duration * len(res.channels)

    wall = cpu = audio = 0.0
    for path in sorted({it.path for it in dev_items()}):
        w, c, a = run(path)
        wall, cpu, audio = wall + w, cpu + c, audio + a
    print(
        f"dev set ({audio:.0f} s of channel audio, {len({it.path for it in dev_items()})} files): "
        f"RTF {wall / audio:.3f}, CPU {cpu / audio:.3f} s/s, wall {wall:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        long = concat_dev_speech(Path(tmp) / "long.wav", args.minutes * 60)
        w, c, a = run(long)
        print(f"{args.minutes:g} min concatenation: RTF {w / a:.3f}, CPU {c / a:.3f} s/s, wall {w:.1f} s")
    print(f"peak RSS of this process: {peak_rss_mib():.0f} MiB")
    load = os.getloadavg()
    print(
        f"load average during the run (1/5/15 min): {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
        "(other processes on the machine inflate the wall clock, not the CPU s/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
