"""pyannoteAI compatibility of the /v1 and /v2 routes: what pyannoteai-sdk 0.4.0 and the reference
(docs/api.md, "pyannoteAI compatibility") rely on, through ``lambda_handler`` on moto."""

from __future__ import annotations

import time

import pytest

from diarist.domain.jobs import JobError, JobStatus
from diarist.domain.model_choice import model_warning
from diarist.domain.transcription import TranscriptionParams, transcription_warnings
from diarist.testing.fake_engine import FakeJobDiarizer
from tests.api.conftest import Api, finish_with_result, small_result
from tests.api.test_pyannote_api import AUDIO, SDK_DIARIZE_BODY, submit

pytestmark = pytest.mark.integration


# -- GET /v1/test ---------------------------------------------------------------------------------


def test_v1_test_answers_ok_for_a_valid_key_and_401_otherwise(api: Api) -> None:
    r = api.call("GET", "/v1/test")
    assert r.status == 200 and r.body == {"status": "OK", "message": "API key is valid"}
    for token in (False, "dia_00000000_" + "a" * 43, "not-a-key"):
        r = api.call("GET", "/v1/test", token=token)
        assert r.status == 401 and r.fields() == ["Authorization"], token
        assert r.headers["www-authenticate"] == "Bearer" and r.body["message"]


# -- POST /v1/diarize: the SDK's body, nulls, model, transcription -----------------------------------


def test_the_sdks_default_body_is_accepted(api: Api) -> None:
    r = api.call("POST", "/v1/diarize", body=SDK_DIARIZE_BODY)
    assert r.status == 200, r.body
    assert r.body["status"] == "created" and r.body["jobId"]
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.params.num_speakers is None and not job.params.exclusive


def test_every_optional_field_may_be_null(api: Api) -> None:
    nulls = {
        "url": AUDIO,
        "webhook": None,
        "webhookStatusOnly": None,
        "model": None,
        "numSpeakers": None,
        "minSpeakers": None,
        "maxSpeakers": None,
        "confidence": None,
        "turnLevelConfidence": None,
        "exclusive": None,
        "transcription": None,
        "transcriptionConfig": None,
    }
    r = api.call("POST", "/v1/diarize", body=nulls)
    assert r.status == 200, r.body
    assert r.body == {"jobId": r.body["jobId"], "status": "created"}  # no model named: no warning
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.requested_model is None and job.warnings == []
    assert job.webhook_url is None and not job.webhook_status_only
    assert job.params.model_dump() == {
        "num_speakers": None,
        "min_speakers": None,
        "max_speakers": None,
        "confidence": False,
        "turn_level_confidence": False,
        "exclusive": False,
        "channel_mode": "mix",
    }
    # null means the same as absent: one Idempotency-Key, the same job
    r1 = api.call("POST", "/v1/diarize", body=nulls, headers={"Idempotency-Key": "nulls"})
    r2 = api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "nulls"})
    assert r1.status == r2.status == 200 and r1.body["jobId"] == r2.body["jobId"]
    # and null never smuggles in an unknown field
    r = api.call("POST", "/v1/diarize", body={**nulls, "speakers": None})
    assert r.status == 400 and r.fields() == ["speakers"]


def test_transcription_true_is_accepted_and_recorded_on_the_job(api: Api) -> None:
    ok = {**SDK_DIARIZE_BODY, "model": None, "transcriptionConfig": {"model": "parakeet-tdt-0.6b-v3"}}
    r = api.call("POST", "/v1/diarize", body=ok)  # transcription false: the config is ignored
    assert r.status == 200 and "warning" not in r.body, r.body
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.params.transcription is None
    assert "transcription" not in job.params.model_dump()
    r = api.call("POST", "/v1/diarize", body={**SDK_DIARIZE_BODY, "model": None, "transcription": True})
    assert r.status == 200 and "warning" not in r.body, r.body  # no model named: no warning
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.params.transcription == TranscriptionParams()
    assert job.warnings == []
    body = {
        **SDK_DIARIZE_BODY,
        "model": None,
        "transcription": True,
        "transcriptionConfig": {"model": "faster-whisper-base", "language": "de"},
    }
    r = api.call("POST", "/v1/diarize", body=body)
    assert r.status == 200 and "warning" not in r.body, r.body  # the deployment's own model
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.params.transcription == TranscriptionParams(
        model="faster-whisper-base", language="de"
    )
    assert len(api.queue_messages()) == 3


