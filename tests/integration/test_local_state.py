"""``diarist local --data-dir``: jobs, keys and objects survive a restart; interrupted jobs end failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from diarist.adapters.dynamo_jobs import DynamoJobStore
from diarist.adapters.s3_store import S3ObjectStore
from diarist.domain.jobs import Job, JobStatus
from diarist.local import state
from diarist.local.provision import provision

pytestmark = pytest.mark.integration


def test_save_then_load_into_a_fresh_emulator(aws, moto_endpoint: str, tmp_path: Path) -> None:
    import urllib.request

    store = DynamoJobStore(aws.table)
    store.create(Job(job_id="done", tenant_id="t", input_url="s3://b/k"))
    store.transition("done", JobStatus.RUNNING)
    store.transition("done", JobStatus.SUCCEEDED, result_location="s3://r/x.json")
    store.create(Job(job_id="busy", tenant_id="t", input_url="s3://b/k"))
    store.transition("busy", JobStatus.RUNNING)
    S3ObjectStore().put_bytes(aws.media_bucket, "media/t/a.wav", b"RIFF....", "audio/wav")

    state.save(aws, tmp_path)
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    fresh = provision()
    assert DynamoJobStore(fresh.table).get("done") is None

    assert state.load(fresh, tmp_path) == 2
    assert state.fail_interrupted(fresh) == ["busy"]
    restored = DynamoJobStore(fresh.table)
    assert restored.get("done").status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
    busy = restored.get("busy")
    assert busy is not None and busy.status is JobStatus.FAILED and "local mode stopped" in busy.error.message  # type: ignore[union-attr]
    assert S3ObjectStore().get_bytes(fresh.media_bucket, "media/t/a.wav") == b"RIFF...."
    assert state.fail_interrupted(fresh) == []  # idempotent
