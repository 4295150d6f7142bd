"""Requests of the HTTP API: the pyannoteAI JSON bodies (camelCase) and the Phonexia ``config``,
decoded into the domain's ``JobParams``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from diarist.domain.errors import ValidationFailed
from diarist.domain.jobs import JobParams

MAX_SPEAKERS = 100
"""Upper bound for numSpeakers/minSpeakers/maxSpeakers (pyannoteAI documents 1..2 for
numSpeakers; any positive count up to this one is accepted here)."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)


class DiarizeRequest(_Request):
    """``POST /v1/diarize``. Unknown fields are refused (400) so a typo never goes unnoticed."""

    url: str = Field(min_length=1, max_length=2048, description="https://..., s3://bucket/key or media://key")
    webhook: str | None = Field(
        default=None, min_length=1, max_length=2048, description="https URL called when done"
    )
    webhook_status_only: bool = Field(default=False, alias="webhookStatusOnly")
    num_speakers: int | None = Field(
        default=None, ge=1, le=MAX_SPEAKERS, alias="numSpeakers", description="Exact count (excludes min/max)"
    )
    min_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS, alias="minSpeakers")
    max_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS, alias="maxSpeakers")
    confidence: bool = Field(default=False, description="Add frame-level confidence (one score per 20 ms)")
    turn_level_confidence: bool = Field(default=False, alias="turnLevelConfidence")
    exclusive: bool = Field(default=False, description="Add exclusiveDiarization (no overlapping turns)")

    def job_params(self) -> JobParams:
        errors = []
        if self.num_speakers is not None:
            for name, v in (("minSpeakers", self.min_speakers), ("maxSpeakers", self.max_speakers)):
                if v is not None:
                    errors.append({"field": name, "message": "cannot be combined with numSpeakers"})
        if (
            self.min_speakers is not None
            and self.max_speakers is not None
            and self.min_speakers > self.max_speakers
        ):
            errors.append({"field": "minSpeakers", "message": "must not be greater than maxSpeakers"})
        if errors:
            raise ValidationFailed(errors)
        return JobParams(
            num_speakers=self.num_speakers,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            confidence=self.confidence,
            turn_level_confidence=self.turn_level_confidence,
            exclusive=self.exclusive,
            channel_mode="mix",
        )


class MediaInputRequest(_Request):
    url: str = Field(min_length=9, max_length=600, pattern=r"^media://", description="media://<key>")


def phonexia_params(config: Any, channel_mode: str) -> JobParams:
    """Phonexia ``config`` (JSON object): ``max_speakers`` (default 100) or ``total_speakers``;
    both -> 400; other keys are ignored, as Phonexia does."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValidationFailed([{"field": "config", "message": "must be a JSON object"}])
    errors = []
    values: dict[str, int] = {}
    for name in ("max_speakers", "total_speakers"):
        v = config.get(name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_SPEAKERS:
            errors.append(
                {"field": f"config.{name}", "message": f"must be an integer from 1 to {MAX_SPEAKERS}"}
            )
        else:
            values[name] = v
    if "max_speakers" in config and "total_speakers" in config:
        errors.append(
            {"field": "config", "message": "max_speakers and total_speakers are mutually exclusive"}
        )
    if errors:
        raise ValidationFailed(errors)
    if "total_speakers" in values:
        return JobParams(num_speakers=values["total_speakers"], channel_mode=channel_mode)
    return JobParams(max_speakers=values.get("max_speakers", MAX_SPEAKERS), channel_mode=channel_mode)
