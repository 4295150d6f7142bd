"""The worker's port to a diarizer: ``JobDiarizer`` (a job's file and parameters -> a result) and its
two implementations.

- ``EngineJobDiarizer``: Diarist's engine (``diarist.engine``, torch), loaded once per process.
- ``FakeJobDiarizer`` (``diarist.testing.fake_engine``): deterministic segments, no torch, with
  switchable misbehaviour for local-mode tests.

``diarize_options`` maps a job's ``JobParams`` to the engine's ``DiarizeOptions``; ``build_diarizer``
picks an implementation from ``WorkerSettings.engine`` (``DIARIST_ENGINE=pyannote|fake``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from diarist.domain.jobs import JobParams
from diarist.domain.results import DiarizationResult
from diarist.engine.options import DiarizeOptions, InputLimits
from diarist.settings import WorkerSettings

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # percent 0..100; may raise to stop the diarization


class JobDiarizer(Protocol):
    def diarize(self, path: Path, params: JobParams, progress: Progress) -> DiarizationResult:
        """Diarize a local file. Raises ``AudioInputError`` for unusable input."""


def diarize_options(params: JobParams) -> DiarizeOptions:
    """A job's parameters as the engine's options.

    ``JobParams`` and ``DiarizeOptions`` obey the same speaker-count rule, so the counts pass through
    as they are. The engine computes confidence when the job asks for frame- or turn-level confidence.
    """
    return DiarizeOptions(
        num_speakers=params.num_speakers,
        min_speakers=params.min_speakers,
        max_speakers=params.max_speakers,
        channel_mode=params.channel_mode,
        confidence=params.confidence or params.turn_level_confidence,
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


def build_diarizer(settings: WorkerSettings | None = None) -> JobDiarizer:
    """The diarizer ``DIARIST_ENGINE`` asks for. Load it once per process (the engine is slow to load)."""
    if settings is None:
        from diarist.settings import load

        settings = load(WorkerSettings)
    if settings.engine == "fake":
        from diarist.testing.fake_engine import FakeJobDiarizer

        return FakeJobDiarizer.from_env()
    return EngineJobDiarizer()