def test_a_transcription_model_the_deployment_does_not_run_gets_a_warning(api: Api) -> None:
    body = {
        **SDK_DIARIZE_BODY,
        "model": None,
        "transcription": True,
        "transcriptionConfig": {"model": "parakeet-tdt-0.6b-v3"},
    }
    r = api.call("POST", "/v1/diarize", body=body)
    expected = transcription_warnings(
        TranscriptionParams(model="parakeet-tdt-0.6b-v3"), "faster-whisper-base"
    )
    assert (
        len(expected) == 1 and "parakeet-tdt-0.6b-v3" in expected[0] and "faster-whisper-base" in expected[0]
    )
    assert r.status == 200 and r.body["warning"] == expected[0]
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.warnings == expected
    # with the diarization model named too, both warnings are kept
    r = api.call("POST", "/v1/diarize", body={**body, "model": "precision-2"})
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.warnings == [model_warning("precision-2", "diarist"), *expected]


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        ({"model": "whisper-huge"}, ["transcriptionConfig.model"]),
        ({"model": 42}, ["transcriptionConfig.model"]),
        ({"language": "english"}, ["transcriptionConfig.language"]),
        ({"language": "xx"}, ["transcriptionConfig.language"]),
        ({"model": "nope", "language": "xx"}, ["transcriptionConfig.model", "transcriptionConfig.language"]),
        ({"modle": "faster-whisper-base"}, ["transcriptionConfig.modle"]),
        ("faster-whisper-base", ["transcriptionConfig"]),
    ],
)
def test_bad_transcription_config_is_a_400_naming_the_field(
    api: Api, config: object, fields: list[str]
) -> None:
    for transcription in (True, False):  # checked even when the config is ignored
        body = {**SDK_DIARIZE_BODY, "transcription": transcription, "transcriptionConfig": config}
        r = api.call("POST", "/v1/diarize", body=body)
        assert r.status == 400, r.body
        assert r.fields() == fields, r.body
    assert api.queue_messages() == []


def test_bad_transcription_model_names_the_allowed_values(api: Api) -> None:
    body = {**SDK_DIARIZE_BODY, "transcription": True, "transcriptionConfig": {"model": "whisper-huge"}}
    message = api.call("POST", "/v1/diarize", body=body).body["errors"][0]["message"]
    for name in ("parakeet-tdt-0.6b-v3", "faster-whisper-large-v3-turbo", "faster-whisper-base"):
        assert name in message


def test_identify_takes_no_transcription(api: Api) -> None:
    r = api.call("POST", "/v1/identify", body={"url": AUDIO, "voiceprints": [], "transcription": True})
    assert r.status == 400 and "transcription" in r.fields(), r.body


def test_a_transcribed_jobs_output_has_word_and_turn_level_transcription(api: Api) -> None:
    r = api.call("POST", "/v1/diarize", body={"url": AUDIO, "transcription": True})
    job_id = r.body["jobId"]
    job = api.store.get(job_id)
    assert job is not None
    result = FakeJobDiarizer(turn_s=2.0).result(6.0, 16000, 1, job.params)
    finish_with_result(api, job_id, "tenant-a", result)
    out = api.call("GET", f"/v1/jobs/{job_id}").body["output"]
    words, turns = out["wordLevelTranscription"], out["turnLevelTranscription"]
    assert [w["text"] for w in words[:4]] == ["this", "is", "speaker", "0"]
    assert {w["speaker"] for w in words} == {"SPEAKER_00", "SPEAKER_01"}
    assert set(words[0]) == {"start", "end", "text", "speaker"}
    assert [t["text"] for t in turns] == ["this is speaker 0", "this is speaker 1", "this is speaker 0"]
    assert [t["speaker"] for t in turns] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00"]
    # a job that did not ask has none
    r = api.call("POST", "/v1/diarize", body={"url": AUDIO})
    finish_with_result(api, r.body["jobId"], "tenant-a", small_result())
    out = api.call("GET", f"/v1/jobs/{r.body['jobId']}").body["output"]
    assert "wordLevelTranscription" not in out and "turnLevelTranscription" not in out


def test_unknown_model_is_a_400_naming_the_field_and_the_allowed_values(api: Api) -> None:
    r = api.call("POST", "/v1/diarize", body={**SDK_DIARIZE_BODY, "model": "precision-1"})
    assert r.status == 400 and r.fields() == ["model"]
    message = r.body["errors"][0]["message"]
    assert "precision-2" in message and "community-1" in message
    assert r.body["message"].startswith("invalid request: model: ")


def test_a_model_this_deployment_does_not_run_is_recorded_with_a_warning(api: Api) -> None:
    r = api.call("POST", "/v1/diarize", body=SDK_DIARIZE_BODY)  # precision-2, on Diarist's engine
    expected = model_warning("precision-2", "diarist")
    assert expected and "precision-2" in expected and "segmentation-3.0" in expected
    assert r.status == 200 and r.body["warning"] == expected
    job_id = r.body["jobId"]
    job = api.store.get(job_id)
    assert job is not None and job.requested_model == "precision-2" and job.warnings == [expected]
    view = api.call("GET", f"/v1/jobs/{job_id}").body
    assert view["requestedModel"] == "precision-2" and view["warnings"] == [expected]
    assert "resultModel" not in view  # nothing ran yet
    finish_with_result(api, job_id, "tenant-a", small_result())
    api.store.update(job_id, result_model="test")  # what the worker records on success
    view = api.call("GET", f"/v1/jobs/{job_id}").body
    assert view["requestedModel"] == "precision-2" and view["resultModel"] == "test"
    # community-1 on Diarist's engine: a warning too
    r = api.call("POST", "/v1/diarize", body={**SDK_DIARIZE_BODY, "model": "community-1"})
    assert r.status == 200 and "community-1" in r.body["warning"]


