"""The API's OpenAPI document, generated from the code. ``python -m functions.api.openapi`` rewrites
``docs/openapi.json``; ``tests/api/test_openapi.py`` fails when the committed file drifts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
DESCRIPTION = (
    "Speaker diarization (who spoke when) in two dialects: pyannoteAI-style JSON under /v1 and /v2, "
    "Phonexia Speech Platform-style multipart under /api/technology. Every route needs "
    "`Authorization: Bearer <API key>` (`diarist keys create`). See docs/api.md."
)


def spec() -> dict[str, Any]:
    from diarist import __version__
    from functions.api.handler import app
    from functions.api.routes_phonexia import BASE, EXTRACTION, EXTRACTION_REQUEST_BODY, UPLOAD_REQUEST_BODY

    doc = json.loads(
        app.get_openapi_json_schema(
            title="Diarist API",
            version=__version__,
            description=DESCRIPTION,
            security_schemes={"bearerAuth": HTTPBearer(description="An API key from `diarist keys create`")},
            security=[{"bearerAuth": []}],
        )
    )
    # The upload route parses its multipart body itself (python-multipart): describe that body here.
    doc["paths"][BASE]["post"]["requestBody"] = UPLOAD_REQUEST_BODY
    doc["paths"][EXTRACTION]["post"]["requestBody"] = EXTRACTION_REQUEST_BODY
    # Powertools adds its own 422 shape to validated routes; this API answers 400 with ErrorBody instead.
    for ops in doc["paths"].values():
        for op in ops.values():
            op.get("responses", {}).pop("422", None)
    schemas = doc.get("components", {}).get("schemas", {})
    text = json.dumps(doc["paths"])
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"#/components/schemas/{name}" not in text:
            schemas.pop(name, None)
    return doc


def render() -> str:
    return json.dumps(spec(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(render())
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
