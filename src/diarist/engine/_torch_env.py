"""Import torch / torchaudio / pyannote.audio safely, offline, once.

* ``PYANNOTE_METRICS_ENABLED=0`` and ``HF_HUB_OFFLINE=1`` are set *before* pyannote is imported:
  nothing in the engine may reach a model hub at run time.
* torchaudio 2.11's PyPI wheel links its compiled extension against the CUDA build of torch
  (``libc10_cuda.so``). With the CPU build of torch that extension fails to load and ``import torchaudio``
  raises ``OSError``. pyannote.audio only uses pure-Python parts of torchaudio (``compliance.kaldi.fbank``,
  ``functional.resample``), so on failure we import torchaudio with its extension loader replaced by a
  stub that reports "extension not available" (the same state as a build without the extension).
"""

from __future__ import annotations

import os
import sys
import types
import warnings

_READY = False


def _stub_torchaudio_extension() -> None:
    for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
        del sys.modules[name]
    stub = types.ModuleType("torchaudio._extension")

    def _unavailable(*_a: object, **_k: object) -> None:
        raise RuntimeError("torchaudio's compiled extension is not available with this torch build")

    def fail_if_no_align(func: object) -> object:
        return lambda *a, **k: _unavailable()

    stub._IS_TORCHAUDIO_EXT_AVAILABLE = False  # type: ignore[attr-defined]
    stub._IS_ALIGN_AVAILABLE = False  # type: ignore[attr-defined]
    stub.fail_if_no_align = fail_if_no_align  # type: ignore[attr-defined]
    stub._load_lib = lambda lib: False  # type: ignore[attr-defined]
    stub._check_cuda_version = lambda: None  # type: ignore[attr-defined]
    sys.modules["torchaudio._extension"] = stub


def prepare() -> None:
    """Set the offline environment and make ``import pyannote.audio`` work. Idempotent."""
    global _READY
    if _READY:
        return
    os.environ["PYANNOTE_METRICS_ENABLED"] = "0"  # no usage telemetry, ever
    os.environ["HF_HUB_OFFLINE"] = "1"
    # idle OpenMP workers sleep instead of spinning: on a shared or busy CPU, spinning threads multiply
    # the CPU time (measured 5x on the 2-core dev box) for no gain
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import torchaudio  # noqa: F401
    except OSError:
        _stub_torchaudio_extension()
        import torchaudio  # noqa: F401
    warnings.filterwarnings("ignore", module=r"pyannote\..*")
    warnings.filterwarnings("ignore", message=r".*torchaudio.*")
    warnings.filterwarnings("ignore", message=r".*std\(\): degrees of freedom.*")
    _READY = True