def test_a_deployment_that_runs_community_1_warns_only_for_precision_2(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diarist.settings import load
    from functions.api import deps

    monkeypatch.setenv("DIARIST_ENGINE_MODEL", "community-1")
    load.cache_clear()
    deps.reset()
    r = api.call("POST", "/v1/diarize", body={**SDK_DIARIZE_BODY, "model": "community-1"})
    assert r.status == 200 and "warning" not in r.body, r.body
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.requested_model == "community-1" and job.warnings == []
    r = api.call("POST", "/v1/diarize", body=SDK_DIARIZE_BODY)
    assert r.status == 200 and r.body["warning"] == model_warning("precision-2", "community-1")
    assert "community-1" in r.body["warning"]


# -- failed and canceled jobs: output.error -----------------------------------------------------------


def test_failed_and_canceled_jobs_carry_output_error_as_a_string(api: Api) -> None:
    failed = submit(api)
    api.store.transition(failed, JobStatus.FAILED, error=JobError(code="input_corrupt", message="not audio"))
    body = api.call("GET", f"/v1/jobs/{failed}").body
    assert body["status"] == "failed"
    assert body["output"] == {"error": "not audio"}  # what the SDK raises PyannoteAIFailedJob with
    assert body["error"] == {"code": "input_corrupt", "message": "not audio"}  # ours, kept

    canceled = submit(api)
    assert api.call("POST", f"/v1/jobs/{canceled}/cancel").status == 200
    body = api.call("GET", f"/v1/jobs/{canceled}").body
    assert body["status"] == "canceled" and body["output"] == {"error": "the job was canceled"}

    running = submit(api)
    api.store.transition(running, JobStatus.RUNNING)
    assert "output" not in api.call("GET", f"/v1/jobs/{running}").body
    # lists carry no output, not even the error
    items = api.call("GET", "/v2/jobs").body["items"]
    assert {i["status"] for i in items} == {"failed", "canceled", "running"}
    assert all("output" not in i for i in items)


# -- GET /v2/jobs ---------------------------------------------------------------------------------------


def test_v2_jobs_items_have_id_and_the_page_has_next_cursor(api: Api) -> None:
    ids = [submit(api) for _ in range(12)]
    r = api.call("GET", "/v2/jobs")
    assert r.status == 200
    assert len(r.body["items"]) == 10  # pyannoteAI's default page size
    first = r.body["items"][0]
    assert first["id"] == first["jobId"] == ids[-1]
    assert {"id", "status", "createdAt"} <= set(first) and first["status"] == "pending"
    assert r.body["nextCursor"] and r.body["cursor"] == r.body["nextCursor"]
    r = api.call("GET", f"/v2/jobs?cursor={r.body['nextCursor']}")
    assert [i["id"] for i in r.body["items"]] == ids[1::-1]
    assert r.body["nextCursor"] is None and "cursor" not in r.body  # present, null, on the last page


# -- error bodies -------------------------------------------------------------------------------------


def test_every_v1_error_has_a_message_and_400_names_the_first_field(api: Api) -> None:
    r = api.call("POST", "/v1/diarize", body={"numSpeakers": 0})
    assert r.status == 400 and r.fields() == ["url", "numSpeakers"]
    assert r.body["message"] == "invalid request: url: required"
    r = api.call("GET", "/v1/jobs/no-such-job")
    assert r.status == 404 and r.body["message"] == "job no-such-job not found"
    assert api.call("GET", "/v2/jobs", token=False).body["message"]
    assert api.call("GET", "/v1/nowhere").body["message"] == "no such route"
    # the Phonexia dialect keeps its own shape
    r = api.call("GET", "/api/technology/speaker-diarization/no-such-task")
    assert r.status == 404 and "message" not in r.body and r.body["title"] == "Not Found"


def test_429_has_request_id_message_retry_after_and_reset(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    from functions.api import deps

    def throttled(*args: object, **kwargs: object) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")

    monkeypatch.setattr(deps.job_store(), "list_for_tenant", throttled)
    before = int(time.time())
    r = api.call("GET", "/v2/jobs")
    assert r.status == 429
    assert r.body["message"] == "too many requests; retry later"
    assert r.body["requestId"] == r.raw_event["requestContext"]["requestId"]  # API Gateway's
    assert r.headers["retry-after"] == "1"
    assert before + 1 <= int(r.headers["x-ratelimit-reset"]) <= int(time.time()) + 1
