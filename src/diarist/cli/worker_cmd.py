"""``diarist worker --job-id J --tenant-id T``: process one job (the container's command)."""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "worker",
        help="process one job (container entrypoint; Batch/ECS/local launcher)",
        description="Diarize one job: load it, mark it running, fetch the input, run the engine, "
        "store the result and end the job. Settings come from DIARIST_* variables.",
    )
    p.add_argument("--job-id", default=os.environ.get("DIARIST_JOB_ID"), help="default: $DIARIST_JOB_ID")
    p.add_argument(
        "--tenant-id", default=os.environ.get("DIARIST_TENANT_ID"), help="default: $DIARIST_TENANT_ID"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.job_id or not args.tenant_id:
        print("diarist worker: --job-id and --tenant-id are required", file=sys.stderr)
        return 2
    from diarist.observability import set_level
    from diarist.worker import run_worker

    # JSON lines on stderr, each with the job's keys (the container's log stream)
    set_level(os.environ.get("DIARIST_LOG_LEVEL", "INFO").upper())

    return run_worker(args.job_id, args.tenant_id)
