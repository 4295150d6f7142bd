"""A launcher that starts nothing and records every call (``ports.Launcher``)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from diarist.domain.messages import WorkerSpec


class FakeLauncher:
    """Counts launches per job. ``fail_with`` (an exception, or a callable returning one or None)
    makes the next launches raise, e.g. ``LaunchThrottled`` to exercise the dispatcher's retries."""

    def __init__(
        self, fail_with: BaseException | Callable[[WorkerSpec], BaseException | None] | None = None
    ) -> None:
        self.launched: list[WorkerSpec] = []
        self.terminated: list[tuple[str, str]] = []
        self.fail_with = fail_with
        self.on_launch: Callable[[WorkerSpec, str], None] | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def launch(self, spec: WorkerSpec) -> str:
        error = self.fail_with(spec) if callable(self.fail_with) else self.fail_with
        if error is not None:
            raise error
        with self._lock:
            self.launched.append(spec)
            launch_id = f"fake-{next(self._ids)}"
        if self.on_launch is not None:
            self.on_launch(spec, launch_id)
        return launch_id

    def find_launch(self, spec: WorkerSpec) -> str | None:
        """The latest launch for this job that was not terminated (as Batch's list_jobs would show)."""
        ended = {lid for lid, _ in self.terminated}
        for i, s in reversed(list(enumerate(self.launched))):
            if s.job_id == spec.job_id and f"fake-{i + 1}" not in ended:
                return f"fake-{i + 1}"
        return None

    def terminate(self, launch_id: str, reason: str) -> None:
        self.terminated.append((launch_id, reason))

    def launches_for(self, job_id: str) -> int:
        return sum(1 for s in self.launched if s.job_id == job_id)
