"""One warm local worker process (see ``diarist.local.worker_pool``).

Loads the engine once, prints ``ready``, then for each JSON line ``{job_id, tenant_id}`` on stdin
runs the same worker code as the GPU container and prints ``done <job_id> <exit code>``.
"""

from __future__ import annotations

import sys

from diarist.domain.messages import WorkerSpec


def main() -> int:
    from diarist.settings import WorkerSettings, load
    from diarist.worker import run_worker
    from diarist.worker.diarizer import build_diarizer

    diarizer = build_diarizer(load(WorkerSettings))  # the slow part (model load): once per process
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        spec = WorkerSpec.model_validate_json(line)
        rc = run_worker(spec.job_id, spec.tenant_id, diarizer=diarizer)
        print(f"done {spec.job_id} {rc}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
