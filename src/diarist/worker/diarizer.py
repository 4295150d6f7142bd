"""The worker's port to a diarizer: ``JobDiarizer`` (a job's file and parameters -> a result, one
method per kind of job that reads audio) and its two implementations.

- ``EngineJobDiarizer``: Diarist's engine (``diarist.engine``, torch), loaded once per process.
- ``FakeJobDiarizer`` (``diarist.testing.fake_engine``): deterministic segments, no torch, with
  switchable misbehaviour for local-mode tests.

``diarize_options`` maps a job's ``JobParams`` to the engine's ``DiarizeOptions``; ``run_job`` picks
the port's method for the job's kind (``diarize``, ``voiceprint``, ``identify``,
``voiceprint_extraction``; a ``voiceprint_comparison`` is computed by the API and never reaches a
worker); ``build_diarizer`` picks an implementation from ``WorkerSettings.engine``
(``DIARIST_ENGINE=pyannote|fake``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from diarist.domain.jobs import Job, JobParams
from diarist.domain.results import DiarizationResult, JobResult, VoiceprintExtraction, VoiceprintResult
from diarist.engine.options import DiarizeOptions, InputLimits
from diarist.settings import WorkerSettings

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # percent 0..100; may raise to stop the diarization


class JobDiarizer(Protocol):
    def diarize(self, path: Path, params: JobParams, progress: Progress) -> DiarizationResult:
        """Diarize a local file. Raises ``AudioInputError`` for unusable input."""

    def voiceprint(self, path: Path, params: JobParams, progress: Progress) -> VoiceprintResult:
        """The voiceprint of the (most talkative) speaker of <= 30 s of audio. ``AudioInputError``:
        ``input_too_long_for_voiceprint``, ``input_no_speech`` and the usual input codes."""

    def identify(self, path: Path, params: JobParams, progress: Progress) -> DiarizationResult:
        """Diarize, then match the speakers to ``params.voiceprints`` (``params.matching``).
        ``VoiceprintError`` (an ``AudioInputError``) for a voiceprint that cannot be used."""

    def extract_voiceprints(self, path: Path, params: JobParams, progress: Progress) -> VoiceprintExtraction:
        """One voiceprint per channel (``params.channel_mode``), from the whole file (Phonexia)."""


def run_job(diarizer: JobDiarizer, job: Job, path: Path, progress: Progress) -> JobResult:
    """Run ``job``'s kind on its fetched input ``path``."""
    if job.kind == "diarize":
        return diarizer.diarize(path, job.params, progress)
    if job.kind == "identify":
        return diarizer.identify(path, job.params, progress)
    if job.kind == "voiceprint":
        return diarizer.voiceprint(path, job.params, progress)
    if job.kind == "voiceprint_extraction":
        return diarizer.extract_voiceprints(path, job.params, progress)
    raise ValueError(f"a {job.kind} job is not run by a worker")


def voiceprints_by_label(params: JobParams) -> dict[str, str]:
    """identify's voiceprints as ``{label: base64}``, in the order given."""
    return {v.label: v.voiceprint for v in params.voiceprints or []}


def diarize_options(params: JobParams) -> DiarizeOptions:
    """A job's parameters as the engine's options.

    ``JobParams`` and ``DiarizeOptions`` obey the same speaker-count rule, so the counts pass through
    as they are. The engine computes confidence when the job asks for frame- or turn-level confidence,
    and transcribes when the job asks for a transcription (in its language, if given; the model that
    runs is the engine's, ``EngineSettings.transcription_model``: the API warned at submission when
    the job named another).
    """
    return DiarizeOptions(
        num_speakers=params.num_speakers,
        min_speakers=params.min_speakers,
        max_speakers=params.max_speakers,
        channel_mode=params.channel_mode,
        confidence=params.confidence or params.turn_level_confidence,
        transcribe=params.transcription is not None,
        language=params.transcription.language if params.transcription else None,
    )


class EngineJobDiarizer:
    """Adapts ``diarist.engine.Engine`` (``load_engine(EngineSettings())``; weights baked in the image)."""

    def __init__(self, engine: Any | None = None) -> None:
        if engine is None:
            from diarist.engine import EngineSettings, load_engine

            engine = load_engine(EngineSettings())
            log.info("engine loaded", extra={"model": engine.model_name, "device": engine.device})
        self.engine = engine

    def diarize(self, path: Path, params: JobParams, progress: Progress) -> DiarizationResult:
        result: DiarizationResult = self.engine.diarize(
            path, diarize_options(params), progress=progress, limits=InputLimits()
        )
        return result

    def voiceprint(self, path: Path, params: JobParams, progress: Progress) -> VoiceprintResult:
        result: VoiceprintResult = self.engine.voiceprint(path, progress=progress)
        return result

    def identify(self, path: Path, params: JobParams, progress: Progress) -> DiarizationResult:
        matching = params.matching
        result: DiarizationResult = self.engine.identify(
            path,
            voiceprints_by_label(params),
            diarize_options(params),
            exclusive=matching.exclusive if matching else True,
            threshold=matching.threshold if matching else 0.0,
            limits=InputLimits(),
            progress=progress,
        )
        return result

    def extract_voiceprints(self, path: Path, params: JobParams, progress: Progress) -> VoiceprintExtraction:
        result: VoiceprintExtraction = self.engine.extract_voiceprints(
            path, channel_mode=params.channel_mode, limits=InputLimits(), progress=progress
        )
        return result


def build_diarizer(settings: WorkerSettings | None = None) -> JobDiarizer:
    """The diarizer ``DIARIST_ENGINE`` asks for. Load it once per process (the engine is slow to load)."""
    if settings is None:
        from diarist.settings import load

        settings = load(WorkerSettings)
    if settings.engine == "fake":
        from diarist.testing.fake_engine import FakeJobDiarizer

        return FakeJobDiarizer.from_env()
    return EngineJobDiarizer()
