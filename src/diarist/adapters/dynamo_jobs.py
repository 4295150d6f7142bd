"""DynamoDB job store (``ports.JobStore``): the job state machine enforced with conditional writes.

The job item is ``pk = JOB#<id>`` with a GSI ``by_tenant`` (``gsi1pk = TENANT#<tenant>``,
``gsi1sk = <created_at>#<id>``) for newest-first listing; a listing cursor is that index's key,
base64url-encoded, and is checked in full before use: exactly the three key attributes, strings of
the shapes this store writes, in the caller's own ``TENANT#`` partition (anything else, another
tenant's cursor included, is a 400 naming ``cursor``, never a DynamoDB error). Large things (results) live in S3; the item holds only small fields, stored
as the ``Job`` model's JSON (floats as numbers).

The sparse ``by_state`` index (``gsi2pk``/``gsi2sk``, ``diarist.resources``) is kept by the same
writes: ``create`` and every ``transition`` to a non-terminal status put the job in
``STATUS#<status>`` since now; a terminal ``transition`` sets ``event_owed_at`` and moves the job to
``OUTBOX`` in the same conditional ``UpdateItem`` (the outbox: "the job ended" and "its event is
owed" are one write); ``mark_event_sent`` takes it out of the index.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client
from diarist.adapters.dynamo_items import (
    attribute,
    condition_failed,
    conditional_update,
    from_attributes,
    job_key,
    sortable_time,
    stored_time,
    to_attributes,
)
from diarist.domain.errors import Conflict, InvalidTransition, JobNotFound, ValidationFailed
from diarist.domain.jobs import Job, JobStatus, sources_of, utcnow
from diarist.resources import (
    JOB_KEY_PREFIX,
    OUTBOX_PARTITION,
    STATUS_KEY_PREFIX,
    TABLE_GSI2_PK,
    TABLE_GSI2_SK,
    TABLE_GSI_PK,
    TABLE_GSI_SK,
    TABLE_GSI_TENANT,
    TABLE_PK,
    TENANT_KEY_PREFIX,
)

_KEY_FIELDS = {"job_id", "tenant_id", "created_at"}


def job_to_item(job: Job) -> dict[str, Any]:
    item = job.model_dump(mode="json", exclude_none=True)
    item[TABLE_PK] = JOB_KEY_PREFIX + job.job_id
    item[TABLE_GSI_PK] = TENANT_KEY_PREFIX + job.tenant_id
    item[TABLE_GSI_SK] = f"{item['created_at']}#{job.job_id}"
    state = state_index_key(job, job.created_at)
    if state:
        item[TABLE_GSI2_PK], item[TABLE_GSI2_SK] = state
    return item


def state_index_key(job: Job, since: datetime) -> tuple[str, str] | None:
    """Where ``job`` belongs in the ``by_state`` index: its status' partition while not terminal,
    ``OUTBOX`` while its completion event is owed, nowhere otherwise."""
    if not job.status.is_terminal:
        return STATUS_KEY_PREFIX + job.status.value, f"{sortable_time(since)}#{job.job_id}"
    if job.event_owed_at is not None:
        return OUTBOX_PARTITION, f"{sortable_time(job.event_owed_at)}#{job.job_id}"
    return None


def item_to_job(attributes: dict[str, Any]) -> Job:
    return Job.model_validate(from_attributes(attributes))


class DynamoJobStore:
    """Implements ``ports.JobStore`` on the low-level DynamoDB client (works the same on moto)."""

    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")

    # -- port ------------------------------------------------------------------------------------
    def create(self, job: Job) -> None:
        try:
            self._ddb.put_item(
                TableName=self.table_name,
                Item=to_attributes(job_to_item(job)),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": TABLE_PK},
            )
        except ClientError as e:
            if condition_failed(e):
                raise Conflict(f"job {job.job_id} already exists") from None
            raise

    def get(self, job_id: str) -> Job | None:
        resp = self._ddb.get_item(TableName=self.table_name, Key=job_key(job_id), ConsistentRead=True)
        item = resp.get("Item")
        return item_to_job(item) if item else None

    def _conditional_update(
        self,
        job_id: str,
        changes: dict[str, Any],
        allowed: Iterable[JobStatus] | None,
        *,
        index_keys: tuple[str, str] | None = None,
        unchanged_since: datetime | None = None,
        held_by: str | None = None,
        add_takes: bool = False,
    ) -> Job:
        changes = dict(changes)
        changes["updated_at"] = utcnow()
        if set(changes) & _KEY_FIELDS:
            raise ValueError(f"cannot change {sorted(set(changes) & _KEY_FIELDS)}")
        sets, removes = [], []
        names: dict[str, str] = {"#pk": TABLE_PK}
        values: dict[str, Any] = {}
        partial = Job.model_construct(**changes)  # for json-mode dumping of each field
        dumped = partial.model_dump(mode="json", include=set(changes))
        for i, (field, value) in enumerate(dumped.items()):
            names[f"#f{i}"] = field
            if value is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :v{i}")
                values[f":v{i}"] = attribute(value)
        if index_keys is not None:
            names["#g2p"], names["#g2s"] = TABLE_GSI2_PK, TABLE_GSI2_SK
            values[":g2p"], values[":g2s"] = {"S": index_keys[0]}, {"S": index_keys[1]}
            sets.append("#g2p = :g2p, #g2s = :g2s")
        if add_takes:
            names["#tk"] = "worker_takes"
            values[":zero"], values[":one"] = {"N": "0"}, {"N": "1"}
            sets.append("#tk = if_not_exists(#tk, :zero) + :one")
        expr = ""
        if sets:
            expr += "SET " + ", ".join(sets)
        if removes:
            expr += " REMOVE " + ", ".join(removes)
        condition = "attribute_exists(#pk)"
        if allowed is not None:
            allowed = list(allowed)
            names["#st"] = "status"
            placeholders = []
            for j, st in enumerate(allowed):
                values[f":s{j}"] = {"S": st.value}
                placeholders.append(f":s{j}")
            condition += (
                f" AND #st IN ({', '.join(placeholders)})"
                if placeholders
                else " AND attribute_not_exists(#pk)"
            )
        if unchanged_since is not None:  # nobody wrote the job since it was read (e.g. no heartbeat)
            names["#upd"] = "updated_at"
            values[":upd"] = {"S": stored_time(unchanged_since)}
            condition += " AND #upd = :upd"
        if held_by is not None:  # only the worker holding the job writes its progress
            names["#wid"] = "worker_id"
            values[":wid"] = {"S": held_by}
            condition += " AND #wid = :wid"
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": job_key(job_id),
            "UpdateExpression": expr.strip(),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            resp = self._ddb.update_item(**kwargs)
        except ClientError as e:
            if not condition_failed(e):
                raise
            old: dict[str, Any] | None = e.response.get("Item")  # type: ignore[assignment]
            if not old:
                current = self.get(job_id)
                if current is None:
                    raise JobNotFound(f"job {job_id} not found") from None
                old_status = current.status
            else:
                old_status = JobStatus(from_attributes(old)["status"])
            target = changes.get("status")
            what = f"to {target.value}" if isinstance(target, JobStatus) else "updated"
            raise InvalidTransition(f"job {job_id} is {old_status.value} and cannot be {what}") from None
        return item_to_job(resp["Attributes"])

    def transition(
        self,
        job_id: str,
        new: JobStatus,
        *,
        only_from: Iterable[JobStatus] | None = None,
        unchanged_since: datetime | None = None,
        **changes: Any,
    ) -> Job:
        now = utcnow()
        changes["status"] = new
        if new is JobStatus.RUNNING:
            changes.setdefault("started_at", now)
        if new.is_terminal:
            changes.setdefault("finished_at", now)
            changes["event_owed_at"] = now  # the outbox: the same write owes the completion event
            if new is JobStatus.SUCCEEDED:
                changes.setdefault("progress", 100)
            index_keys = (OUTBOX_PARTITION, f"{sortable_time(now)}#{job_id}")
        else:
            index_keys = (STATUS_KEY_PREFIX + new.value, f"{sortable_time(now)}#{job_id}")
        allowed = sources_of(new)
        if only_from is not None:
            allowed = allowed & frozenset(only_from)
        return self._conditional_update(
            job_id, changes, sorted(allowed), index_keys=index_keys, unchanged_since=unchanged_since
        )

    def mark_event_sent(self, job_id: str, owed_at: datetime) -> bool:
        """The completion event owed since ``owed_at`` went out: leave the outbox (conditional on
        that same debt, so a later one is never cleared by mistake). False when already cleared."""
        return conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=job_key(job_id),
            UpdateExpression="REMOVE #owed, #g2p, #g2s",
            ConditionExpression="#owed = :owed",
            ExpressionAttributeNames={
                "#owed": "event_owed_at",
                "#g2p": TABLE_GSI2_PK,
                "#g2s": TABLE_GSI2_SK,
            },
            ExpressionAttributeValues={":owed": {"S": stored_time(owed_at)}},
        )

    def update(
        self,
        job_id: str,
        *,
        only_if_status: Iterable[JobStatus] | None = None,
        only_if_held_by: str | None = None,
        **changes: Any,
    ) -> Job:
        if "status" in changes:
            raise ValueError("use transition() to change a job's status")
        return self._conditional_update(job_id, changes, only_if_status, held_by=only_if_held_by)

    def take(self, job_id: str, worker_id: str, *, stale_before: datetime, **changes: Any) -> Job:
        """``ports.JobStore.take``: ``pending|created -> running``; a ``running`` job only when no
        worker holds it or its holder is silent since ``stale_before``, and then only if nobody
        wrote it since this read (``updated_at`` unchanged)."""
        changes = {**changes, "worker_id": worker_id, "last_worker_id": worker_id}
        current = self.get(job_id)
        if current is None:
            raise JobNotFound(f"job {job_id} not found")
        if current.status is not JobStatus.RUNNING:
            return self._take_write(job_id, changes, None)
        if current.worker_id is not None and current.updated_at >= stale_before:
            raise InvalidTransition(f"job {job_id} is running on worker {current.worker_id}")
        # resumed: a given-back job, or one whose worker died; progress starts again
        return self._take_write(job_id, {**changes, "progress": 0}, current.updated_at)

    def _take_write(self, job_id: str, changes: dict[str, Any], unchanged_since: datetime | None) -> Job:
        now = utcnow()
        changes = {**changes, "status": JobStatus.RUNNING}
        changes.setdefault("started_at", now)
        allowed = sources_of(JobStatus.RUNNING) if unchanged_since is None else {JobStatus.RUNNING}
        return self._conditional_update(
            job_id,
            changes,
            sorted(allowed),
            index_keys=(STATUS_KEY_PREFIX + JobStatus.RUNNING.value, f"{sortable_time(now)}#{job_id}"),
            unchanged_since=unchanged_since,
            add_takes=True,
        )

    def list_for_tenant(
        self, tenant_id: str, *, limit: int, cursor: str | None, status: JobStatus | None
    ) -> tuple[list[Job], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": TABLE_GSI_TENANT,
            "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": TABLE_GSI_PK},
            "ExpressionAttributeValues": {":g": {"S": TENANT_KEY_PREFIX + tenant_id}},
            "ScanIndexForward": False,
        }
        if status is not None:
            kwargs["FilterExpression"] = "#st = :st"
            kwargs["ExpressionAttributeNames"]["#st"] = "status"
            kwargs["ExpressionAttributeValues"][":st"] = {"S": status.value}
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, tenant_id)
        jobs: list[Job] = []
        next_key: dict[str, Any] | None = None
        # A filter may leave pages short: keep reading until the page is full or the index ends.
        while True:
            kwargs["Limit"] = max(limit - len(jobs), 1) if status is None else max(limit * 2, 10)
            resp = self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                if len(jobs) == limit:
                    break
                jobs.append(item_to_job(item))
                next_key = {k: item[k] for k in (TABLE_PK, TABLE_GSI_PK, TABLE_GSI_SK) if k in item}
            last = resp.get("LastEvaluatedKey")
            if len(jobs) >= limit:
                # the next page may turn out empty when the index ends exactly here
                return jobs, encode_cursor(next_key)
            if not last:
                return jobs, None
            kwargs["ExclusiveStartKey"] = last

    def delete(self, job_id: str) -> None:
        self._ddb.delete_item(TableName=self.table_name, Key=job_key(job_id))


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    """The ``by_tenant`` index key of a page's last job, as an opaque URL-safe string."""
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


