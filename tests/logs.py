"""Reading what ``diarist.observability`` writes: JSON log lines on stderr."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from diarist import observability


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every JSON object line of captured stderr (other output, e.g. the emulator's, is skipped)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@contextmanager
def at_info() -> Iterator[None]:
    """INFO for ``logger`` and the library loggers (local mode quiets them to WARNING when the
    suite starts it), restored afterwards."""
    names = (observability.logger.name, *observability.LIBRARY_LOGGERS)
    before = {name: logging.getLogger(name).level for name in names}
    observability.set_level(logging.INFO)
    try:
        yield
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)
