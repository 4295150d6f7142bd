"""``diarist worker --drain``: a warm worker taking jobs from the work queue (the container's command)."""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "worker",
        help="drain worker (container command; Batch/ECS/local launcher)",
        description="Load the model once, then take jobs from the work queue one after another "
        "(fetch the input, run the engine, store the result, end the job) until idle for "
        "DIARIST_IDLE_TIMEOUT_S or older than DIARIST_MAX_LIFETIME_S. SIGTERM gives the running job "
        "back to the queue. Settings come from DIARIST_* variables (diarist.settings.DrainSettings).",
    )
    p.add_argument(
        "--drain", action="store_true", required=True, help="take jobs from the work queue until idle"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.drain:  # argparse enforces it; kept for a direct call
        print("diarist worker: --drain is required", file=sys.stderr)
        return 2
    from diarist.observability import set_level
    from diarist.worker.drain import drain

    # JSON lines on stderr, each with the job's keys (the container's log stream)
    set_level(os.environ.get("DIARIST_LOG_LEVEL", "INFO").upper())
    return drain()
