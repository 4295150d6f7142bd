"""Shared helpers of the benchmark scripts (not a test; prints numbers)."""

from __future__ import annotations

import csv
import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# the dev set lives next to the checkout (<repo>/../shared/data/diarization-dev); never copied into the repo
DEV_SET = Path(__file__).resolve().parents[2] / "shared" / "data" / "diarization-dev"
sys.path.insert(0, str(REPO / "src"))


@dataclass
class Item:
    """One scored unit: a mono file, or one channel of a multichannel file."""

    id: str
    path: Path
    rttm: Path
    channel: int | None  # 0-based audio channel for multichannel files
    channels: int
    duration: float
    num_speakers: int

    @property
    def uri(self) -> str:
        return self.id if self.channel is None else f"{self.id}/ch{self.channel + 1}"


def dev_items(dev: Path = DEV_SET) -> list[Item]:
    if not (dev / "manifest.csv").is_file():
        raise SystemExit(f"dev set not found at {dev} (expected <repo>/../shared/data/diarization-dev)")
    items = []
    with (dev / "manifest.csv").open() as f:
        for row in csv.DictReader(f):
            nch = int(row["channels"])
            per = {}
            if row["speakers_per_channel"]:
                for part in row["speakers_per_channel"].split(";"):
                    ch, n = part.split(":")
                    per[int(ch[2:]) - 1] = int(n)
            for ch in [None] if nch == 1 else list(range(nch)):
                items.append(
                    Item(
                        row["id"],
                        dev / row["path"],
                        dev / row["rttm"],
                        ch,
                        nch,
                        float(row["duration_s"]),
                        int(row["num_speakers"]) if ch is None else per.get(ch, 1),
                    )
                )
    return items


def reference(item: Item):  # -> pyannote.core.Annotation
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=item.uri)
    want = 1 if item.channel is None else item.channel + 1
    for i, line in enumerate(item.rttm.read_text().splitlines()):
        p = line.split()
        if len(p) < 8 or p[0] != "SPEAKER" or int(p[2]) != want:
            continue
        start, dur = float(p[3]), float(p[4])
        ann[Segment(start, start + dur), str(i)] = p[7]
    return ann


def peak_rss_mib() -> float:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def set_threads() -> int:
    n = int(os.environ.get("DIARIST_NUM_THREADS", os.cpu_count() or 1))
    os.environ["DIARIST_NUM_THREADS"] = str(n)
    return n
