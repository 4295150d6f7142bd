"""A launcher that starts nothing and records every call (``ports.Launcher``)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from diarist.domain.messages import WorkerSpec
from diarist.ports import WorkerStatus


class FakeLauncher:
    """Records each worker launch (``launched``, launch ids ``fake-1``, ``fake-2`` ...).
    ``fail_with`` (an exception, or a callable returning one or None) makes the next launches
    raise, e.g. ``LaunchThrottled`` to exercise the dispatcher's retries; ``statuses`` is what
    ``status`` answers per launch id (``running`` for a launch it made, ``gone`` otherwise)."""

    def __init__(
        self, fail_with: BaseException | Callable[[WorkerSpec], BaseException | None] | None = None
    ) -> None:
        self.launched: list[WorkerSpec] = []
        self.terminated: list[tuple[str, str]] = []
        self.statuses: dict[str, WorkerStatus] = {}
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
            self.statuses[launch_id] = WorkerStatus.RUNNING
        if self.on_launch is not None:
            self.on_launch(spec, launch_id)
        return launch_id

    def status(self, launch_id: str) -> WorkerStatus:
        return self.statuses.get(launch_id, WorkerStatus.GONE)

    def terminate(self, launch_id: str, reason: str) -> None:
        self.terminated.append((launch_id, reason))
        if launch_id in self.statuses:
            self.statuses[launch_id] = WorkerStatus.FAILED
