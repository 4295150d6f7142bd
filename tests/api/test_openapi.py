"""docs/openapi.json is generated from the code: regenerate with ``python -m functions.api.openapi``."""

from __future__ import annotations

import json

from functions.api.openapi import DOC, render, spec


def test_committed_openapi_matches_the_code() -> None:
    assert DOC.is_file(), "run: python -m functions.api.openapi"
    assert DOC.read_text() == render(), (
        "docs/openapi.json drifted from the code: run python -m functions.api.openapi"
    )


def test_openapi_documents_every_route_and_the_error_shapes() -> None:
    doc = spec()
    ops = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert ops == {
        ("/v1/test", "get"),
        ("/v1/diarize", "post"),
        ("/v1/media/input", "post"),
        ("/v1/media/output", "post"),
        ("/v1/jobs/{jobId}/input", "get"),
        ("/v1/jobs/{jobId}", "get"),
        ("/v1/jobs/{jobId}", "delete"),
        ("/v1/jobs/{jobId}/cancel", "post"),
        ("/v1/jobs/{jobId}/webhook", "post"),
        ("/v2/jobs", "get"),
        ("/api/technology/speaker-diarization", "post"),
        ("/api/technology/speaker-diarization/{task_id}", "get"),
        ("/v1/voiceprint", "post"),
        ("/v1/identify", "post"),
        ("/api/technology/speaker-identification-voiceprint-extraction", "post"),
        ("/api/technology/speaker-identification-voiceprint-extraction/{task_id}", "get"),
        ("/api/technology/speaker-identification-voiceprint-comparison", "post"),
        ("/api/technology/speaker-identification-voiceprint-comparison/{task_id}", "get"),
    }
    text = json.dumps(doc)
    assert "422" not in json.dumps(
        [op["responses"] for item in doc["paths"].values() for op in item.values()]
    )
    assert doc["security"] == [{"bearerAuth": []}] and "multipart/form-data" in text
    props = doc["components"]["schemas"]["DiarizeRequest"]["properties"]
    assert {"url", "webhook", "numSpeakers", "minSpeakers", "maxSpeakers", "confidence", "exclusive"} <= set(
        props
    )
    assert {"model", "transcription", "transcriptionConfig"} <= set(props)
    paths = doc["paths"]
    assert set(paths["/v1/media/input"]["post"]["responses"]) == {"201", "400", "401", "429"}
    assert set(paths["/v1/media/output"]["post"]["responses"]) == {"201", "400", "401", "429"}
    assert set(paths["/v1/jobs/{jobId}/input"]["get"]["responses"]) == {"200", "401", "404", "409", "429"}
    assert props["channelMode"]["anyOf"][0]["enum"] == ["mix", "split"]
    # every authenticated route may answer the tenant's rate limit (services.limits)
    for item in paths.values():
        for op in item.values():
            assert "401" not in op["responses"] or "429" in op["responses"], op.get("operationId")
    assert "message" in doc["components"]["schemas"]["ErrorBody"]["required"]
    assert "nextCursor" in doc["components"]["schemas"]["JobList"]["properties"]
