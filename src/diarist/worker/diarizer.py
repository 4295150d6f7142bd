"""The worker's port to a diarizer: ``JobDiarizer`` (a job's file and parameters -> a result) and its
two implementations.

- ``EngineJobDiarizer``: Diarist's engine (``diarist.engine``, torch), loaded once per process.
- ``FakeJobDiarizer`` (``diarist.testing.fake_engine``): deterministic segments, no torch, with
  switchable misbehaviour for local-mode tests.

``build_diarizer`` picks one from ``WorkerSettings.engine`` (``DIARIST_ENGINE=pyannote|fake``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from diarist.domain.jobs import JobParams
from diarist.domain.results import DiarizationResult
from diarist.settings import WorkerSettings

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # percent 0..100; may raise to stop the diarization


class JobDiarizer(Protocol):
    def diarize(self, path: Path, params: JobParams, progress: Progress) -> DiarizationResult:
        """Diarize a local file. Raises ``AudioInputError`` for unusable input."""


def engine_options(params: JobParams) -> dict[str, Any]:
    """``JobParams`` -> the engine's ``DiarizeOptions`` fields (an exact count wins over bounds)."""
    opts: dict[str, Any] = {
        "channel_mode": params.channel_mode,
        "confidence": params.confidence or params.turn_level_confidence,
    }
    if params.num_speakers is not None:
        opts["num_speakers"] = params.num_speakers
    else:
        lo, hi = params.min_speakers, params.max_speakers
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        opts["min_speakers"], opts["max_speakers"] = lo, hi
    return opts


class EngineJobDiarizer:
    """Adapts ``diarist.engine.Engine`` (``load_engine(EngineSettings())``; weights baked in the image)."""

    def __init__(self, engine: Any | None = None) -> None:
        if engine is None:
            from diarist.engine import EngineSettings, load_engine

            engine = load_engine(EngineSettings())
            log.info("engine loaded", extra={"model": engine.model_name, "device": engine.device})
        self.engine = engine

    def diarize(self, path: Path, params: JobParams, progress: Progress) -> DiarizationResult:
        from diarist.engine import DiarizeOptions, InputLimits

        result: DiarizationResult = self.engine.diarize(
            path, DiarizeOptions(**engine_options(params)), progress=progress, limits=InputLimits()
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
