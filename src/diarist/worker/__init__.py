"""The GPU worker (container entrypoint ``diarist worker --job-id J --tenant-id T``).

``run_worker(job_id, tenant_id, diarizer=None) -> int`` is the whole run (``diarist.worker.main``);
``build_diarizer()`` loads the engine once for a process that runs several jobs (local mode).
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
