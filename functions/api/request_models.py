"""Requests of the HTTP API: the pyannoteAI JSON bodies (camelCase) and the Phonexia ``config``,
decoded into the domain's ``JobParams``.

The speaker-count rule is the domain's (``domain.speakers``: an exact count or bounds, never both;
1 to ``MAX_SPEAKERS``; min <= max); this module only names each broken part in its dialect's
fields and words (``numSpeakers`` ...; ``config.total_speakers`` ...).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from diarist.domain.errors import ValidationFailed
from diarist.domain.jobs import JobKind, JobParams, LabeledVoiceprint, Matching
from diarist.domain.model_choice import ACCEPTED_MODELS, model_problem
from diarist.domain.speakers import MAX_SPEAKERS, Which, speaker_count_problems
from diarist.domain.transcription import (
    ACCEPTED_TRANSCRIPTION_MODELS,
    TranscriptionParams,
    language_problem,
    transcription_model_problem,
)

PYANNOTE_COUNT_FIELDS: dict[Which, str] = {"num": "numSpeakers", "min": "minSpeakers", "max": "maxSpeakers"}
PHONEXIA_COUNT_KEYS: dict[Which, str] = {"max": "max_speakers", "num": "total_speakers"}
"""The ``config`` keys of the counts, in the order their problems are reported."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)


class TranscriptionConfig(_Request):
    """pyannoteAI's ``transcriptionConfig`` (plus Diarist's ``language``); only with
    ``transcription: true``. The rules are ``domain.transcription``'s (checked at submission)."""

    model: str | None = Field(
        default=None,
        max_length=64,
        description="The ASR model asked for; what runs is this deployment's faster-whisper model (a "
        "warning says so when it is not the one named)",
        json_schema_extra={"enum": [*ACCEPTED_TRANSCRIPTION_MODELS, None]},
    )
    language: str | None = Field(
        default=None,
        max_length=8,
        description="Whisper language code of the speech (en, de, fr ...); null or absent: detected",
    )

    def errors(self) -> list[dict[str, str]]:
        problems = [
            ("transcriptionConfig.model", transcription_model_problem(self.model)),
            ("transcriptionConfig.language", language_problem(self.language)),
        ]
        return [{"field": f, "message": m} for f, m in problems if m is not None]


class _UrlJobRequest(_Request):
    """What every pyannoteAI job request has: the audio URL and the webhook."""

    url: str = Field(min_length=1, max_length=2048, description="https://..., s3://bucket/key or media://key")
    webhook: str | None = Field(
        default=None, min_length=1, max_length=2048, description="https URL called when done"
    )
    webhook_status_only: bool | None = Field(default=None, alias="webhookStatusOnly")


def _model_field(kind: JobKind) -> Any:
    names = ACCEPTED_MODELS[kind]
    return Field(
        default=None,
        max_length=64,
        description=f"{' or '.join(names)}; what runs is this deployment's engine (a warning says so "
        "when it is not the one named)",
        json_schema_extra={"enum": [*names, None]},
    )


class _DiarizingRequest(_UrlJobRequest):
    """The diarization options: diarize's and identify's."""

    num_speakers: int | None = Field(
        default=None, ge=1, le=MAX_SPEAKERS, alias="numSpeakers", description="Exact count (excludes min/max)"
    )
    min_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS, alias="minSpeakers")
    max_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS, alias="maxSpeakers")
    confidence: bool | None = Field(
        default=None, description="Add frame-level confidence (one score per 20 ms)"
    )
    turn_level_confidence: bool | None = Field(default=None, alias="turnLevelConfidence")
    exclusive: bool | None = Field(
        default=None, description="Add exclusiveDiarization (no overlapping turns)"
    )
    channel_mode: Literal["mix", "split"] | None = Field(
        default=None,
        alias="channelMode",
        description="Diarist extension: mix (default) diarizes a downmix; split diarizes each channel "
        "on its own (output.channels, one entry per channel)",
    )

    def _count_errors(self) -> list[dict[str, str]]:
        """``minSpeakers``/``maxSpeakers`` against the counts rule (each count's range is its field's
        bounds, checked before). This dialect reports a bound given with ``numSpeakers`` and,
        besides, bounds out of order."""
        num, min_, max_ = self.num_speakers, self.min_speakers, self.max_speakers
        errors = []
        if num is not None:
            errors += [
                {"field": PYANNOTE_COUNT_FIELDS[which], "message": "cannot be combined with numSpeakers"}
                for which, _ in speaker_count_problems(num, min_, max_)
            ]
        errors += [
            {"field": PYANNOTE_COUNT_FIELDS[which], "message": "must not be greater than maxSpeakers"}
            for which, _ in speaker_count_problems(None, min_, max_)
        ]
        return errors

    def _diarization_params(self, **extra: Any) -> JobParams:
        return JobParams(
            num_speakers=self.num_speakers,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            confidence=bool(self.confidence),
            turn_level_confidence=bool(self.turn_level_confidence),
            exclusive=bool(self.exclusive),
            channel_mode=self.channel_mode or "mix",
            **extra,
        )


def _model_errors(kind: JobKind, model: str | None) -> list[dict[str, str]]:
    problem = model_problem(kind, model)
    return [{"field": "model", "message": problem}] if problem else []


