"""The API function's real DynamoDB calls, across every route, are within what its role is
granted (``infra/table_access.py`` -> the template), and use every grant: nothing more, nothing less."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, finish_with_result, small_result
from tests.api.events import multipart_body
from tests.table_calls import check_granted, granted, recorded_table_calls

pytestmark = pytest.mark.integration

AUDIO = "https://example.com/a.wav"
HOOKED = {"url": AUDIO, "webhook": "https://example.com/h"}
PHONEXIA = "/api/technology/speaker-diarization"


def _queue_down(message: object) -> None:
    raise RuntimeError("SQS is down")


def test_api_calls_stay_within_its_table_grants(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from diarist.settings import load
    from functions.api import deps

    # per-tenant limits on (services.limits): requests counted, queued jobs take a slot
    monkeypatch.setenv("DIARIST_REQUESTS_PER_MINUTE_PER_TENANT", "1000")
    monkeypatch.setenv("DIARIST_MAX_ACTIVE_JOBS_PER_TENANT", "2")
    load.cache_clear()
    deps.reset()
    deps.limits().rescan_after_s = 0

    with recorded_table_calls() as calls:
        # submit, with an Idempotency-Key, and a replay of the key
        first = api.call("POST", "/v1/diarize", body=HOOKED, headers={"Idempotency-Key": "k-1"})
        assert first.status == 200, first.body
        again = api.call("POST", "/v1/diarize", body=HOOKED, headers={"Idempotency-Key": "k-1"})
        assert again.status == 200 and again.body["jobId"] == first.body["jobId"]
        job_id = first.body["jobId"]
        # the queue is down: the job fails and the key is released
        with monkeypatch.context() as patch:
            patch.setattr(deps.submissions().queue, "send", _queue_down)
            down = api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "k-2"})
            assert down.status == 503
        # media upload, Phonexia upload and poll
        assert api.call("POST", "/v1/media/input", body={"url": "media://a.wav"}).status == 201
        body, ctype = multipart_body({"file": ("a.wav", "audio/wav", b"RIFF....WAVE")})
        task = api.call("POST", PHONEXIA, body=body, headers={"Content-Type": ctype})
        assert task.status == 202, task.body
        task_id = task.body["task"]["task_id"]
        assert api.call("GET", f"{PHONEXIA}/{task_id}").status == 200
        # read, list (with a cursor and a filter), another tenant's job, an unknown key
        assert api.call("GET", f"/v1/jobs/{job_id}").status == 200
        page = api.call("GET", "/v2/jobs?limit=1")
        assert api.call("GET", f"/v2/jobs?limit=1&cursor={page.body['cursor']}&status=pending").status == 200
        assert api.call("GET", f"/v1/jobs/{job_id}", token=api.key_b).status == 404
        assert api.call("GET", "/v2/jobs", token="dia_00000000_" + "x" * 43).status == 401
        # over the active-job limit (2: the first job and the Phonexia task), then a slot given back
        assert api.call("POST", "/v1/diarize", body={"url": AUDIO}).status == 429
        # cancel
        assert api.call("POST", f"/v1/jobs/{task_id}/cancel").status == 200
        assert api.call("POST", "/v1/diarize", body={"url": AUDIO}).status == 200
    finish_with_result(api, job_id, "tenant-a", small_result())  # (the worker's writes, not the API's)
    with recorded_table_calls() as more:
        # a finished job: its output, a new webhook round, delete with purge
        assert api.call("GET", f"/v1/jobs/{job_id}").status == 200
        assert api.call("GET", f"/v1/jobs/{task_id}/input").status == 200  # the console's player
        assert api.call("POST", "/v1/media/output", body={"url": "media://a.wav"}).status == 201
        assert api.call("GET", "/", token=False).status == 200  # the console: no table call
        assert api.call("POST", f"/v1/jobs/{job_id}/webhook").status == 200
        assert api.call("DELETE", f"/v1/jobs/{job_id}?purge=true").status == 200
    used = check_granted("api", calls + more)
    # Every grant is used; an idempotency record is read back only when DynamoDB's refusal does not
    # carry the old item (it does, moto's too), so that read is the one left.
    assert granted("api") - used == {("IDEM#", "GetItem")}, sorted(granted("api") - used)
