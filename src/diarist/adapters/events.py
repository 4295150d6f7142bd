"""EventBridge publisher for completion events (``ports.EventBus``)."""

from __future__ import annotations

from typing import Any

from diarist.adapters.aws import client
from diarist.domain.messages import EVENT_SOURCE, JobFinishedDetail, detail_type_for


class EventBridgeBus:
    def __init__(self, bus_name: str, events: Any | None = None) -> None:
        self.bus_name = bus_name
        self._events = events or client("events")

    def job_finished(self, detail: JobFinishedDetail) -> None:
        resp = self._events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type_for(detail.status),
                    "Detail": detail.model_dump_json(by_alias=True, exclude_none=True),
                    "EventBusName": self.bus_name,
                    "Resources": [],
                }
            ]
        )
        if resp.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {resp['Entries']}")
