"""Local mode's schedule (the sweeper's EventBridge rate rule): the handler runs every interval,
an exception does not stop the schedule, and stop() ends it."""

from __future__ import annotations

import threading
from typing import Any

from diarist.local.pollers import SchedulePoller


def test_runs_every_interval_survives_errors_and_stops() -> None:
    calls: list[dict[str, Any]] = []
    three = threading.Event()

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append(event)
        if len(calls) == 3:
            three.set()
        if len(calls) == 1:
            raise RuntimeError("a failing sweep")

    poller = SchedulePoller("sweeper", handler, interval_s=0.05)
    poller.start()
    assert three.wait(5)
    poller.stop()
    n = len(calls)
    assert n >= 3 and calls[0]["detail-type"] == "Scheduled Event"
    threading.Event().wait(0.2)
    assert len(calls) == n  # nothing after stop
