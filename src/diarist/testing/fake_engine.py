"""``FakeJobDiarizer``: a deterministic ``JobDiarizer`` in place of the engine (no torch, no weights).

Selected in the worker by ``DIARIST_ENGINE=fake``. Its behaviour comes from the environment, so a
local-mode test can make a worker process misbehave:

- ``DIARIST_FAKE_BEHAVIOUR=ok`` (default): speakers take turns every ``DIARIST_FAKE_TURN_S``
  seconds (2.0) over the audio's real duration (read with soundfile, or ``wave``).
- ``slow``: the same, spread over ``DIARIST_FAKE_SLOW_S`` seconds (default 20) of progress steps,
  so a test can cancel the job mid-run.
- ``crash``: reports some progress, then the process dies at once without reporting
  (``os._exit(DIARIST_FAKE_EXIT_CODE)``, default 137 as after an OOM kill).
- ``error``: raises ``RuntimeError`` (an unexpected engine failure -> ``internal_error``).
- ``input_error``: raises ``AudioInputError`` (``input_corrupt``).
"""

from __future__ import annotations

import os
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.domain.jobs import JobParams
from diarist.domain.results import ChannelResult, DiarizationResult, Turn

Behaviour = Literal["ok", "slow", "crash", "error", "input_error"]
FAKE_MODEL = "diarist-fake-engine"


def audio_info(path: Path) -> tuple[float, int, int]:
    """(duration s, sample rate, channels) of a WAV/FLAC/OGG file; AudioInputError if unreadable."""
    try:
        import soundfile

        info = soundfile.info(str(path))
        return float(info.duration), int(info.samplerate), int(info.channels)
    except ImportError:
        pass
    except Exception as e:  # soundfile.LibsndfileError and friends
        raise AudioInputError(f"not a readable audio file ({e})", code=ErrorCode.INPUT_CORRUPT) from None
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate(), w.getframerate(), w.getnchannels()
    except (wave.Error, EOFError) as e:
        raise AudioInputError(f"not a readable audio file ({e})", code=ErrorCode.INPUT_CORRUPT) from None


@dataclass
class FakeJobDiarizer:
    behaviour: Behaviour = "ok"
    turn_s: float = 2.0
    slow_s: float = 20.0
    exit_code: int = 137
    calls: int = 0

    @classmethod
    def from_env(cls) -> FakeJobDiarizer:
        behaviour = os.environ.get("DIARIST_FAKE_BEHAVIOUR", "ok").strip().lower()
        if behaviour not in ("ok", "slow", "crash", "error", "input_error"):
            raise ValueError(f"DIARIST_FAKE_BEHAVIOUR={behaviour!r}: use ok|slow|crash|error|input_error")
        return cls(
            behaviour=behaviour,  # type: ignore[arg-type]
            turn_s=float(os.environ.get("DIARIST_FAKE_TURN_S", "2.0")),
            slow_s=float(os.environ.get("DIARIST_FAKE_SLOW_S", "20")),
            exit_code=int(os.environ.get("DIARIST_FAKE_EXIT_CODE", "137")),
        )

    def diarize(self, path: Path, params: JobParams, progress: Callable[[float], None]) -> DiarizationResult:
        self.calls += 1
        progress(0.0)
        if self.behaviour == "input_error":
            raise AudioInputError(
                "the fake engine was told to reject this input", code=ErrorCode.INPUT_CORRUPT
            )
        duration, sample_rate, channels = audio_info(Path(path))
        if duration <= 0:
            raise AudioInputError("the input has no audio samples", code=ErrorCode.INPUT_EMPTY)
        progress(30.0)
        if self.behaviour == "crash":
            os._exit(self.exit_code)
        if self.behaviour == "error":
            raise RuntimeError("the fake engine was told to fail")
        steps = 20 if self.behaviour == "slow" else 4
        for i in range(steps):
            if self.behaviour == "slow":
                time.sleep(self.slow_s / steps)
            progress(30.0 + 70.0 * (i + 1) / steps)
        return self.result(duration, sample_rate, channels, params)

    def result(
        self, duration: float, sample_rate: int, channels: int, params: JobParams
    ) -> DiarizationResult:
        n = params.num_speakers or params.min_speakers or 2
        speakers = [f"SPEAKER_{i:02d}" for i in range(n)]
        turns: list[Turn] = []
        t, k = 0.0, 0
        while t < duration - 1e-6:
            end = min(duration, t + self.turn_s)
            conf = 90.0 if params.confidence or params.turn_level_confidence else None
            turns.append(Turn(speaker=speakers[k % n], start=round(t, 3), end=round(end, 3), confidence=conf))
            t, k = end, k + 1
        used = sorted({x.speaker for x in turns})
        split = params.channel_mode == "split" and channels > 1
        chans = [
            ChannelResult(channel=c, speakers=used, diarization=turns, exclusive_diarization=turns)
            for c in (range(channels) if split else [None])
        ]
        return DiarizationResult(
            duration=round(duration, 3),
            sample_rate=sample_rate,
            num_channels=channels,
            channel_mode="split" if split else "mix",
            channels=chans,
            model=FAKE_MODEL,
        )
