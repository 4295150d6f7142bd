"""Typed errors shared by the API, the dispatcher, the worker and the engine.

Every error that can end a job has a stable machine-readable ``code`` (shown to users as
``error.code``) and a human message. HTTP mapping lives in one place: ``functions/api``.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # input problems (the user's fault; the job ends ``failed`` and is not retried)
    INPUT_EMPTY = "input_empty"
    INPUT_CORRUPT = "input_corrupt"
    INPUT_UNSUPPORTED = "input_unsupported"
    INPUT_NO_AUDIO = "input_no_audio"
    INPUT_SILENT = "input_silent"
    INPUT_TOO_LARGE = "input_too_large"
    INPUT_TOO_LONG = "input_too_long"
    INPUT_UNREACHABLE = "input_unreachable"
    INPUT_FORBIDDEN = "input_forbidden"
    INPUT_NO_SPEECH = "input_no_speech"  # a voiceprint needs speech, and there is (almost) none
    INPUT_TOO_LONG_FOR_VOICEPRINT = "input_too_long_for_voiceprint"  # voiceprint audio over 30 s
    VOICEPRINT_INVALID = "voiceprint_invalid"  # not a Diarist voiceprint, truncated, corrupted
    VOICEPRINT_MODEL_MISMATCH = "voiceprint_model_mismatch"  # made by another embedding model
    # platform problems
    WORKER_CRASHED = "worker_crashed"
    WORKER_TIMEOUT = "worker_timeout"
    LAUNCH_FAILED = "launch_failed"
    NO_CAPACITY = "no_capacity"  # launched, but no GPU capacity came within the capacity timeout
    WORKER_LOST = "worker_lost"  # running, but the worker stopped heartbeating (container vanished)
    WORKER_START_FAILED = "worker_start_failed"  # waiting, and worker after worker could not start
    INTERNAL = "internal_error"


class DiaristError(Exception):
    """Base of every error Diarist raises on purpose."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class AudioInputError(DiaristError):
    """The input cannot be diarized: empty, corrupt, not audio, over a limit, unreachable ..."""

    code = ErrorCode.INPUT_CORRUPT


class VoiceprintError(AudioInputError):
    """A voiceprint given with a job cannot be used: not a Diarist voiceprint, truncated or corrupted
    (``voiceprint_invalid``), or made by another embedding model (``voiceprint_model_mismatch``).

    An input problem like unusable audio (the worker ends the job ``failed``, without retry); the API
    should find it first, when the job is submitted. ``field`` names the offending voiceprint (e.g.
    ``voiceprints[2].voiceprint``) when the caller said which one it was.
    """

    code = ErrorCode.VOICEPRINT_INVALID

    def __init__(self, message: str, *, code: ErrorCode | None = None, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class VoiceprintInvalid(VoiceprintError):
    """Not a Diarist voiceprint (not base64, wrong magic), truncated, corrupted, or an unknown version."""

    code = ErrorCode.VOICEPRINT_INVALID


class VoiceprintModelMismatch(VoiceprintError):
    """A well-formed voiceprint made by another embedding model: never compared (the scores would be
    meaningless)."""

    code = ErrorCode.VOICEPRINT_MODEL_MISMATCH


class JobNotFound(DiaristError):
    """No such job for this tenant (another tenant's job is 'not found' too)."""


class InvalidTransition(DiaristError):
    """A job status change that the transition table, or the stored state, does not allow."""


class ValidationFailed(DiaristError):
    """Bad request input. ``errors`` names each field: [{field, message}]."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class Unauthorized(DiaristError):
    """Missing or invalid API key."""


class Conflict(DiaristError):
    """Idempotency-Key reused with another body, or a state conflict."""


class PayloadTooLarge(DiaristError):
    """Request body over the API Gateway limit, or input over 1 GiB."""


class Throttled(DiaristError):
    """Too many requests; ``retry_after_s`` goes into Retry-After, ``reset_at`` (UTC epoch seconds,
    when known) into X-RateLimit-Reset."""

    def __init__(self, message: str, retry_after_s: int = 1, *, reset_at: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.reset_at = reset_at
