"""The worker end to end on moto with the fake engine: statuses, progress, results, events."""

from __future__ import annotations

import json

import pytest

from diarist.adapters.aws import client
from diarist.adapters.dynamo_jobs import DynamoJobStore
from diarist.adapters.events import EventBridgeBus
from diarist.domain.jobs import JobParams, JobStatus
from diarist.domain.results import DiarizationResult
from diarist.settings import WorkerSettings, load
from diarist.testing.fake_engine import FAKE_MODEL, FakeJobDiarizer
from diarist.worker.main import EXIT_ERROR, EXIT_OK, WorkerIdentity, run_worker
from tests.logs import at_info, json_lines
from tests.pipeline.conftest import make_job, receive_as_lambda_event, wav_bytes

pytestmark = pytest.mark.integration


class ProgressSpyStore(DynamoJobStore):
    """The real store, remembering every progress write and status change the worker made."""

    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.progress: list[int] = []
        self.statuses: list[JobStatus] = []

    def update(self, job_id, *, only_if_status=None, **changes):
        job = super().update(job_id, only_if_status=only_if_status, **changes)
        if "progress" in changes:
            self.progress.append(job.progress)
        return job

    def transition(self, job_id, new, **changes):
        job = super().transition(job_id, new, **changes)
        self.statuses.append(job.status)
        return job

    def take(self, job_id, worker_id, **kwargs):
        job = super().take(job_id, worker_id, **kwargs)
        self.statuses.append(job.status)
        return job


@pytest.fixture
def spy(aws) -> ProgressSpyStore:
    return ProgressSpyStore(aws.table)


@pytest.fixture
def settings(aws, monkeypatch) -> WorkerSettings:
    monkeypatch.setenv("DIARIST_PROGRESS_INTERVAL_S", "60")
    monkeypatch.setenv("DIARIST_PROGRESS_MIN_STEP", "10")
    load.cache_clear()
    return load(WorkerSettings)


def _upload(aws, key: str, data: bytes) -> str:
    client("s3").put_object(Bucket=aws.media_bucket, Key=key, Body=data)
    return f"s3://{aws.media_bucket}/{key}"


def _finished_events(aws) -> list[dict]:
    """Completion events as delivered by the provisioned rule to the webhook queue."""
    return [
        json.loads(r["body"]) for r in receive_as_lambda_event(aws.webhook_queue_url, wait_s=1)["Records"]
    ]


def test_worker_runs_a_job_to_success_and_announces_it(aws, spy, settings) -> None:
    url = _upload(aws, "media/t1/meeting.wav", wav_bytes(7.0))
    submitted_warning = "model precision-2 is not available in this deployment: ..."
    spy.create(
        make_job(
            "w1",
            input_url=url,
            params=JobParams(num_speakers=3),
            requested_model="precision-2",
            warnings=[submitted_warning],
        )
    )
    spy.transition("w1", JobStatus.CREATED)
    code = run_worker(
        "w1",
        "t1",
        settings=settings,
        store=spy,
        events=EventBridgeBus(aws.event_bus),
        diarizer=FakeJobDiarizer(),
        worker=WorkerIdentity(worker_id="wk-1", launch_id="batch-job-1", log="worker/default/task-1"),
    )
    assert code == EXIT_OK
    job = spy.get("w1")
    assert spy.statuses == [JobStatus.CREATED, JobStatus.RUNNING, JobStatus.SUCCEEDED]
    # the job records the worker that ran it (GET /v1/jobs/{id} diagnostics)
    assert (job.worker_id, job.last_worker_id, job.launch_id, job.worker_log, job.worker_takes) == (
        "wk-1",
        "wk-1",
        "batch-job-1",
        "worker/default/task-1",
        1,
    )
    assert spy.progress and spy.progress == sorted(spy.progress) and 0 < spy.progress[0] < 100
    assert job.status is JobStatus.SUCCEEDED and job.progress == 100
    assert job.result_location == f"s3://{aws.results_bucket}/results/t1/w1/result.json"
    # the submission's warning stays, and the job records what ran beside what was asked for
    assert job.warnings[0] == submitted_warning
    assert job.requested_model == "precision-2" and job.result_model == FAKE_MODEL
    s3 = client("s3")
    body = s3.get_object(Bucket=aws.results_bucket, Key="results/t1/w1/result.json")["Body"].read()
    result = DiarizationResult.model_validate_json(body)
    assert result.duration == 7.0 and result.channels[0].speakers == [
        "SPEAKER_00",
        "SPEAKER_01",
        "SPEAKER_02",
    ]
    assert "exclusiveDiarization" in json.loads(body)["channels"][0]  # stored by alias
    rttm = s3.get_object(Bucket=aws.results_bucket, Key="results/t1/w1/result.rttm")["Body"].read().decode()
    assert rttm.startswith("SPEAKER meeting 1 0.000 2.000 <NA> <NA> SPEAKER_00")
    events = _finished_events(aws)
    assert len(events) == 1 and events[0]["detail-type"] == "Diarization Job Succeeded"
    assert (
        events[0]["detail"]["jobId"] == "w1" and events[0]["detail"]["outputLocation"] == job.result_location
    )


