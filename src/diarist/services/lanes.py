"""Two work lanes behind one ``ports.WorkQueue`` (``LanedWork``): short jobs first, long ones never
starved (the rule: ``domain.lanes``).

- ``send`` puts a ``WorkMessage`` on its lane's queue (``WorkMessage.lane``, chosen from the job by
  ``WorkMessage.of``).
- ``receive`` looks at the lanes in ``lane_order``: the short lane first, the long lane first after
  ``long_every`` short jobs in a row. It asks the first lane without waiting, then the second, and
  only when both are empty long-polls the first one (``wait_s``) and then looks at the second once
  more without waiting; so a worker never sleeps on one lane while the other has work.
- A receipt names its lane (``<lane>:<receipt>``), so ``keep``/``give_back``/``done`` reach the
  queue the message came from; the drain worker needs to know nothing of lanes.

One instance per worker (it counts that worker's short jobs in a row).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from diarist.domain.lanes import DEFAULT_LONG_EVERY, LONG, SHORT, Lane, lane_order
from diarist.domain.messages import WorkMessage
from diarist.ports import WorkItem, WorkQueue


@dataclass
class LanedWork:
    short: WorkQueue
    long: WorkQueue
    long_every: int = DEFAULT_LONG_EVERY
    shorts_in_a_row: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _queue(self, lane: Lane) -> WorkQueue:
        return self.short if lane == SHORT else self.long

    def send(self, message: WorkMessage) -> None:
        self._queue(message.lane).send(message)

    def receive(self, *, wait_s: float, visibility_s: int, max_messages: int = 1) -> list[WorkItem]:
        with self._lock:
            first, second = lane_order(self.shorts_in_a_row, self.long_every)
        looks: list[tuple[Lane, float]] = [(first, 0.0), (second, 0.0)]
        if wait_s > 0:
            looks += [(first, wait_s), (second, 0.0)]
        for lane, wait in looks:
            items = self._queue(lane).receive(
                wait_s=wait, visibility_s=visibility_s, max_messages=max_messages
            )
            if items:
                self._took(lane, len(items))
                return [
                    WorkItem(message=i.message, receipt=f"{lane}:{i.receipt}", receive_count=i.receive_count)
                    for i in items
                ]
        return []

    def _took(self, lane: Lane, n: int) -> None:
        with self._lock:
            self.shorts_in_a_row = self.shorts_in_a_row + n if lane == SHORT else 0

    def keep(self, receipt: str, seconds: int) -> None:
        queue, inner = self._split(receipt)
        queue.keep(inner, seconds)

    def give_back(self, receipt: str) -> None:
        queue, inner = self._split(receipt)
        queue.give_back(inner)

    def done(self, receipt: str) -> None:
        queue, inner = self._split(receipt)
        queue.done(inner)

    def _split(self, receipt: str) -> tuple[WorkQueue, str]:
        lane, sep, inner = receipt.partition(":")
        if not sep or lane not in (SHORT, LONG):
            return self.long, receipt  # not ours (a receipt from before lanes): the long lane's
        return self._queue(lane), inner
