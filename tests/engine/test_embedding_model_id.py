"""The API's default embedding model id is the one the engine computes for the pinned weights, so that
the default deployment accepts the voiceprints its own workers make (and no other)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from diarist.domain.model_choice import DEFAULT_EMBEDDING_MODEL_ID
from diarist.settings import ApiSettings

REPO = Path(__file__).resolve().parents[2]


def test_the_default_is_the_pinned_campplus_weights_id() -> None:
    spec = importlib.util.spec_from_file_location("fetch_weights", REPO / "scripts" / "fetch_weights.py")
    assert spec is not None and spec.loader is not None
    fetch_weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch_weights)
    (digest,) = [d for rel, d in fetch_weights.FILES.items() if rel.endswith("campplus_cn_en_common.pt")]
    assert f"campplus-3dspeaker-{digest[:12]}" == DEFAULT_EMBEDDING_MODEL_ID
    assert ApiSettings.model_fields["embedding_model_id"].default == DEFAULT_EMBEDDING_MODEL_ID


def test_the_loaded_engines_id_is_the_default(engine, model_dir: Path) -> None:
    from diarist.engine import EngineSettings
    from diarist.engine.models import embedding_model_id

    assert engine.embedding_model_id == DEFAULT_EMBEDDING_MODEL_ID
    # hashed from the files themselves too (not only the pinned digest)
    unverified = EngineSettings(model_dir=model_dir, verify_weights=False)
    assert embedding_model_id(unverified) == DEFAULT_EMBEDDING_MODEL_ID
