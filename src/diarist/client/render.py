"""Render a job's ``output`` (the API's pyannoteAI-shaped JSON) as RTTM, CSV, a table or a timeline.

Multichannel results carry ``channels: [{channel, diarization, ...}]``; every writer then emits
one block per channel, turns in time order, channels numbered from 1 (as the RTTM convention wants).
RTTM and CSV lines come from the engine's line writers (``diarist.engine.formats``, no torch), so
a job's output and a local ``diarist diarize`` result are written the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from diarist.engine.formats import TurnLine, csv_lines, rttm_lines


def iter_turns(output: dict[str, Any]) -> Iterator[tuple[int, str, float, float]]:
    """(1-based channel, speaker, start, end) for every turn, in time order per channel."""
    channels = output.get("channels")
    if channels:
        for ch in channels:
            number = int(ch.get("channel") or 0) + 1
            for t in sorted(ch.get("diarization", []), key=lambda t: t["start"]):
                yield number, t["speaker"], float(t["start"]), float(t["end"])
    else:
        for t in sorted(output.get("diarization", []), key=lambda t: t["start"]):
            yield 1, t["speaker"], float(t["start"]), float(t["end"])


def to_rttm(output: dict[str, Any], file_id: str) -> str:
    return rttm_lines((TurnLine(*turn) for turn in iter_turns(output)), file_id)


def to_csv(output: dict[str, Any]) -> str:
    """``channel,speaker,start,end`` rows, CRLF line ends (the csv module's default dialect)."""
    turns = (TurnLine(*turn) for turn in iter_turns(output))
    return csv_lines(turns, duration=False, confidence=False, lineterminator="\r\n")


def to_table(output: dict[str, Any]) -> str:
    lines = []
    multi = bool(output.get("channels"))
    for ch, spk, start, end in iter_turns(output):
        prefix = f"ch{ch}  " if multi else ""
        lines.append(f"{prefix}{_clock(start)} - {_clock(end)}  {spk}")
    return "\n".join(lines)


def _clock(t: float) -> str:
    m, s = divmod(t, 60)
    h, m = divmod(int(m), 60)
    return f"{h:d}:{m:02d}:{s:05.2f}" if h else f"{m:02d}:{s:05.2f}"


def timeline_png(output: dict[str, Any], path: Path, title: str = "") -> Path:
    """One row per speaker (per channel), time on the x axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: dict[str, list[tuple[float, float]]] = {}
    multi = bool(output.get("channels"))
    for ch, spk, start, end in iter_turns(output):
        rows.setdefault(f"ch{ch} {spk}" if multi else spk, []).append((start, end - start))
    labels = sorted(rows)
    fig, ax = plt.subplots(figsize=(10, 0.6 * max(len(labels), 1) + 1.2))
    cmap = plt.get_cmap("tab10")
    for i, label in enumerate(labels):
        ax.broken_barh(rows[label], (i - 0.4, 0.8), facecolors=cmap(i % 10))
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("time (s)")
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlim(left=0)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
