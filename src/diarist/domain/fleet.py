"""The drain-worker fleet: how many workers a backlog needs (pure rules, no I/O).

A worker (``diarist worker --drain``) loads the model once and takes jobs from the work queue one
after another until it has been idle ``idle_timeout_s`` or lived ``max_lifetime_s``. The fleet is
one versioned record of the workers that exist: each entry counts until its ``until`` (a launched
worker gets ``start_grace_s`` to start and report; a running one reports every heartbeat), so a
worker that vanished without leaving stops counting by itself.

The capacity rule: ``needed = min(max_workers, ceil(active_jobs / jobs_per_worker))`` where the
active jobs are those waiting for a worker or running; launch ``needed - live`` workers when that
is positive. ``jobs_per_worker`` is the backlog one worker is expected to absorb before another is
worth its start-up (1: a worker per job up to the maximum; more: fewer launches for short jobs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FleetState:
    """``workers``: worker id -> the time after which it no longer counts unless it reports.

    ``start_failures``: workers in a row whose container could not start (image cannot be pulled,
    container cannot start, exited before it first reported), ``start_failure`` the last one's
    reason and ``start_failed_at`` when; a worker's first report sets the count back to 0."""

    version: int = 0
    workers: dict[str, datetime] = field(default_factory=dict)
    start_failures: int = 0
    start_failure: str | None = None
    start_failed_at: datetime | None = None

    def live(self, now: datetime) -> list[str]:
        return [w for w, until in self.workers.items() if until > now]

    def expired(self, now: datetime) -> list[str]:
        return [w for w, until in self.workers.items() if until <= now]


@dataclass(frozen=True)
class FleetPolicy:
    max_workers: int = 4
    jobs_per_worker: int = 1
    start_grace_s: float = 900.0  # a launched worker counts this long before it first reports
    report_every_s: float = 30.0  # a running worker reports at least this often ...
    lease_s: float = 120.0  # ... and counts this long after each report


def workers_needed(active_jobs: int, policy: FleetPolicy) -> int:
    """How many workers ``active_jobs`` (waiting + running) need, capped by the maximum."""
    if active_jobs <= 0:
        return 0
    return min(policy.max_workers, math.ceil(active_jobs / max(1, policy.jobs_per_worker)))


def shortfall(active_jobs: int, live_workers: int, policy: FleetPolicy) -> int:
    """Workers to launch now: what the backlog needs beyond the live (running or starting) ones."""
    return max(0, workers_needed(active_jobs, policy) - live_workers)
