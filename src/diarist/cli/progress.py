"""The engine commands' progress bar on stderr (stdout stays for the result): percent 0-100, never
backwards, a stage name in front; nothing at all with ``--quiet``."""

from __future__ import annotations

import sys
from typing import Any


class ProgressBar:
    """Call it with a percentage; ``stage`` renames what is shown; ``close`` when done. A context
    manager, so an error path closes it too."""

    def __init__(self, stage: str, *, quiet: bool = False) -> None:
        self._bar: Any = None
        if not quiet:
            from tqdm import tqdm

            self._bar = tqdm(
                total=100,
                unit="%",
                file=sys.stderr,
                bar_format="{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
            )
            self._bar.set_description(stage)

    def stage(self, name: str) -> None:
        if self._bar is not None:
            self._bar.set_description(name)

    def __call__(self, pct: float) -> None:
        if self._bar is not None:
            self._bar.update(max(0.0, pct - self._bar.n))

    def close(self) -> None:
        """Idempotent: an error path closes the bar before printing, the context exit again."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
