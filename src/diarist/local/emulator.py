"""The emulator's one correction: DynamoDB's writes are atomic, moto's are not.

DynamoDB applies each conditional write atomically: of two ``UpdateItem`` calls whose condition
holds for the item as it was, one wins and the other is refused. Every claim Diarist makes relies on
that (the launch claim, the fleet's capacity decision, a tenant's active-job slots, the webhook
ledger). moto's backend checks the condition and then writes without a lock, so two requests served
by two of the emulator's threads at once can both pass the same condition. ``make_writes_atomic``
serializes the backend's write operations in this process (the in-process ``ThreadedMotoServer`` of
local mode and of the tests), which restores the guarantee; reads stay concurrent. Idempotent.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_LOCK = threading.RLock()
_MARK = "_diarist_atomic"


def make_writes_atomic() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        original = getattr(DynamoDBBackend, name, None)
        if original is None or getattr(original, _MARK, False):
            continue
        setattr(DynamoDBBackend, name, _serialized(original))


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def write(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    setattr(write, _MARK, True)
    return write