def test_s3_triggered_job_writes_beside_its_result_prefix(aws, store, bus, settings) -> None:
    url = _upload(aws, "incoming/acme/calls/c1.wav", wav_bytes(3.0))
    prefix = f"s3://{aws.results_bucket}/results/acme/calls/c1.wav"
    store.create(make_job("w2", tenant="acme", input_url=url, source="s3", result_prefix=prefix))
    assert (
        run_worker("w2", "acme", settings=settings, store=store, events=bus, diarizer=FakeJobDiarizer())
        == EXIT_OK
    )
    assert store.get("w2").result_location == prefix + ".json"
    keys = {o["Key"] for o in client("s3").list_objects_v2(Bucket=aws.results_bucket)["Contents"]}
    assert keys == {"results/acme/calls/c1.wav.json", "results/acme/calls/c1.wav.rttm"}


def test_canceled_before_start_and_wrong_tenant_do_nothing(aws, store, bus, settings) -> None:
    store.create(make_job("w3"))
    store.transition("w3", JobStatus.CANCELED)
    fake = FakeJobDiarizer()
    assert run_worker("w3", "t1", settings=settings, store=store, events=bus, diarizer=fake) == EXIT_OK
    store.create(make_job("w4", tenant="t2"))
    assert run_worker("w4", "t1", settings=settings, store=store, events=bus, diarizer=fake) == EXIT_OK
    assert fake.calls == 0 and bus.published == []
    assert store.get("w3").status is JobStatus.CANCELED and store.get("w4").status is JobStatus.PENDING


def test_cancel_mid_run_stops_the_worker_without_result(aws, store, bus, settings) -> None:
    url = _upload(aws, "media/t1/long.wav", wav_bytes(4.0))
    store.create(make_job("w5", input_url=url))

    class CancelMidway(FakeJobDiarizer):
        def diarize(self, path, params, progress):
            progress(20)
            store.transition("w5", JobStatus.CANCELED)  # the user cancels (API)
            progress(40)  # refused write -> the worker stops here
            raise AssertionError("the worker should have stopped")

    assert (
        run_worker("w5", "t1", settings=settings, store=store, events=bus, diarizer=CancelMidway()) == EXIT_OK
    )
    job = store.get("w5")
    assert job.status is JobStatus.CANCELED and job.result_location is None and job.progress == 20
    assert bus.published == []
    assert "Contents" not in client("s3").list_objects_v2(Bucket=aws.results_bucket)


@pytest.mark.parametrize(
    ("behaviour", "source", "exit_code", "code"),
    [
        ("input_error", "upload", EXIT_OK, "input_corrupt"),
        ("ok", "missing", EXIT_OK, "input_unreachable"),  # the object is not there
        ("ok", "https://169.254.169.254/latest/meta-data/iam", EXIT_OK, "input_forbidden"),  # SSRF guard
        ("error", "upload", EXIT_ERROR, "internal_error"),
    ],
)
def test_failures_end_the_job_failed_with_a_code(
    aws, store, bus, settings, behaviour, source, exit_code, code
) -> None:
    key = "media/t1/in.wav"
    url = {
        "upload": lambda: _upload(aws, key, wav_bytes(1.0)),
        "missing": lambda: f"s3://{aws.media_bucket}/{key}",
    }.get(source, lambda: source)()
    store.create(make_job("w6", input_url=url))
    fake = FakeJobDiarizer(behaviour=behaviour)
    assert run_worker("w6", "t1", settings=settings, store=store, events=bus, diarizer=fake) == exit_code
    job = store.get("w6")
    assert job.status is JobStatus.FAILED and job.error.code == code and job.error.message
    assert [(d.status, d.error.code) for d in bus.published] == [(JobStatus.FAILED, code)]


