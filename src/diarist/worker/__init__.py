"""The GPU worker (container command ``diarist worker --drain``).

``drain()`` is a warm worker's whole run (``diarist.worker.drain``): it loads the engine once
(``build_diarizer``) and runs ``run_worker(job_id, tenant_id, ...)`` (``diarist.worker.main``) for
each job it takes from the work queue.
"""

from __future__ import annotations

from typing import Any


def run_worker(job_id: str, tenant_id: str, **kwargs: Any) -> int:
    from diarist.worker.main import run_worker as _run

    return _run(job_id, tenant_id, **kwargs)


def build_diarizer(settings: Any | None = None) -> Any:
    """``DIARIST_ENGINE=pyannote|fake`` -> a loaded ``JobDiarizer`` (see ``diarist.worker.diarizer``)."""
    from diarist.worker.diarizer import build_diarizer as _build

    return _build(settings)


__all__ = ["build_diarizer", "run_worker"]
