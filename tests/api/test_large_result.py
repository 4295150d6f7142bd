"""A 24 h recording's result: 20 ms confidence is ~4.3 M scores. It must stay out of DynamoDB and
out of the response body (presigned outputUrl instead)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from diarist.adapters.aws import client
from diarist.domain.results import ChannelResult, Confidence, DiarizationResult, Turn
from tests.api.conftest import Api, finish_with_result

pytestmark = pytest.mark.integration

DAY_S = 24 * 3600
DYNAMODB_ITEM_LIMIT = 400 * 1024


def day_long_result() -> DiarizationResult:
    # 10 s turns alternating between two speakers, overlapping by 0.5 s
    turns = [
        Turn(speaker=f"SPEAKER_0{i % 2}", start=i * 10.0, end=i * 10.0 + 10.5) for i in range(DAY_S // 10)
    ]
    excl = [Turn(speaker=t.speaker, start=t.start, end=t.start + 10.0) for t in turns]
    n_scores = int(DAY_S / 0.02)
    scores = [(i * 37) % 101 for i in range(n_scores)]
    return DiarizationResult(
        duration=float(DAY_S),
        sample_rate=16000,
        num_channels=1,
        channel_mode="mix",
        channels=[
            ChannelResult(
                channel=None,
                speakers=["SPEAKER_00", "SPEAKER_01"],
                diarization=turns,
                exclusive_diarization=excl,
                confidence=Confidence(score=scores),
            )
        ],
        model="test",
    )


def _item_size(item: dict) -> int:
    """Upper bound of a DynamoDB item's size: the JSON of its typed attributes."""
    return len(json.dumps(item).encode())


def test_day_long_result_is_served_by_url_and_never_stored_in_dynamodb(api: Api) -> None:
    result = day_long_result()
    confidence = result.channels[0].confidence
    assert confidence is not None and len(confidence.score) == 4_320_000
    r = api.call("POST", "/v1/diarize", body={"url": "https://a.example.com/day.wav", "confidence": True})
    job_id = r.body["jobId"]
    key = finish_with_result(api, job_id, "tenant-a", result)
    size = client("s3").head_object(Bucket=api.resources.results_bucket, Key=key)["ContentLength"]
    assert size > 8 * 1024 * 1024

    r = api.call("GET", f"/v1/jobs/{job_id}")
    assert r.status == 200 and "output" not in r.body and r.body["outputUrl"].startswith("http")
    assert len(r.raw["body"]) < 8 * 1024  # the Lambda response stays tiny (the limit is 6 MB)
    with urllib.request.urlopen(r.body["outputUrl"]) as resp:
        output = json.loads(resp.read())
    assert len(output["confidence"]["score"]) == 4_320_000 and output["confidence"]["resolution"] == 0.02
    assert len(output["diarization"]) == DAY_S // 10 and "exclusiveDiarization" not in output
    # a second GET reuses the rendering
    assert (
        api.call("GET", f"/v1/jobs/{job_id}").body["outputUrl"].split("?")[0]
        == r.body["outputUrl"].split("?")[0]
    )

    items = client("dynamodb").scan(TableName=api.resources.table)["Items"]
    assert items and max(_item_size(i) for i in items) < DYNAMODB_ITEM_LIMIT
    assert max(_item_size(i) for i in items) < 8 * 1024  # in fact, every item is small
