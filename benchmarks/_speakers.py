"""Shared helpers of the voiceprint benchmarks (not a test; no numbers printed here).

* the dev-set recordings whose speakers recur in another recording: the simulated LibriSpeech
  conversations, and the AMI excerpts of one meeting series (ES2003a/b, EN2001a/b/e) or one participant
  (FEE083 in EN2005a and EN2009b);
* reference turns and each speaker's *clean* regions (its turns minus other speakers' turns of the same
  channel);
* **shared audio**: the simulated conversations reuse LibriSpeech chunks across files (the same
  utterance, at another gain, in two conversations). :func:`shared_turns` finds the turns whose audio
  occurs in another file (normalised cross-correlation > 0.8 of 1 s from the middle of a turn), so
  that enrolment and test never hold the same audio;
* enrolment audio: a speaker's clean regions of one file concatenated into one <= 30 s wav.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import DEV_SET

SIMULATED = [
    "sim_dev_2spk_mono",
    "sim_dev_3spk_overlap",
    "sim_dev_5spk_mixed",
    "sim_dev_stereo_1plus1",
    "sim_dev_stereo_1plus2",
]
REAL = [  # AMI excerpts whose speakers recur in another excerpt
    "ami_ES2003a_0000s_30s",
    "ami_ES2003b_0000s_30s",
    "ami_EN2001a_0000s_30s",
    "ami_EN2001b_0000s_30s",
    "ami_EN2001e_0000s_30s",
    "ami_EN2005a_0000s_30s",
    "ami_EN2009b_0000s_30s",
]
SR = 16000


@dataclass(frozen=True)
class RefTurn:
    file: str
    channel: int  # 0-based
    speaker: str
    start: float
    end: float

    @property
    def key(self) -> tuple[str, int, float]:
        return (self.file, self.channel, self.start)


Region = tuple[float, float, RefTurn]  # start, end, the turn it comes from


def wav_path(file_id: str) -> Path:
    return DEV_SET / ("simulated" if file_id.startswith("sim_") else "") / f"{file_id}.wav"


def ref_turns(file_id: str) -> list[RefTurn]:
    out = []
    for line in wav_path(file_id).with_suffix(".rttm").read_text().splitlines():
        p = line.split()
        if len(p) >= 8 and p[0] == "SPEAKER":
            s, d = float(p[3]), float(p[4])
            out.append(RefTurn(file_id, int(p[2]) - 1, p[7], s, s + d))
    return sorted(out, key=lambda t: (t.channel, t.start))


def clean_regions(turns: list[RefTurn], speaker: str, channel: int, min_s: float = 0.3) -> list[Region]:
    """``speaker``'s turns in ``channel`` minus every other speaker's turns there (>= ``min_s`` pieces)."""
    others = [(t.start, t.end) for t in turns if t.channel == channel and t.speaker != speaker]
    out: list[Region] = []
    for t in turns:
        if t.channel != channel or t.speaker != speaker:
            continue
        pieces = [(t.start, t.end)]
        for hs, he in others:
            nxt = []
            for s, e in pieces:
                if he <= s or hs >= e:
                    nxt.append((s, e))
                    continue
                if hs > s:
                    nxt.append((s, hs))
                if he < e:
                    nxt.append((he, e))
            pieces = nxt
        out.extend((s, e, t) for s, e in pieces if e - s >= min_s)
    return sorted(out, key=lambda r: r[0])


def speaker_channels(turns: list[RefTurn]) -> list[tuple[str, int]]:
    return sorted({(t.speaker, t.channel) for t in turns})


@dataclass
class Corpus:
    """Every file decoded once by the engine's decoder (split channels), read by region."""

    files: list[str]
    tmp: Path
    decoded: dict[str, object] = field(default_factory=dict)
    turns: dict[str, list[RefTurn]] = field(default_factory=dict)

    def store(self, file_id: str, channel: int):  # -> AudioStore
        from diarist.engine.audio import AudioStore

        dec = self.decoded[file_id]
        return AudioStore(dec.paths[channel], dec.num_samples)  # type: ignore[attr-defined]

    def read(self, turn: RefTurn, start: float, end: float) -> np.ndarray:
        with self.store(turn.file, turn.channel) as st:
            return st.read(int(start * SR), int((end - start) * SR))


@contextmanager
def corpus(files: list[str]) -> Iterator[Corpus]:
    from diarist.engine.audio import decode
    from diarist.engine.options import InputLimits

    with tempfile.TemporaryDirectory(prefix="diarist-bench-") as tmp:
        c = Corpus(files, Path(tmp))
        for f in files:
            c.decoded[f] = decode(wav_path(f), Path(tmp) / f, InputLimits(), "split")
            c.turns[f] = ref_turns(f)
        yield c


def _ncc_max(probe: np.ndarray, x: np.ndarray) -> float:
    n = len(probe)
    size = len(probe) + len(x)
    c = np.fft.irfft(np.fft.rfft(probe[::-1], size) * np.fft.rfft(x, size), size)[n - 1 : len(x)]
    energy = np.sqrt(np.maximum(np.convolve(x.astype(np.float64) ** 2, np.ones(n), "valid"), 1e-12))
    return float(np.max(np.abs(c) / (np.linalg.norm(probe) * energy + 1e-9)))


def shared_turns(c: Corpus) -> set[frozenset[tuple[str, int, float]]]:
    """Pairs of turns (of one speaker, in two files) that hold the same audio."""
    by_speaker: dict[str, list[RefTurn]] = {}
    for f in c.files:
        for t in c.turns[f]:
            by_speaker.setdefault(t.speaker, []).append(t)
    pairs: set[frozenset[tuple[str, int, float]]] = set()
    for ts in by_speaker.values():
        for a in ts:
            if a.end - a.start < 1.2:
                continue
            mid = (a.start + a.end) / 2
            probe = c.read(a, mid - 0.5, mid + 0.5)
            for b in ts:
                if b.file == a.file or b.end - b.start < 1.0:
                    continue
                if _ncc_max(probe, c.read(b, b.start, b.end)) > 0.8:
                    pairs.add(frozenset((a.key, b.key)))
    return pairs


def shared_with(pairs: set[frozenset[tuple[str, int, float]]]) -> dict[tuple[str, int, float], set[str]]:
    """turn key -> the other files holding its audio."""
    out: dict[tuple[str, int, float], set[str]] = {}
    for p in pairs:
        a, b = tuple(p)
        out.setdefault(a, set()).add(b[0])
        out.setdefault(b, set()).add(a[0])
    return out


def write_enrollment(c: Corpus, regions: list[Region], dest: Path, max_audio_s: float = 29.5) -> float:
    """Concatenate ``regions`` (in order) with 0.3 s of faint noise between them into a mono 16 kHz wav
    of at most ``max_audio_s``; returns the seconds of speech written."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    parts: list[np.ndarray] = []
    total = speech = 0.0
    for s, e, t in regions:
        room = max_audio_s - total - 0.3
        if room < 0.5:
            break
        e = min(e, s + room)
        parts.append((rng.standard_normal(int(0.3 * SR)) * 3e-4).astype(np.float32))
        parts.append(c.read(t, s, e))
        total += 0.3 + (e - s)
        speech += e - s
    sf.write(str(dest), np.concatenate(parts), SR, subtype="PCM_16")
    return speech
