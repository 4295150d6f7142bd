"""ruff and mypy are part of the test run: a lint or type error fails ``make test`` (and CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["lint", "format"])
def test_ruff(args: tuple[str, ...]) -> None:
    proc = _run(str(BIN / "ruff"), *args)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_mypy() -> None:
    proc = _run(str(BIN / "mypy"), "src", "functions", "infra", "app.py")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
