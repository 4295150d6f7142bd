"""Which model a job asks for, and which one this deployment runs: the one home for that rule.

pyannoteAI's API lets a job name a model (``precision-2``, its hosted premium model, or
``community-1``, its open-source pipeline). A Diarist deployment runs the engine its worker image
was built with, whatever the job asks for:

- ``diarist`` (the default image): Diarist's own engine with pyannote's segmentation-3.0 and
  3D-Speaker's CAM++ embedding. It is neither pyannoteAI model.
- ``community-1``: an image that bakes ``pyannote/speaker-diarization-community-1``'s pipeline
  directory; the engine runs that pipeline's segmentation and embedding models (with Diarist's own
  clustering, not the pipeline's VBx step).

Invariants:

- The accepted names are per job kind (``ACCEPTED_MODELS``); a new kind adds its entry (pyannoteAI's
  voiceprint and identify jobs accept ``precision-2`` only). Anything else is refused at submission,
  naming the allowed values; no model (absent or null) means "what this deployment runs".
- A job that names a model this deployment does not run gets a warning saying what runs instead
  (``model_warning``): never a silent substitution. The job keeps the name it asked for; what ran
  is recorded from the result when it succeeds.
"""

from __future__ import annotations

from typing import Final, Literal

from diarist.domain.jobs import JobKind

PRECISION_2: Final = "precision-2"
COMMUNITY_1: Final = "community-1"

ACCEPTED_MODELS: dict[JobKind, tuple[str, ...]] = {
    "diarize": (PRECISION_2, COMMUNITY_1),
    "voiceprint": (PRECISION_2,),
    "identify": (PRECISION_2,),
}
"""The pyannoteAI model names each job kind accepts, in the order error messages list them (the
Phonexia kinds name no model: only null is accepted for them)."""

DEFAULT_EMBEDDING_MODEL_ID: Final = "campplus-3dspeaker-92f29b94e694"
"""The embedding model id of the default worker image's weights: the pinned CAM++ of
``scripts/fetch_weights.py`` (``engine.models.embedding_model_id``: ``campplus-3dspeaker-`` + the
first 12 hex digits of their sha256). Voiceprints carry it; the API refuses voiceprints of any other
id (``ApiSettings.embedding_model_id``: set it for an image with other weights)."""

DeploymentEngine = Literal["diarist", "community-1"]
"""What a deployment's worker image runs (``DIARIST_ENGINE_MODEL``)."""

DEFAULT_ENGINE: DeploymentEngine = "diarist"

ENGINE_DESCRIPTIONS: dict[DeploymentEngine, str] = {
    "diarist": "Diarist's engine (pyannote segmentation-3.0 + 3D-Speaker CAM++)",
    "community-1": "pyannote community-1's segmentation and embedding models in Diarist's engine",
}

SERVES: dict[DeploymentEngine, frozenset[str]] = {
    "diarist": frozenset(),
    "community-1": frozenset({COMMUNITY_1}),
}
"""The requested model names each deployment engine honours without a warning."""


def model_problem(kind: JobKind, model: str | None) -> str | None:
    """Why ``model`` cannot be asked for on a job of ``kind`` (None: it can; None is "no model")."""
    accepted = ACCEPTED_MODELS.get(kind, ())
    if model is None or model in accepted:
        return None
    if not accepted:
        return "must be null: this kind of job names no model"
    return f"must be one of {', '.join(accepted)} (or null)"


def model_warning(requested: str | None, engine: DeploymentEngine) -> str | None:
    """The warning a job asking for ``requested`` carries on a deployment running ``engine``."""
    if requested is None or requested in SERVES[engine]:
        return None
    return (
        f"model {requested} is not available in this deployment: the job runs {ENGINE_DESCRIPTIONS[engine]}"
    )
