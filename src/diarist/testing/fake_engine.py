"""``FakeJobDiarizer``: a deterministic ``JobDiarizer`` in place of the engine (no torch, no weights).

Selected in the worker by ``DIARIST_ENGINE=fake``. Its behaviour comes from the environment, so a
local-mode test can make a worker process misbehave:

- ``DIARIST_FAKE_BEHAVIOUR=ok`` (default): speakers take turns every ``DIARIST_FAKE_TURN_S``
  seconds (2.0) over the audio's real duration (read with soundfile, or ``wave``). A job that asks
  for a transcription gets "this is speaker N" in every turn (``fake_words``), attributed and
  grouped by the domain's rule as the engine's words are.
- ``slow``: the same, spread over ``DIARIST_FAKE_SLOW_S`` seconds (default 20) of progress steps,
  so a test can cancel the job mid-run.
- ``crash``: reports some progress, then the process dies at once without reporting
  (``os._exit(DIARIST_FAKE_EXIT_CODE)``, default 137 as after an OOM kill).
- ``error``: raises ``RuntimeError`` (an unexpected engine failure -> ``internal_error``).
- ``input_error``: raises ``AudioInputError`` (``input_corrupt``).

Voiceprints (``voiceprint``, ``identify``, ``extract_voiceprints``) are valid blobs of the deployment's
embedding model id (``DIARIST_FAKE_EMBEDDING_MODEL_ID``, default ``model_choice.
DEFAULT_EMBEDDING_MODEL_ID``, what the API expects), of a deterministic vector: a bump at the audio's
dominant frequency (``fake_vector``). So a voiceprint of a 300 Hz tone matches the speaker of a
conversation whose turns (every ``turn_s``, speakers in turn) are a 300 Hz tone, and not one whose
turns are a 500 Hz tone: identify matches labels the way a test can predict. Voiceprint inputs over
30 s (+0.5 s) fail ``input_too_long_for_voiceprint`` and silent ones ``input_no_speech``, as the
engine's do.
"""

from __future__ import annotations

import os
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.domain.jobs import JobParams
from diarist.domain.model_choice import DEFAULT_EMBEDDING_MODEL_ID
from diarist.domain.results import (
    ChannelResult,
    ChannelVoiceprint,
    DiarizationResult,
    Identification,
    TranscriptionInfo,
    Turn,
    VoiceprintExtraction,
    VoiceprintResult,
)
from diarist.domain.transcription import WordTiming
from diarist.domain.voiceprints import (
    MAX_VOICEPRINT_INPUT_S,
    VOICEPRINT_INPUT_GRACE_S,
    confidence_from_cosine,
    decode_voiceprint,
    encode_voiceprint,
)

Behaviour = Literal["ok", "slow", "crash", "error", "input_error"]
FAKE_MODEL = "diarist-fake-engine"
FAKE_ASR_MODEL = "diarist-fake-asr"
FAKE_WORD_S = 0.4
FAKE_DIM = 192
FAKE_HZ_PER_BIN = 20.0
SILENCE_RMS = 1e-4


