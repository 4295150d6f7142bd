"""Render a job's ``output`` (the API's pyannoteAI-shaped JSON) as RTTM, CSV, a table or a timeline,
and a transcribed job's as WebVTT, SRT or "who said what" text.

Multichannel results carry ``channels: [{channel, diarization, ...}]``; every writer then emits
one block per channel, turns in time order, channels numbered from 1 (as the RTTM convention wants).
RTTM and CSV lines come from the engine's line writers (``diarist.engine.formats``, no torch), so
a job's output and a local ``diarist diarize`` result are written the same way; so are the
transcript formats (``cues_of``, ``vtt_cues``, ``srt_cues``, ``text_turns``). The output does not say
the language: a channel's words are joined without spaces when its turn-level texts were (a script
written without spaces), else with one; times show hours when a turn ends past the first hour.
The console (``diarist/console/static/formats.js``) writes the same bytes in the browser; the
browser tests compare its downloads with these functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from diarist.domain.results import TranscriptItem
from diarist.engine.formats import (
    TranscriptChannel,
    TurnLine,
    csv_lines,
    cues_of,
    rttm_lines,
    srt_cues,
    text_turns,
    vtt_cues,
)


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


def _parts(output: dict[str, Any]) -> list[dict[str, Any]]:
    channels = output.get("channels")
    return list(channels) if channels else [output]


def _joiner(words: list[TranscriptItem], turns: list[TranscriptItem]) -> str:
    """ " " unless each turn of several words reads as its words written without spaces (turns are
    the runs of consecutive words of one speaker, in order)."""
    runs: list[list[str]] = []
    speaker = None
    for w in words:
        if runs and w.speaker == speaker:
            runs[-1].append(w.text)
        else:
            runs.append([w.text])
        speaker = w.speaker
    several = False
    for run, turn in zip(runs, turns, strict=False):
        if len(run) > 1:
            several = True
            if turn.text == " ".join(run).strip() or turn.text != "".join(run).strip():
                return " "
    return "" if several else " "


def transcript_channels(output: dict[str, Any]) -> list[TranscriptChannel]:
    """The channels of a transcribed job's output for the transcript formats; ValueError when it has no
    transcription."""
    parts = _parts(output)
    if not any("wordLevelTranscription" in p for p in parts):
        raise ValueError(
            "this job has no transcription (submit it with transcription: true to get vtt, srt or txt)"
        )
    multi = len(parts) > 1
    out = []
    for p in parts:
        words = [TranscriptItem.model_validate(w) for w in p.get("wordLevelTranscription") or []]
        turns = [TranscriptItem.model_validate(t) for t in p.get("turnLevelTranscription") or []]
        prefix = f"ch{int(p.get('channel') or 0) + 1} " if multi else ""
        out.append(TranscriptChannel(prefix, words, turns, _joiner(words, turns)))
    return out


def to_vtt(output: dict[str, Any]) -> str:
    """WebVTT with voice tags, as ``diarist diarize --transcribe --format vtt`` writes it."""
    return vtt_cues(cues_of(transcript_channels(output)))


def to_srt(output: dict[str, Any]) -> str:
    """SubRip with the speaker prefixed, as ``diarist diarize --transcribe --format srt`` writes it."""
    return srt_cues(cues_of(transcript_channels(output)))


def to_text(output: dict[str, Any]) -> str:
    """Who said what, one line per turn, as ``diarist diarize --transcribe --format txt`` writes it."""
    channels = transcript_channels(output)
    last = max((t.end for ch in channels for t in [*ch.turns, *ch.words]), default=0.0)
    last = max([last, *(float(t["end"]) for p in _parts(output) for t in p.get("diarization") or [])])
    return text_turns(channels, hours=last >= 3600)


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
