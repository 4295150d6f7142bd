"""Result schema of a diarization: what the engine returns, the worker stores in S3 and the API renders.

Times are seconds from the start of the recording. Speaker labels are ``SPEAKER_00``, ``SPEAKER_01`` ...
numbered by first appearance. Channels are 0-based here; RTTM output uses 1-based channel numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CONFIDENCE_RESOLUTION_S = 0.02
RESULT_SCHEMA_VERSION: Literal[1] = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Turn(_Model):
    """One speaker turn. ``confidence`` (0-100) is set when turn-level confidence was asked for."""

    speaker: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    confidence: float | None = Field(default=None, ge=0, le=100)


class Confidence(_Model):
    """Frame-level confidence: one integer 0-100 per ``resolution`` seconds, from time 0."""

    score: list[int]
    resolution: float = CONFIDENCE_RESOLUTION_S


class ChannelResult(_Model):
    """The diarization of one audio channel (or of the downmix when ``channel`` is None)."""

    channel: int | None = Field(description="0-based audio channel; None for a downmix of all channels")
    speakers: list[str]
    diarization: list[Turn] = Field(description="Overlap-aware turns")
    exclusive_diarization: list[Turn] = Field(alias="exclusiveDiarization", description="No overlaps")
    confidence: Confidence | None = None


class DiarizationResult(_Model):
    """Everything one job produced. Stored as JSON in S3 (never in DynamoDB)."""

    version: Literal[1] = RESULT_SCHEMA_VERSION
    duration: float = Field(ge=0, description="Seconds of audio")
    sample_rate: int = Field(alias="sampleRate")
    num_channels: int = Field(alias="numChannels", ge=1)
    channel_mode: Literal["split", "mix"] = Field(alias="channelMode")
    channels: list[ChannelResult]
    model: str = Field(description="Which weights produced this result")
    warnings: list[str] = Field(default_factory=list)