def test_unexpected_error_reaches_the_tenant_as_a_generic_message(aws, store, bus, settings, capfd) -> None:
    """An exception's text may name paths, hosts or buckets: the job says only that it failed
    internally; the exception is in the logs, with the job's keys."""
    from diarist.worker.main import INTERNAL_ERROR_MESSAGE

    class Leaky(FakeJobDiarizer):
        def diarize(self, path, params, progress):
            raise RuntimeError("cannot open /opt/secret/model.bin on db.internal:5432")

    url = _upload(aws, "media/t1/leak.wav", wav_bytes(0.5))
    store.create(make_job("w-leak", input_url=url))
    capfd.readouterr()
    with at_info():
        rc = run_worker("w-leak", "t1", settings=settings, store=store, events=bus, diarizer=Leaky())
    err = capfd.readouterr().err
    assert rc == EXIT_ERROR
    job = store.get("w-leak")
    assert job.error.code == "internal_error" and job.error.message == INTERNAL_ERROR_MESSAGE
    assert "secret" not in job.error.message and "RuntimeError" not in job.error.message
    (event,) = bus.published
    assert event.error.message == INTERNAL_ERROR_MESSAGE  # the webhook says no more
    (line,) = [x for x in json_lines(err) if x.get("message") == "worker error"]
    assert line["job_id"] == "w-leak" and "/opt/secret/model.bin" in str(line), line


def test_ssrf_opener_streams_and_maps_errors(tmp_path) -> None:
    """The https opener the worker installs in the engine's fetcher (exercised over local http)."""
    import http.server
    import threading

    from diarist.domain.errors import AudioInputError
    from diarist.settings import NetworkPolicySettings
    from diarist.worker.inputs import ssrf_safe_opener

    payload = wav_bytes(0.5)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            status = {"/a.wav": 200, "/secret.wav": 403}.get(self.path, 404)
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload) if status == 200 else 0))
            self.end_headers()
            if status == 200:
                self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        local = ssrf_safe_opener(NetworkPolicySettings(allow_http=True, allow_private_networks=True))
        resp = local(f"{base}/a.wav", 5.0)
        assert int(resp.headers["content-length"]) == len(payload)
        assert b"".join(resp.stream(1024)) == payload
        resp.close()
        for path, code in (("/secret.wav", "input_forbidden"), ("/missing.wav", "input_unreachable")):
            with pytest.raises(AudioInputError) as e:
                local(f"{base}{path}", 5.0)
            assert e.value.code == code
        production = ssrf_safe_opener(NetworkPolicySettings())
        with pytest.raises(AudioInputError) as e:
            production(f"{base}/a.wav", 5.0)  # plain http to loopback: refused before connecting
        assert e.value.code == "input_forbidden"
    finally:
        server.shutdown()


class CancelOnResultWrite:
    """An object store that lets the job be canceled (as by the API) while its result is written."""

    def __init__(self, inner, store, job_id: str) -> None:
        self.inner, self.store, self.job_id = inner, store, job_id

    def put_bytes(self, bucket, key, data, content_type) -> None:
        self.inner.put_bytes(bucket, key, data, content_type)
        if self.store.get(self.job_id).status is JobStatus.RUNNING:
            self.store.transition(self.job_id, JobStatus.CANCELED)


def test_every_line_of_a_run_carries_its_job_keys(aws, store, bus, settings, capfd) -> None:
    """A run's lines, from the worker and the services it calls, name its job and tenant (JSON on stderr)."""
    from diarist.adapters.s3_store import S3ObjectStore

    url = _upload(aws, "media/acme/a.wav", wav_bytes(2.0))
    store.create(make_job("logged-ok", tenant="acme", input_url=url))
    store.create(make_job("logged-late", tenant="acme", input_url=url))
    capfd.readouterr()
    with at_info():
        ok = run_worker(
            "logged-ok", "acme", settings=settings, store=store, events=bus, diarizer=FakeJobDiarizer()
        )
        ok_lines = json_lines(capfd.readouterr().err)
        late = run_worker(
            "logged-late",
            "acme",
            settings=settings,
            store=store,
            events=bus,
            objects=CancelOnResultWrite(S3ObjectStore(), store, "logged-late"),
            diarizer=FakeJobDiarizer(),
        )
        late_lines = json_lines(capfd.readouterr().err)
    assert ok == late == EXIT_OK and store.get("logged-late").status is JobStatus.CANCELED
    for job_id, lines in (("logged-ok", ok_lines), ("logged-late", late_lines)):
        assert lines
        for line in lines:
            assert (line.get("job_id"), line.get("tenant_id")) == (job_id, "acme"), line
    assert [line["message"] for line in ok_lines if line["logger"] == "diarist.worker"] == [
        "job taken",
        "job succeeded",
    ]
    by_logger = {line["logger"]: line["message"] for line in late_lines}
    assert by_logger["diarist.services.lifecycle"] == "finish_job refused"  # a service module's line
    assert by_logger["diarist.worker"].startswith("job ended while its result was being written")