MAX_CURSOR_CHARS = 1024
_CURSOR_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CREATED_AT = re.compile(r"^[0-9][0-9T:.+Z-]{9,39}$")
_BAD_CURSOR = [{"field": "cursor", "message": "not a cursor this API returned for your jobs"}]


def decode_cursor(cursor: str, tenant_id: str) -> dict[str, Any]:
    """The index key ``encode_cursor`` wrote for a page of ``tenant_id``'s jobs; anything else
    (malformed, wrong types, extra attributes, deep nesting, another tenant's partition) is
    ``ValidationFailed`` naming ``cursor``."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS or not _CURSOR_CHARS.match(cursor):
        raise ValidationFailed(_BAD_CURSOR)
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise ValidationFailed(_BAD_CURSOR) from None
    if not isinstance(key, dict) or set(key) != {TABLE_PK, TABLE_GSI_PK, TABLE_GSI_SK}:
        raise ValidationFailed(_BAD_CURSOR)
    values = {}
    for name, value in key.items():
        if not (isinstance(value, dict) and list(value) == ["S"] and isinstance(value["S"], str)):
            raise ValidationFailed(_BAD_CURSOR)
        values[name] = value["S"]
    created_at, _, job_id = values[TABLE_GSI_SK].rpartition("#")
    if (
        values[TABLE_GSI_PK] != TENANT_KEY_PREFIX + tenant_id
        or not _CREATED_AT.match(created_at)
        or not _JOB_ID.match(job_id)
        or values[TABLE_PK] != JOB_KEY_PREFIX + job_id
    ):
        raise ValidationFailed(_BAD_CURSOR)
    return {name: {"S": text} for name, text in values.items()}
