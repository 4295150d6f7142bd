"""Enough drain workers for the backlog: the fleet's capacity decision (``FleetScaler``).

``ensure_capacity()`` (the dispatcher calls it after putting a job on the work queue; the sweeper
on each sweep while jobs wait):

1. Read the fleet (``ports.WorkerFleet``, consistent) and count the active jobs (waiting +
   running). ``domain.fleet.shortfall`` says how many workers to add (0 when the live ones, those
   running or still starting, can take the backlog, or the maximum is reached).
2. Claim the launches: ONE conditional write adds the new workers' entries (each counts for
   ``start_grace_s`` until it reports) if the fleet is still at the version read. Two dispatchers
   that saw the same shortfall cannot both pass it: the loser reads again and finds no shortfall.
3. Launch each claimed worker (``ports.Launcher``). A launch that fails leaves the fleet at once
   (its entry is removed), so the next decision may try again; the error is raised after the other
   launches (the dispatcher's record is retried).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from diarist.domain.fleet import FleetPolicy, shortfall
from diarist.domain.jobs import utcnow
from diarist.domain.messages import WorkerSpec
from diarist.ports import Launcher, WorkerFleet

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # conditional-write conflicts in a row before giving up (the next job decides again)


@dataclass(frozen=True)
class Launched:
    worker_id: str
    launch_id: str


@dataclass
class FleetScaler:
    fleet: WorkerFleet
    launcher: Launcher
    policy: FleetPolicy = field(default_factory=FleetPolicy)

    def ensure_capacity(self, *, min_active: int = 0) -> list[Launched]:
        """Launch the workers the backlog lacks (none most of the time); the launches made.
        ``min_active``: the backlog is at least this (a job just queued, which the index may not
        show yet)."""
        for _ in range(MAX_ATTEMPTS):
            now = utcnow()
            state = self.fleet.read()
            active = max(min_active, self.fleet.active_jobs())
            live = state.live(now)
            missing = shortfall(active, len(live), self.policy)
            if missing == 0:
                return []
            until = now + timedelta(seconds=self.policy.start_grace_s)
            new = {uuid.uuid4().hex: until for _ in range(missing)}
            if self.fleet.grow(state, new, now=now):
                log.info(
                    "fleet: launching workers",
                    extra={"active_jobs": active, "live_workers": len(live), "launching": missing},
                )
                return self._launch(list(new))
        log.warning("fleet: the capacity decision kept conflicting; left to the next one")
        return []

    def _launch(self, worker_ids: list[str]) -> list[Launched]:
        launched: list[Launched] = []
        error: Exception | None = None
        for worker_id in worker_ids:
            try:
                launch_id = self.launcher.launch(WorkerSpec(worker_id=worker_id))
            except Exception as e:  # the claimed slot is given up so a later decision retries
                self.fleet.leave(worker_id)
                error = error or e
                continue
            log.info("worker launched", extra={"worker_id": worker_id, "launch_id": launch_id})
            launched.append(Launched(worker_id, launch_id))
        if error is not None:
            raise error
        return launched