class DiarizeRequest(_DiarizingRequest):
    """``POST /v1/diarize``. Unknown fields are refused (400) so a typo never goes unnoticed; every
    optional field may be ``null``, which means the same as leaving it out (the pyannoteAI SDK
    always sends every field)."""

    model: str | None = _model_field("diarize")
    transcription: bool | None = Field(
        default=None,
        description="Transcribe too: the output gets wordLevelTranscription and turnLevelTranscription",
    )
    transcription_config: TranscriptionConfig | None = Field(default=None, alias="transcriptionConfig")

    def job_params(self) -> JobParams:
        """The job's parameters; ValidationFailed naming each field the request breaks together:
        ``model`` (not a name the API accepts), ``transcriptionConfig.model`` / ``.language`` (the
        rules of ``domain.transcription``; checked even when ``transcription`` is false, which
        ignores the config, as the pyannoteAI SDK may send it), and the speaker counts."""
        errors = _model_errors("diarize", self.model)
        if self.transcription_config is not None:  # checked even when ignored (transcription false)
            errors += self.transcription_config.errors()
        errors += self._count_errors()
        if errors:
            raise ValidationFailed(errors)
        if not self.transcription:
            return self._diarization_params()
        config = self.transcription_config or TranscriptionConfig()
        return self._diarization_params(
            transcription=TranscriptionParams(model=config.model, language=config.language)
        )


class VoiceprintRequest(_UrlJobRequest):
    """``POST /v1/voiceprint``: the voiceprint of the speaker of ``url`` (at most 30 s of audio; with
    several speakers, the most talkative one's). The pyannoteAI SDK sends ``{url, model}``."""

    model: str | None = _model_field("voiceprint")

    def job_params(self) -> JobParams:
        errors = _model_errors("voiceprint", self.model)
        if errors:
            raise ValidationFailed(errors)
        return JobParams(channel_mode="mix")


class VoiceprintItem(_Request):
    """One voiceprint to match: its rules (label 1-100 characters, not ``SPEAKER_...``, unique; a
    valid voiceprint of this deployment's embedding model) are the domain's, checked at submission."""

    label: str = Field(description="The name to give a matched speaker (not starting with SPEAKER_)")
    voiceprint: str = Field(description="A voiceprint from POST /v1/voiceprint (base64)")


class MatchingOptions(_Request):
    exclusive: bool | None = Field(
        default=None, description="One voiceprint per speaker and one speaker per voiceprint (default true)"
    )
    threshold: float | None = Field(
        default=None, ge=0, le=100, description="No match scoring below this (0-100, default 0)"
    )


class IdentifyRequest(_DiarizingRequest):
    """``POST /v1/identify``: diarize ``url``, then match the speakers to ``voiceprints``. Every
    optional field may be ``null`` (the pyannoteAI SDK sends every one)."""

    model: str | None = _model_field("identify")
    voiceprints: list[VoiceprintItem] = Field(description="1 to 50 {label, voiceprint}, labels unique")
    matching: MatchingOptions | None = None

    def job_params(self) -> JobParams:
        """The job's parameters; the voiceprints' own rules are checked by the submission (they
        need this deployment's embedding model)."""
        errors = _model_errors("identify", self.model) + self._count_errors()
        if errors:
            raise ValidationFailed(errors)
        m = self.matching or MatchingOptions()
        return self._diarization_params(
            voiceprints=[LabeledVoiceprint(label=v.label, voiceprint=v.voiceprint) for v in self.voiceprints],
            matching=Matching(
                exclusive=True if m.exclusive is None else m.exclusive,
                threshold=0.0 if m.threshold is None else m.threshold,
            ),
        )


class ComparisonRequest(_Request):
    """Phonexia ``POST /api/technology/speaker-identification-voiceprint-comparison``."""

    voiceprints_a: list[str] = Field(description="1 to 50,000 voiceprints (the columns)")
    voiceprints_b: list[str] = Field(description="1 to 50,000 voiceprints (the rows)")


class MediaInputRequest(_Request):
    url: str = Field(min_length=9, max_length=600, pattern=r"^media://", description="media://<key>")


def phonexia_params(config: Any, channel_mode: str) -> JobParams:
    """Phonexia ``config`` (JSON object): ``max_speakers`` (default ``MAX_SPEAKERS``) or
    ``total_speakers`` (the exact count); naming both, even as null, -> 400; other keys are ignored,
    as Phonexia does. A count must be a JSON integer the rule accepts on its own."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValidationFailed([{"field": "config", "message": "must be a JSON object"}])
    errors = []
    counts: dict[Which, int] = {}
    for which, key in PHONEXIA_COUNT_KEYS.items():
        value = config.get(key)
        if value is None:
            continue
        if _json_int(value) and not _count_problems(which, value):
            counts[which] = value
        else:
            errors.append(
                {"field": f"config.{key}", "message": f"must be an integer from 1 to {MAX_SPEAKERS}"}
            )
    if all(key in config for key in PHONEXIA_COUNT_KEYS.values()):
        errors.append(
            {"field": "config", "message": "max_speakers and total_speakers are mutually exclusive"}
        )
    if errors:
        raise ValidationFailed(errors)
    if "num" in counts:
        return JobParams(num_speakers=counts["num"], channel_mode=channel_mode)
    return JobParams(max_speakers=counts.get("max", MAX_SPEAKERS), channel_mode=channel_mode)


def _json_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count_problems(which: Which, value: int) -> list[tuple[Which, str]]:
    """The rule's verdict on one count alone (its range)."""
    return speaker_count_problems(
        value if which == "num" else None,
        value if which == "min" else None,
        value if which == "max" else None,
    )
