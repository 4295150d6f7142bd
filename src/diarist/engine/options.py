"""Per-job options and input limits of the engine. No torch import here: the worker and ``diarist diarize``
build these before the engine is loaded.

The speaker counts follow the one speaker-count rule, ``diarist.domain.speakers``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from diarist.domain.speakers import MAX_SPEAKERS, check_speaker_counts
from diarist.domain.transcription import language_problem
from diarist.resources import MAX_INPUT_BYTES, MAX_INPUT_SECONDS

GiB = 1 << 30
# The service's one input limit (diarist.resources, which the API checks too), not a copy.
MAX_INPUT_DURATION_S = float(MAX_INPUT_SECONDS)


class InputLimits(BaseModel):
    """Limits enforced while the input is fetched and decoded (before any model runs)."""

    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(default=MAX_INPUT_BYTES, gt=0, description="Largest accepted input file, in bytes")
    max_duration_s: float = Field(default=MAX_INPUT_DURATION_S, gt=0, description="Longest accepted audio")
    max_channels: int = Field(default=16, ge=1, description="Most audio channels diarized separately")
    probe_timeout_s: float = Field(default=60.0, gt=0, description="ffprobe wall-clock limit")
    decode_timeout_s: float = Field(default=3600.0, gt=0, description="ffmpeg wall-clock limit")
    stall_timeout_s: float = Field(default=120.0, gt=0, description="ffmpeg may go this long without output")
    fetch_timeout_s: float = Field(default=60.0, gt=0, description="connect/read timeout of a URL fetch")


class DiarizeOptions(BaseModel):
    """What one diarization job asks for.

    ``num_speakers`` forces an exact count; otherwise ``min_speakers``/``max_speakers`` bound the estimate.
    ``channel_mode="split"`` diarizes each channel on its own (one result per channel, Phonexia semantics),
    ``"mix"`` downmixes to mono first. ``transcribe`` adds the words and turns of each channel with
    their speakers (``language`` given or detected; ``domain.transcription``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    min_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    max_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    channel_mode: Literal["split", "mix"] = "split"
    confidence: bool = Field(default=True, description="Compute frame- and turn-level confidence")
    transcribe: bool = Field(default=False, description="Transcribe too: who said what (words, turns)")
    language: str | None = Field(
        default=None, description="Whisper language code of the speech; None: detected per channel"
    )

    @model_validator(mode="after")
    def _speaker_counts(self) -> DiarizeOptions:
        check_speaker_counts(self.num_speakers, self.min_speakers, self.max_speakers)
        if (problem := language_problem(self.language)) is not None:
            raise ValueError(f"language: {problem}")
        return self
