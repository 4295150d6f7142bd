"""Keep local mode's state between runs (``diarist local --data-dir DIR``).

moto keeps everything in memory, so on stop we write the table's items and the buckets' objects
into DIR, and on start we load them back. Queues and worker processes are not kept: a job that was
still pending, created or running when local mode stopped is failed on the next start (with a
message saying so, and its completion event), so none stays in progress forever.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from diarist.adapters.aws import client
from diarist.local.provision import LocalResources

log = logging.getLogger(__name__)


def save(resources: LocalResources, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    ddb, s3 = client("dynamodb"), client("s3")
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(TableName=resources.table):
        items.extend(page.get("Items", []))
    (data_dir / "table.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    for bucket in (resources.media_bucket, resources.results_bucket):
        root = data_dir / "s3" / bucket
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                dest = root / obj["Key"]
                dest.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(dest))
    log.info("saved %d items and the buckets to %s", len(items), data_dir)


def load(resources: LocalResources, data_dir: Path) -> int:
    """Restore what ``save`` wrote. Returns the number of table items restored."""
    table_file = data_dir / "table.jsonl"
    if not table_file.exists():
        return 0
    ddb, s3 = client("dynamodb"), client("s3")
    n = 0
    for line in table_file.read_text().splitlines():
        if line.strip():
            ddb.put_item(TableName=resources.table, Item=json.loads(line))
            n += 1
    for bucket in (resources.media_bucket, resources.results_bucket):
        root = data_dir / "s3" / bucket
        if root.is_dir():
            for path in root.rglob("*"):
                if path.is_file():
                    s3.upload_file(str(path), bucket, path.relative_to(root).as_posix())
    return n


def fail_interrupted(resources: LocalResources) -> list[str]:
    """Fail the restored jobs that were in progress when local mode stopped. Returns their ids."""
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.events import EventBridgeBus
    from diarist.domain.errors import ErrorCode
    from diarist.domain.jobs import JobError, JobStatus
    from diarist.resources import JOB_KEY_PREFIX, TABLE_PK
    from diarist.services.lifecycle import finish_job

    store, bus = DynamoJobStore(resources.table), EventBridgeBus(resources.event_bus)
    failed = []
    for page in client("dynamodb").get_paginator("scan").paginate(TableName=resources.table):
        for item in page.get("Items", []):
            if not item.get(TABLE_PK, {}).get("S", "").startswith(JOB_KEY_PREFIX):
                continue
            if JobStatus(item["status"]["S"]).is_terminal:
                continue
            job_id = item["job_id"]["S"]
            error = JobError(
                code=ErrorCode.WORKER_CRASHED,
                message="local mode stopped while this job was in progress; submit it again",
            )
            if finish_job(store, bus, job_id, JobStatus.FAILED, error=error) is not None:
                failed.append(job_id)
    return failed
