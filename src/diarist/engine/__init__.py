"""Diarist's diarization engine (used by the GPU worker, local mode and ``diarist diarize``).

Importing this package is cheap: torch and pyannote are imported only when the engine is loaded.
Without torch: ``options`` (per-job options, input limits), ``settings``, ``fetch`` and ``audio``
(input), ``hyperparameters``, ``clustering`` and ``formats`` (output). With torch: ``models`` (loading
the weights), ``embeddings`` and ``campplus`` (speaker embeddings), ``channel_diarizer`` (one channel's
diarization), ``engine`` (a file -> ``DiarizationResult``) and ``voiceprints`` (voiceprints and
identification: ``Engine.voiceprint``, ``Engine.identify``, ``Engine.extract_voiceprints``; the blob
format, scores and matching rule are ``diarist.domain.voiceprints``, no torch).

    from diarist.engine import EngineSettings, DiarizeOptions, load_engine, fetch_input

    engine = load_engine(EngineSettings())          # fails fast if the weights are missing
    result = engine.diarize(path, DiarizeOptions(num_speakers=2), progress=lambda pct: ...)
    local = fetch_input("s3://bucket/key.wav", dest_dir, InputLimits())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from diarist.engine.options import DiarizeOptions, InputLimits
from diarist.engine.settings import EngineSettings, EngineSetupError

if TYPE_CHECKING:
    from diarist.engine.engine import Engine, load_engine
    from diarist.engine.fetch import fetch_input

__all__ = [
    "DiarizeOptions",
    "Engine",
    "EngineSettings",
    "EngineSetupError",
    "InputLimits",
    "fetch_input",
    "load_engine",
]


def __getattr__(name: str) -> Any:
    if name in ("Engine", "load_engine"):
        from diarist.engine import engine

        return getattr(engine, name)
    if name == "fetch_input":
        from diarist.engine.fetch import fetch_input

        return fetch_input
    raise AttributeError(f"module 'diarist.engine' has no attribute {name!r}")