def fake_vector(samples: Any, sample_rate: int) -> list[float]:
    """A deterministic unit-able vector for mono ``samples`` (numpy): a bump at the dominant frequency
    (``FAKE_HZ_PER_BIN`` Hz per value), so tones a few bins apart are near-orthogonal."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float64)
    if x.size < 2:
        peak = 0.0
    else:
        spectrum = np.abs(np.fft.rfft(x - x.mean()))
        peak = float(np.argmax(spectrum)) * sample_rate / x.size
    center = min(FAKE_DIM - 1.0, peak / FAKE_HZ_PER_BIN)
    i = np.arange(FAKE_DIM, dtype=np.float64)
    return (np.exp(-0.5 * ((i - center) / 1.5) ** 2) + 1e-3).tolist()


def fake_words(turns: list[Turn]) -> list[WordTiming]:
    """The fake transcript: in each turn, "this is speaker N" (N its speaker's number), one word per
    ``FAKE_WORD_S`` from the turn's start, as many as fit."""
    words = []
    for t in turns:
        n = int(t.speaker.rsplit("_", 1)[-1])
        for i, text in enumerate((" this", " is", " speaker", f" {n}")):
            start = t.start + i * FAKE_WORD_S
            if start + FAKE_WORD_S * 0.8 > t.end:
                break
            words.append(WordTiming(round(start, 3), round(start + FAKE_WORD_S * 0.8, 3), text, 0.9))
    return words


def read_mono(path: Path) -> tuple[Any, int, Any]:
    """(downmix, sample rate, frames x channels) of an audio file, as float32 (soundfile)."""
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioInputError(f"not a readable audio file ({e})", code=ErrorCode.INPUT_CORRUPT) from None
    return data.mean(axis=1), int(rate), data


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
    embedding_model_id: str = DEFAULT_EMBEDDING_MODEL_ID

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
            embedding_model_id=os.environ.get("DIARIST_FAKE_EMBEDDING_MODEL_ID", DEFAULT_EMBEDDING_MODEL_ID),
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
        info = None
        if params.transcription is not None:
            words = fake_words(turns)
            chans = [ch.transcribed(words) for ch in chans]
            language = params.transcription.language or "en"
            info = TranscriptionInfo(
                model=FAKE_ASR_MODEL, languages=[language] * len(chans), language_probability=[]
            )
        return DiarizationResult(
            duration=round(duration, 3),
            sample_rate=sample_rate,
            num_channels=channels,
            channel_mode="split" if split else "mix",
            channels=chans,
            model=FAKE_MODEL,
            transcription=info,
        )

    # -- voiceprints and identification ---------------------------------------------------------------

    def _vector_of(self, samples: Any, rate: int, turns: list[Turn]) -> list[float]:
        import numpy as np

        parts = [samples[int(t.start * rate) : int(t.end * rate)] for t in turns]
        return fake_vector(np.concatenate(parts) if parts else samples[:0], rate)

    def voiceprint(
        self, path: Path, params: JobParams, progress: Callable[[float], None]
    ) -> VoiceprintResult:
        self.calls += 1
        progress(0.0)
        if self.behaviour == "input_error":
            raise AudioInputError(
                "the fake engine was told to reject this input", code=ErrorCode.INPUT_CORRUPT
            )
        duration, _, _ = audio_info(Path(path))
        if duration > MAX_VOICEPRINT_INPUT_S + VOICEPRINT_INPUT_GRACE_S:
            raise AudioInputError(
                f"a voiceprint is made from at most {MAX_VOICEPRINT_INPUT_S:g} s of audio; this input lasts "
                f"{duration:.1f} s: cut an excerpt where the speaker talks",
                code=ErrorCode.INPUT_TOO_LONG_FOR_VOICEPRINT,
            )
        mono, rate, _ = read_mono(Path(path))
        if mono.size == 0 or float((mono.astype("float64") ** 2).mean()) ** 0.5 < SILENCE_RMS:
            raise AudioInputError(
                "no speech found in the audio: a voiceprint needs at least 1 s of one speaker's speech",
                code=ErrorCode.INPUT_NO_SPEECH,
            )
        progress(50.0)
        speech_s = round(duration, 2)
        text = encode_voiceprint(self.embedding_model_id, fake_vector(mono, rate), speech_s)
        progress(100.0)
        return VoiceprintResult(
            voiceprint=text,
            embedding_model=self.embedding_model_id,
            speaker="SPEAKER_00",
            speech_s=speech_s,
            num_speakers=1,
            duration=round(duration, 3),
            model=FAKE_MODEL,
        )

    def identify(self, path: Path, params: JobParams, progress: Callable[[float], None]) -> DiarizationResult:
        labels = [v.label for v in params.voiceprints or []]
        prints = [
            decode_voiceprint(v.voiceprint, self.embedding_model_id, field=f"voiceprints[{i}].voiceprint")
            for i, v in enumerate(params.voiceprints or [])
        ]
        exclusive = params.matching.exclusive if params.matching else True
        threshold = params.matching.threshold if params.matching else 0.0
        result = self.diarize(path, params, progress)
        _, rate, frames = read_mono(Path(path))
        channels = []
        for ch in result.channels:
            samples = frames.mean(axis=1) if ch.channel is None else frames[:, ch.channel]
            vectors = [
                self._vector_of(samples, rate, [t for t in ch.diarization if t.speaker == s])
                for s in ch.speakers
            ]
            scores = []
            for v in vectors:
                norm = sum(x * x for x in v) ** 0.5
                scores.append(
                    [
                        confidence_from_cosine(sum(a * b for a, b in zip(v, p.vector, strict=True)) / norm)
                        for p in prints
                    ]
                )
            channels.append(ch.identified(labels, scores, exclusive=exclusive, threshold=threshold))
        return result.model_copy(
            update={
                "channels": channels,
                "identification": Identification(
                    labels=labels,
                    exclusive=exclusive,
                    threshold=threshold,
                    embedding_model=self.embedding_model_id,
                ),
            }
        )

    def extract_voiceprints(
        self, path: Path, params: JobParams, progress: Callable[[float], None]
    ) -> VoiceprintExtraction:
        self.calls += 1
        progress(0.0)
        duration, _, num_channels = audio_info(Path(path))
        mono, rate, frames = read_mono(Path(path))
        split = params.channel_mode == "split" and num_channels > 1
        sources = [(c, frames[:, c]) for c in range(num_channels)] if split else [(None, mono)]
        channels, warnings = [], []
        for c, samples in sources:
            if samples.size == 0 or float((samples.astype("float64") ** 2).mean()) ** 0.5 < SILENCE_RMS:
                warnings.append(f"{'the audio' if c is None else f'channel {c}'}: no speech, no voiceprint")
                continue
            speech_s = round(samples.size / rate, 2)
            channels.append(
                ChannelVoiceprint(
                    channel=c,
                    voiceprint=encode_voiceprint(
                        self.embedding_model_id, fake_vector(samples, rate), speech_s
                    ),
                    speech_s=speech_s,
                    speaker="SPEAKER_00",
                    num_speakers=1,
                )
            )
        if not channels:
            raise AudioInputError(
                "no channel has 1 s of speech: no voiceprint can be made", code=ErrorCode.INPUT_NO_SPEECH
            )
        progress(100.0)
        return VoiceprintExtraction(
            duration=round(duration, 3),
            num_channels=num_channels,
            channel_mode="split" if split else "mix",
            channels=channels,
            embedding_model=self.embedding_model_id,
            model=FAKE_MODEL,
            warnings=warnings,
        )
