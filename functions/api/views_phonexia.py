"""Responses of the Phonexia dialect (``/api/technology/speaker-diarization``,
``.../speaker-identification-voiceprint-extraction``, ``.../speaker-identification-voiceprint-comparison``):
their wire shapes and how a job becomes a task.

Invariants:

- A task's ``state`` is ``domain.jobs.phonexia_state`` of the job's status (input errors show as
  ``rejected``).
- ``result`` is only on ``done`` tasks whose result is still stored, rendered for the job's kind
  (``render_phonexia``): a diarization has one entry per channel, integer speaker ids,
  non-overlapping segments (the engine's ``to_phonexia_dict`` fed with the exclusive turns, as
  ``diarist diarize --format phonexia`` renders it); an extraction ``{channels: [{channel_number,
  voiceprint, speech_length, model}]}``; a comparison ``{scores: {rows_count, columns_count,
  values}}`` (``engine.formats``).
- ``error`` is only on ``failed`` and ``rejected`` tasks, Phonexia's ``{type, title, detail[]}``
  (the same object the error responses use, ``errors.render``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from diarist.domain.jobs import Job, JobStatus, phonexia_state
from diarist.domain.results import (
    DiarizationResult,
    JobResult,
    VoiceprintComparison,
    VoiceprintExtraction,
)
from diarist.engine.formats import phonexia_comparison, phonexia_voiceprints, to_phonexia_dict


class PhonexiaError(BaseModel):
    """Every error of the Phonexia routes."""

    type: str
    title: str
    detail: list[str]


class PhonexiaTask(BaseModel):
    task_id: str
    state: Literal["pending", "running", "done", "failed", "rejected"]


class PhonexiaSegment(BaseModel):
    speaker_id: int
    start_time: float
    end_time: float


class PhonexiaChannel(BaseModel):
    channel_number: int
    speakers_count: int
    segments: list[PhonexiaSegment]


class PhonexiaResult(BaseModel):
    channels: list[PhonexiaChannel]


class PhonexiaTaskResponse(BaseModel):
    task: PhonexiaTask
    result: PhonexiaResult | None = None
    error: PhonexiaError | None = None


class PhonexiaTaskCreated(BaseModel):
    task: PhonexiaTask


class PhonexiaChannelVoiceprint(BaseModel):
    channel_number: int
    voiceprint: str
    speech_length: float
    model: str


class PhonexiaExtractionResult(BaseModel):
    channels: list[PhonexiaChannelVoiceprint]


class PhonexiaExtractionResponse(BaseModel):
    task: PhonexiaTask
    result: PhonexiaExtractionResult | None = None
    error: PhonexiaError | None = None


class PhonexiaScores(BaseModel):
    rows_count: int
    columns_count: int
    values: list[float]


class PhonexiaComparisonResult(BaseModel):
    scores: PhonexiaScores


class PhonexiaComparisonResponse(BaseModel):
    task: PhonexiaTask
    result: PhonexiaComparisonResult | None = None
    error: PhonexiaError | None = None


def render_phonexia_result(result: DiarizationResult) -> dict[str, Any]:
    """Phonexia ``result``: one entry per channel, integer speaker ids. The engine's renderer
    (``engine.formats.to_phonexia_dict``, shared with ``diarist diarize --format phonexia``) fed with
    the non-overlapping turns: Phonexia's segments do not overlap."""
    exclusive = result.model_copy(
        update={
            "channels": [
                ch.model_copy(update={"diarization": ch.exclusive_diarization}) for ch in result.channels
            ]
        }
    )
    return to_phonexia_dict(exclusive)


def task(job: Job) -> dict[str, Any]:
    """``{task_id, state}``: what the upload answers (202) and every poll starts with."""
    return {"task_id": job.job_id, "state": phonexia_state(job.status, _error_code(job))}


def render_phonexia(result: JobResult) -> dict[str, Any]:
    """The Phonexia ``result`` of a job's result, by its kind."""
    if isinstance(result, VoiceprintExtraction):
        return phonexia_voiceprints(result)
    if isinstance(result, VoiceprintComparison):
        return phonexia_comparison(result.matrix())
    if isinstance(result, DiarizationResult):
        return render_phonexia_result(result)
    raise TypeError(f"no Phonexia rendering of a {type(result).__name__}")


def task_view(job: Job, result: JobResult | None = None) -> dict[str, Any]:
    """``GET .../{task_id}``: ``{task, result?, error?}``; ``result`` is the stored result of a
    ``done`` task (``services.reading``), None when it is gone."""
    code = _error_code(job)
    state = phonexia_state(job.status, code)
    body: dict[str, Any] = {"task": task(job)}
    if state == "done" and result is not None:
        body["result"] = render_phonexia(result)
    elif state in ("failed", "rejected"):
        canceled = job.status is JobStatus.CANCELED
        message = job.error.message if job.error else ("the task was canceled" if canceled else "failed")
        body["error"] = {
            "type": code or ("canceled" if canceled else "failed"),
            "title": "Task rejected" if state == "rejected" else "Task failed",
            "detail": [message],
        }
    return body


def _error_code(job: Job) -> str | None:
    return str(job.error.code) if job.error else None
