"""Keep local mode's state between runs (``diarist local --data-dir DIR``).

moto keeps everything in memory, so on stop we write the table's items and the buckets' objects
into DIR, and on start we load them back. Queues and worker processes are not kept, so the jobs
that were in progress are settled on the next start (``resume_interrupted``):

- ``pending`` (accepted, no worker yet): queued again (a launch claim left by the stopped
  dispatcher is dropped), so it runs as if local mode had never stopped;
- ``created`` (on the work queue, not taken by a worker yet): put on the work queue again (the
  queue is not kept) and capacity decided for it, so a worker takes it;
- ``running``: failed (``worker_crashed``, "local mode stopped while this job was running; submit
  it again") with its completion event, so its webhook fires. A running job cannot go back to
  waiting (the job's transition table), and its worker's partial work is gone.

The drain-worker fleet item is not restored (its workers did not survive the stop).

Layout of DIR: ``table.jsonl`` (one item per line), and per bucket ``s3/<bucket>/index.jsonl``
(one line per object: its key, content type and user metadata, and the file holding its bytes)
with the bytes in ``s3/<bucket>/objects/<sha256 of the key>``. Object keys never become paths,
so a key with ``..``, an absolute path or a name too long for the file system cannot write
outside DIR nor stop the save. The save is per object: an object that cannot be saved is
reported (logged, and in the returned ``SaveReport``) and the others are saved; the new state
replaces the old one only once it is complete. ``load`` also reads the layout of earlier
releases (files at ``s3/<bucket>/<key>``), never following a path outside DIR.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diarist import resources as names
from diarist.adapters.aws import client
from diarist.adapters.dynamo_items import attribute
from diarist.adapters.dynamo_jobs import item_to_job, state_index_key
from diarist.local.provision import LocalResources
from diarist.ports import EventBus, JobQueue, JobStore, WorkQueue
from diarist.services.fleet import FleetScaler

log = logging.getLogger(__name__)

TABLE_FILE = "table.jsonl"
S3_DIR = "s3"
INDEX_FILE = "index.jsonl"
OBJECTS_DIR = "objects"
_OBJECT_FILE = re.compile(r"^[0-9a-f]{64}$")
RUNNING_STOPPED = "local mode stopped while this job was running; submit it again"


@dataclass
class SaveReport:
    items: int = 0
    objects: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (s3://bucket/key or item, why)


@dataclass
class Resumed:
    requeued: list[str] = field(default_factory=list)  # pending: queued again
    relaunched: list[str] = field(default_factory=list)  # created: on the work queue again
    failed: list[str] = field(default_factory=list)  # running: failed with their event


def object_file(key: str) -> str:
    """The file name holding an object's bytes: the SHA-256 of its key (never the key itself)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _inside(root: Path, path: Path) -> bool:
    """``path`` resolves (symbolic links followed) to somewhere under ``root``."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


# --- save ------------------------------------------------------------------------------------------
def save(resources: LocalResources, data_dir: Path) -> SaveReport:
    """Write the table and the buckets into ``data_dir`` (see the module doc). Never raises for one
    object: failures are in the report; the previous state is replaced only when this one is written."""
    data_dir.mkdir(parents=True, exist_ok=True)
    report = SaveReport()
    staging = data_dir / f".saving-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        ddb = client("dynamodb")
        with (staging / TABLE_FILE).open("w") as f:
            for page in ddb.get_paginator("scan").paginate(TableName=resources.table):
                for item in page.get("Items", []):
                    f.write(json.dumps(item) + "\n")
                    report.items += 1
        for bucket in (resources.media_bucket, resources.results_bucket):
            _save_bucket(bucket, staging / S3_DIR / bucket, report)
        _replace(data_dir, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for where, why in report.failed:
        log.warning("not saved: %s (%s)", where, why)
    log.info(
        "saved %d items and %d objects to %s (%d not saved)",
        report.items,
        report.objects,
        data_dir,
        len(report.failed),
    )
    return report


def _save_bucket(bucket: str, root: Path, report: SaveReport) -> None:
    s3 = client("s3")
    objects = root / OBJECTS_DIR
    objects.mkdir(parents=True)
    with (root / INDEX_FILE).open("w") as index:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                dest = objects / object_file(key)
                try:
                    resp = s3.get_object(Bucket=bucket, Key=key)
                    with dest.open("wb") as out:
                        for chunk in resp["Body"].iter_chunks(1 << 20):
                            out.write(chunk)
                    entry = {
                        "key": key,
                        "file": dest.name,
                        "content_type": resp.get("ContentType"),
                        "metadata": resp.get("Metadata") or {},
                    }
                    index.write(json.dumps(entry) + "\n")
                    report.objects += 1
                except Exception as e:  # one object must not stop the others
                    dest.unlink(missing_ok=True)
                    report.failed.append((f"s3://{bucket}/{key}", f"{type(e).__name__}: {e}"))


def _replace(data_dir: Path, staging: Path) -> None:
    """Swap the staged state in: the old ``s3/`` and ``table.jsonl`` go only once the new are there."""
    old = data_dir / f".replaced-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    if (data_dir / S3_DIR).exists():
        os.replace(data_dir / S3_DIR, old)
    os.replace(staging / S3_DIR, data_dir / S3_DIR)
    os.replace(staging / TABLE_FILE, data_dir / TABLE_FILE)
    shutil.rmtree(old, ignore_errors=True)


# --- load ------------------------------------------------------------------------------------------
def _with_state_index(item: dict[str, Any]) -> dict[str, Any]:
    """A job saved by a release without the sweeper's ``by_state`` index gets its keys there, so
    the sweeper sees it too (a job saved with them keeps its own)."""
    pk = item.get(names.TABLE_PK, {}).get("S", "")
    if not pk.startswith(names.JOB_KEY_PREFIX) or names.TABLE_GSI2_PK in item:
        return item
    try:
        job = item_to_job(item)
    except Exception:
        return item
    keys = state_index_key(job, job.updated_at)
    if keys:
        item[names.TABLE_GSI2_PK], item[names.TABLE_GSI2_SK] = attribute(keys[0]), attribute(keys[1])
    return item


def load(resources: LocalResources, data_dir: Path) -> int:
    """Restore what ``save`` wrote. Returns the number of table items restored."""
    table_file = data_dir / TABLE_FILE
    if not table_file.exists():
        return 0
    ddb = client("dynamodb")
    n = 0
    for line in table_file.read_text().splitlines():
        if line.strip():
            try:
                item = json.loads(line)
                if item.get(names.TABLE_PK, {}).get("S", "").startswith(names.FLEET_KEY_PREFIX):
                    continue  # the workers of the last run are gone: a fresh fleet
                ddb.put_item(TableName=resources.table, Item=_with_state_index(item))
                n += 1
            except Exception as e:
                log.warning("table item not restored (%s: %s)", type(e).__name__, e)
    for bucket in (resources.media_bucket, resources.results_bucket):
        root = data_dir / S3_DIR / bucket
        if (root / INDEX_FILE).is_file():
            _load_bucket(bucket, root)
        elif root.is_dir():
            _load_legacy_bucket(bucket, root)
    return n


def _load_bucket(bucket: str, root: Path) -> None:
    s3 = client("s3")
    for line in (root / INDEX_FILE).read_text().splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key, name = str(entry["key"]), str(entry["file"])
            path = root / OBJECTS_DIR / name
            if not _OBJECT_FILE.match(name) or not _inside(root, path) or not path.is_file():
                raise ValueError(f"no saved file {name!r}")
            extra: dict[str, Any] = {
                "Metadata": {str(k): str(v) for k, v in (entry.get("metadata") or {}).items()}
            }
            if entry.get("content_type"):
                extra["ContentType"] = str(entry["content_type"])
            with path.open("rb") as f:
                s3.put_object(Bucket=bucket, Key=key, Body=f, **extra)
        except Exception as e:
            log.warning("object not restored to %s (%s: %s): %s", bucket, type(e).__name__, e, line[:200])


def _load_legacy_bucket(bucket: str, root: Path) -> None:
    """Files at ``s3/<bucket>/<key>`` (before the index): only regular files inside ``root``."""
    s3 = client("s3")
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file() or not _inside(root, path):
            continue
        try:
            s3.upload_file(str(path), bucket, path.relative_to(root).as_posix())
        except Exception as e:
            log.warning("object not restored to %s (%s: %s): %s", bucket, type(e).__name__, e, path)


# --- jobs in progress at stop ----------------------------------------------------------------------
def resume_interrupted(
    resources: LocalResources,
    *,
    scaler: FleetScaler,
    store: JobStore | None = None,
    events: EventBus | None = None,
    queue: JobQueue | None = None,
    work: WorkQueue | None = None,
) -> Resumed:
    """Settle the restored jobs that were in progress when local mode stopped (module doc):
    ``pending`` queued again, ``created`` on the work queue again, ``running`` failed."""
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.events import EventBridgeBus
    from diarist.adapters.sqs_queue import SqsJobQueue
    from diarist.domain.errors import ErrorCode, InvalidTransition, JobNotFound
    from diarist.domain.jobs import JobError, JobStatus
    from diarist.domain.messages import DispatchMessage, WorkMessage
    from diarist.resources import JOB_KEY_PREFIX, TABLE_PK
    from diarist.services.lifecycle import finish_job
    from diarist.wiring import build_work_queue

    store = store or DynamoJobStore(resources.table)
    events = events or EventBridgeBus(resources.event_bus)
    queue = queue or SqsJobQueue(resources.job_queue_url)
    work = work or build_work_queue(resources.work_queue_url, resources.short_work_queue_url, 0)
    done = Resumed()
    for page in client("dynamodb").get_paginator("scan").paginate(TableName=resources.table):
        for item in page.get("Items", []):
            if not item.get(TABLE_PK, {}).get("S", "").startswith(JOB_KEY_PREFIX):
                continue
            job = store.get(item["job_id"]["S"])
            if job is None or job.status.is_terminal:
                continue
            try:
                if job.status is JobStatus.PENDING:
                    if job.launch_claim is not None:  # the stopped dispatcher's: it will never finish
                        store.update(
                            job.job_id,
                            only_if_status=[JobStatus.PENDING],
                            launch_claim=None,
                            launch_claimed_at=None,
                        )
                    queue.send(DispatchMessage(job_id=job.job_id, tenant_id=job.tenant_id))
                    done.requeued.append(job.job_id)
                elif job.status is JobStatus.CREATED:
                    work.send(WorkMessage.of(job))
                    done.relaunched.append(job.job_id)
                else:
                    error = JobError(code=ErrorCode.WORKER_CRASHED, message=RUNNING_STOPPED)
                    if finish_job(store, events, job.job_id, JobStatus.FAILED, error=error) is not None:
                        done.failed.append(job.job_id)
            except (InvalidTransition, JobNotFound):
                continue  # changed meanwhile: whoever changed it settled it
    if done.relaunched:
        scaler.ensure_capacity(min_active=len(done.relaunched))
    return done
