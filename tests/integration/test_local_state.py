"""``diarist local --data-dir``: jobs, keys and objects survive a restart; jobs that were waiting go
on, running ones end failed; no object key can write outside the data dir or stop the save."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from diarist.adapters.aws import client
from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
from diarist.adapters.dynamo_jobs import DynamoJobStore
from diarist.adapters.s3_store import S3ObjectStore
from diarist.adapters.sqs_work_queue import SqsWorkQueue
from diarist.domain.jobs import Job, JobStatus, utcnow
from diarist.local import state
from diarist.local.provision import LocalResources, provision
from diarist.services.fleet import FleetScaler
from diarist.testing.fake_launcher import FakeLauncher
from tests.pipeline.conftest import RecordingEventBus

pytestmark = pytest.mark.integration


def _restart(moto_endpoint: str, aws: LocalResources, data_dir: Path) -> tuple[LocalResources, int]:
    """Save, wipe the emulator (local mode stopping), provision and load again (starting)."""
    state.save(aws, data_dir)
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    fresh = provision()
    assert DynamoJobStore(fresh.table).list_for_tenant("t", limit=5, cursor=None, status=None)[0] == []
    return fresh, state.load(fresh, data_dir)


def _scaler(resources: LocalResources, launcher: FakeLauncher) -> FleetScaler:
    return FleetScaler(DynamoWorkerFleet(resources.table), launcher)


def _work_queued(resources: LocalResources) -> list[str]:
    resp = client("sqs").receive_message(QueueUrl=resources.work_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"])["jobId"] for m in resp.get("Messages", [])]


def _queued(resources: LocalResources) -> list[dict[str, Any]]:
    resp = client("sqs").receive_message(QueueUrl=resources.job_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in resp.get("Messages", [])]


def test_save_then_load_and_settle_the_jobs_in_progress(aws, moto_endpoint: str, tmp_path: Path) -> None:
    store = DynamoJobStore(aws.table)
    store.create(Job(job_id="done", tenant_id="t", input_url="s3://b/k"))
    store.transition("done", JobStatus.RUNNING)
    store.transition("done", JobStatus.SUCCEEDED, result_location="s3://r/x.json")
    store.create(Job(job_id="busy", tenant_id="t", input_url="s3://b/k"))
    store.transition("busy", JobStatus.RUNNING)
    # waiting for a worker: never launched, with the claim of a dispatcher stopped mid-launch
    store.create(Job(job_id="waiting", tenant_id="t", input_url="s3://b/k"))
    store.update("waiting", launch_claim="token-of-the-stopped-dispatcher", launch_claimed_at=utcnow())
    # on the work queue, not taken by a worker yet (the queue is not saved)
    store.create(Job(job_id="handed", tenant_id="t", input_url="s3://b/k"))
    store.transition("handed", JobStatus.CREATED)
    S3ObjectStore().put_bytes(aws.media_bucket, "media/t/a.wav", b"RIFF....", "audio/wav")
    # a worker of this run: gone after the stop, it must not count in the next run's fleet
    DynamoWorkerFleet(aws.table).report("worker-of-the-last-run", utcnow() + timedelta(hours=1))

    fresh, restored = _restart(moto_endpoint, aws, tmp_path)
    assert restored == 4
    assert DynamoWorkerFleet(fresh.table).read().workers == {}
    launcher, bus = FakeLauncher(), RecordingEventBus()
    resumed = state.resume_interrupted(fresh, scaler=_scaler(fresh, launcher), events=bus)
    assert (resumed.requeued, resumed.relaunched, resumed.failed) == (["waiting"], ["handed"], ["busy"])

    jobs = DynamoJobStore(fresh.table)
    assert jobs.get("done").status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
    # running: failed, with its completion event (so its webhook fires)
    busy = jobs.get("busy")
    assert busy is not None and busy.status is JobStatus.FAILED and busy.error is not None
    assert busy.error.code == "worker_crashed" and "local mode stopped" in busy.error.message
    assert [(d.job_id, d.status) for d in bus.published] == [("busy", JobStatus.FAILED)]
    # pending: queued again for the dispatcher, the dead claim dropped (or it would wait 5 minutes)
    waiting = jobs.get("waiting")
    assert waiting is not None and waiting.status is JobStatus.PENDING and waiting.launch_claim is None
    assert _queued(fresh) == [{"version": 1, "jobId": "waiting", "tenantId": "t"}]
    # created: on the work queue again, and a worker launched for it
    handed = jobs.get("handed")
    assert _work_queued(fresh) == ["handed"] and len(launcher.launched) == 1
    assert handed is not None and handed.status is JobStatus.CREATED
    assert S3ObjectStore().get_bytes(fresh.media_bucket, "media/t/a.wav") == b"RIFF...."
    # settling twice fails nothing twice
    again = state.resume_interrupted(fresh, scaler=_scaler(fresh, FakeLauncher()), events=bus)
    assert again.failed == [] and len(bus.published) == 1


def test_a_restored_waiting_job_runs_through_the_real_dispatcher(
    aws, moto_endpoint: str, tmp_path: Path
) -> None:
    from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
    from diarist.domain.messages import DispatchMessage
    from diarist.services.dispatch import Dispatcher

    store = DynamoJobStore(aws.table)
    store.create(Job(job_id="waiting", tenant_id="t", input_url="s3://b/k"))
    store.update("waiting", launch_claim="dead", launch_claimed_at=utcnow())
    fresh, _ = _restart(moto_endpoint, aws, tmp_path)
    state.resume_interrupted(fresh, scaler=_scaler(fresh, FakeLauncher()), events=RecordingEventBus())
    (message,) = _queued(fresh)
    launcher = FakeLauncher()
    dispatcher = Dispatcher(
        store=DynamoJobStore(fresh.table),
        claims=DynamoLaunchClaims(fresh.table),
        work=SqsWorkQueue(fresh.work_queue_url),
        scaler=_scaler(fresh, launcher),
    )
    assert dispatcher.dispatch(DispatchMessage.model_validate(message)).action == "queued"
    assert len(launcher.launched) == 1
    assert DynamoJobStore(fresh.table).get("waiting").status is JobStatus.CREATED  # type: ignore[union-attr]


def test_hostile_object_keys_stay_inside_the_data_dir(aws, moto_endpoint: str, tmp_path: Path) -> None:
    data_dir, outside = tmp_path / "data", tmp_path / "outside"
    keys = {
        str(outside / "evil.wav"): b"absolute path",  # an absolute path as the key
        "media/t/../../../../outside/up.wav": b"dot-dot",
        "../../outside/up2.wav": b"leading dot-dot",
        "media/t/" + "x" * 300 + "/long.wav": b"a name over the file system's 255 bytes",
        "media/t/a": b"a file ...",
        "media/t/a/b": b"... and a folder of the same name",
        "media/t/./c.wav": b"dot",
        "media/t/ok.wav": b"plain",
    }
    s3 = client("s3")
    for key, body in keys.items():
        s3.put_object(
            Bucket=aws.media_bucket, Key=key, Body=body, ContentType="audio/wav", Metadata={"n": "1"}
        )
    report = state.save(aws, data_dir)
    assert report.failed == [] and report.objects == len(keys)
    assert not outside.exists()  # nothing was written outside the data dir
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    for path in data_dir.rglob("*"):
        assert path.resolve().is_relative_to(data_dir.resolve()) and len(path.name) <= 255

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    fresh = provision()
    state.load(fresh, data_dir)
    for key, body in keys.items():
        obj = s3.get_object(Bucket=fresh.media_bucket, Key=key)
        assert obj["Body"].read() == body, key
        assert obj["ContentType"] == "audio/wav" and obj["Metadata"] == {"n": "1"}  # kept too
    assert not outside.exists()


def test_one_object_that_cannot_be_saved_loses_no_other(
    aws, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = client("s3")
    for key in ("media/t/1.wav", "media/t/broken.wav", "media/t/3.wav"):
        s3.put_object(Bucket=aws.media_bucket, Key=key, Body=key.encode())
    real_client = state.client

    class Flaky:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def get_object(self, **kw: Any) -> Any:
            if kw["Key"].endswith("broken.wav"):
                raise OSError("disk on fire")
            return self._inner.get_object(**kw)

    monkeypatch.setattr(
        state, "client", lambda name: Flaky(real_client(name)) if name == "s3" else real_client(name)
    )
    report = state.save(aws, tmp_path)
    monkeypatch.undo()
    assert report.objects == 2
    assert report.failed == [(f"s3://{aws.media_bucket}/media/t/broken.wav", "OSError: disk on fire")]
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    fresh = provision()
    state.load(fresh, tmp_path)
    assert S3ObjectStore().get_bytes(fresh.media_bucket, "media/t/1.wav") == b"media/t/1.wav"
    assert S3ObjectStore().get_bytes(fresh.media_bucket, "media/t/3.wav") == b"media/t/3.wav"


def test_a_data_dir_of_the_earlier_layout_loads_without_leaving_it(aws, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    root = data_dir / "s3" / aws.media_bucket
    (root / "media" / "t").mkdir(parents=True)
    (root / "media" / "t" / "old.wav").write_bytes(b"old layout")
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    (root / "media" / "t" / "link.wav").symlink_to(secret)  # a link out of the data dir: skipped
    (data_dir / "table.jsonl").write_text(json.dumps({"pk": {"S": "JOB#x"}, "job_id": {"S": "x"}}) + "\n")
    assert state.load(aws, data_dir) == 1
    assert S3ObjectStore().get_bytes(aws.media_bucket, "media/t/old.wav") == b"old layout"
    assert not S3ObjectStore().exists(aws.media_bucket, "media/t/link.wav")


def test_jobs_saved_before_the_sweeper_index_are_found_by_the_sweeper(aws, tmp_path: Path) -> None:
    """A table saved by a release without the ``by_state`` index: its waiting jobs get their keys
    there on load, so the sweeper sees them (a terminal job, its event long sent, stays out)."""
    from datetime import timedelta

    from diarist.adapters.dynamo_items import to_attributes
    from diarist.adapters.dynamo_sweep import DynamoSweepIndex

    old = {"pk": "JOB#old-pending", "job_id": "old-pending", "tenant_id": "t", "input_url": "s3://b/k"}
    old_done = {**old, "pk": "JOB#old-done", "job_id": "old-done", "status": "succeeded"}
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "table.jsonl").write_text(
        "".join(json.dumps(to_attributes(item)) + "\n" for item in (old, old_done))
    )
    assert state.load(aws, data_dir) == 2
    index = DynamoSweepIndex(aws.table)
    later = utcnow() + timedelta(hours=1)
    assert [e.job.job_id for e in index.in_status_since_before(JobStatus.PENDING, later, limit=10)] == [
        "old-pending"
    ]
    assert index.owed_since_before(later, limit=10) == []
