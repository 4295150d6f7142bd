"""The GPU worker (container entrypoint ``diarist worker --job-id J --tenant-id T``).

``run_worker(job_id, tenant_id) -> int`` is the whole run; see ``diarist.worker.main``.
"""

from __future__ import annotations

from typing import Any


def run_worker(job_id: str, tenant_id: str, **kwargs: Any) -> int:
    from diarist.worker.main import run_worker as _run

    return _run(job_id, tenant_id, **kwargs)


__all__ = ["run_worker"]
