"""DynamoDB job store: the job state machine enforced with conditional writes.

Single-table design (names in ``diarist.resources``): the job item is ``pk = JOB#<id>`` with a GSI
``by_tenant`` (``gsi1pk = TENANT#<tenant>``, ``gsi1sk = <created_at>#<id>``) for newest-first listing.
Large things (results) live in S3; the item holds only small fields.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from diarist import resources as R
from diarist.adapters.aws import client
from diarist.domain.errors import Conflict, InvalidTransition, JobNotFound
from diarist.domain.jobs import Job, JobStatus, sources_of, utcnow

_KEY_FIELDS = {"job_id", "tenant_id", "created_at"}


def _to_item_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_item_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_item_value(v) for v in value]
    return value


def _from_item_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_item_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_item_value(v) for v in value]
    return value


def job_to_item(job: Job) -> dict[str, Any]:
    data = job.model_dump(mode="json", exclude_none=True)
    item = {k: _to_item_value(v) for k, v in data.items()}
    item[R.TABLE_PK] = R.JOB_KEY_PREFIX + job.job_id
    item[R.TABLE_GSI_PK] = R.TENANT_KEY_PREFIX + job.tenant_id
    item[R.TABLE_GSI_SK] = f"{data['created_at']}#{job.job_id}"
    return item


def item_to_job(item: dict[str, Any]) -> Job:
    data = {k: _from_item_value(v) for k, v in item.items()}
    return Job.model_validate(data)


class DynamoJobStore:
    """Implements ``ports.JobStore`` on the low-level DynamoDB client (works the same on moto)."""

    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    # -- helpers -------------------------------------------------------------------------------
    def _key(self, job_id: str) -> dict[str, Any]:
        return {R.TABLE_PK: {"S": R.JOB_KEY_PREFIX + job_id}}

    def _dump(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(v) for k, v in item.items()}

    def _load(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: self._de.deserialize(v) for k, v in item.items()}

    # -- port ------------------------------------------------------------------------------------
    def create(self, job: Job) -> None:
        try:
            self._ddb.put_item(
                TableName=self.table_name,
                Item=self._dump(job_to_item(job)),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": R.TABLE_PK},
            )
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(f"job {job.job_id} already exists") from None
            raise

    def get(self, job_id: str) -> Job | None:
        resp = self._ddb.get_item(TableName=self.table_name, Key=self._key(job_id), ConsistentRead=True)
        item = resp.get("Item")
        return item_to_job(self._load(item)) if item else None

    def require(self, job_id: str, tenant_id: str | None = None) -> Job:
        job = self.get(job_id)
        if job is None or (tenant_id is not None and job.tenant_id != tenant_id):
            raise JobNotFound(f"job {job_id} not found")
        return job

    def _conditional_update(
        self, job_id: str, changes: dict[str, Any], allowed: Iterable[JobStatus] | None
    ) -> Job:
        changes = dict(changes)
        changes["updated_at"] = utcnow()
        if set(changes) & _KEY_FIELDS:
            raise ValueError(f"cannot change {sorted(set(changes) & _KEY_FIELDS)}")
        sets, removes = [], []
        names: dict[str, str] = {"#pk": R.TABLE_PK}
        values: dict[str, Any] = {}
        partial = Job.model_construct(**changes)  # for json-mode dumping of each field
        dumped = partial.model_dump(mode="json", include=set(changes))
        for i, (field, value) in enumerate(dumped.items()):
            names[f"#f{i}"] = field
            if value is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :v{i}")
                values[f":v{i}"] = self._ser.serialize(_to_item_value(value))
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
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self._key(job_id),
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
            if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] | None = e.response.get("Item")  # type: ignore[assignment]
            if not old:
                current = self.get(job_id)
                if current is None:
                    raise JobNotFound(f"job {job_id} not found") from None
                old_status = current.status
            else:
                old_status = JobStatus(self._load(old)["status"])
            target = changes.get("status")
            what = f"to {target.value}" if isinstance(target, JobStatus) else "updated"
            raise InvalidTransition(f"job {job_id} is {old_status.value} and cannot be {what}") from None
        return item_to_job(self._load(resp["Attributes"]))

    def transition(self, job_id: str, new: JobStatus, **changes: Any) -> Job:
        now = utcnow()
        changes["status"] = new
        if new is JobStatus.RUNNING:
            changes.setdefault("started_at", now)
        if new.is_terminal:
            changes.setdefault("finished_at", now)
            if new is JobStatus.SUCCEEDED:
                changes.setdefault("progress", 100)
        return self._conditional_update(job_id, changes, sources_of(new))

    def update(
        self, job_id: str, *, only_if_status: Iterable[JobStatus] | None = None, **changes: Any
    ) -> Job:
        if "status" in changes:
            raise ValueError("use transition() to change a job's status")
        return self._conditional_update(job_id, changes, only_if_status)

    def list_for_tenant(
        self, tenant_id: str, *, limit: int, cursor: str | None, status: JobStatus | None
    ) -> tuple[list[Job], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": R.TABLE_GSI_TENANT,
            "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": R.TABLE_GSI_PK},
            "ExpressionAttributeValues": {":g": {"S": R.TENANT_KEY_PREFIX + tenant_id}},
            "ScanIndexForward": False,
        }
        if status is not None:
            kwargs["FilterExpression"] = "#st = :st"
            kwargs["ExpressionAttributeNames"]["#st"] = "status"
            kwargs["ExpressionAttributeValues"][":st"] = {"S": status.value}
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor)
        jobs: list[Job] = []
        next_key: dict[str, Any] | None = None
        # A filter may leave pages short: keep reading until the page is full or the index ends.
        while True:
            kwargs["Limit"] = max(limit - len(jobs), 1) if status is None else max(limit * 2, 10)
            resp = self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                if len(jobs) == limit:
                    break
                jobs.append(item_to_job(self._load(item)))
                next_key = {k: item[k] for k in (R.TABLE_PK, R.TABLE_GSI_PK, R.TABLE_GSI_SK) if k in item}
            last = resp.get("LastEvaluatedKey")
            if len(jobs) >= limit:
                # the next page may turn out empty when the index ends exactly here
                return jobs, encode_cursor(next_key)
            if not last:
                return jobs, None
            kwargs["ExclusiveStartKey"] = last

    def delete(self, job_id: str) -> None:
        self._ddb.delete_item(TableName=self.table_name, Key=self._key(job_id))


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    from diarist.domain.errors import ValidationFailed

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(key, dict) or R.TABLE_GSI_PK not in key:
            raise ValueError
        return key
    except (ValueError, json.JSONDecodeError):
        raise ValidationFailed([{"field": "cursor", "message": "not a cursor this API returned"}]) from None


# -- API keys and idempotency records (same table; used by the API) ----------------------------------

APIKEYS_GSI_PK = "APIKEYS"  # every key item sits in this GSI partition: list all or per tenant


class DynamoApiKeyStore:
    """API keys, stored only as SHA-256 hashes: ``pk = KEY#<sha256hex>``.

    The GSI (``gsi1pk = APIKEYS``, ``gsi1sk = <tenant>#<created_at>#<key_id>``) lists keys per
    tenant or all of them without a scan; it never mixes with the jobs' ``TENANT#`` partitions.
    """

    _FIELDS = ("key_id", "tenant_id", "name", "prefix", "created_at", "revoked", "revoked_at")

    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    def _load(self, item: dict[str, Any]) -> dict[str, Any]:
        data = {k: self._de.deserialize(v) for k, v in item.items()}
        out = {k: data.get(k) for k in self._FIELDS}
        out["key_hash"] = str(data[R.TABLE_PK])[len(R.APIKEY_KEY_PREFIX) :]
        out["revoked"] = bool(out.get("revoked"))
        return out

    def put(self, key_hash: str, record: dict[str, Any]) -> None:
        item = {k: v for k, v in record.items() if v is not None}
        item[R.TABLE_PK] = R.APIKEY_KEY_PREFIX + key_hash
        item[R.TABLE_GSI_PK] = APIKEYS_GSI_PK
        item[R.TABLE_GSI_SK] = f"{record['tenant_id']}#{record['created_at']}#{record['key_id']}"
        try:
            self._ddb.put_item(
                TableName=self.table_name,
                Item={k: self._ser.serialize(v) for k, v in item.items()},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": R.TABLE_PK},
            )
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict("API key already exists") from None
            raise

    def get(self, key_hash: str) -> dict[str, Any] | None:
        resp = self._ddb.get_item(
            TableName=self.table_name, Key={R.TABLE_PK: {"S": R.APIKEY_KEY_PREFIX + key_hash}}
        )
        item = resp.get("Item")
        return self._load(item) if item else None

    def list(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": R.TABLE_GSI_TENANT,
            "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": R.TABLE_GSI_PK},
            "ExpressionAttributeValues": {":g": {"S": APIKEYS_GSI_PK}},
        }
        if tenant_id is not None:
            kwargs["KeyConditionExpression"] += " AND begins_with(#s, :s)"
            kwargs["ExpressionAttributeNames"]["#s"] = R.TABLE_GSI_SK
            kwargs["ExpressionAttributeValues"][":s"] = {"S": f"{tenant_id}#"}
        out: list[dict[str, Any]] = []
        while True:
            resp = self._ddb.query(**kwargs)
            out.extend(self._load(i) for i in resp.get("Items", []))
            if not resp.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def set_revoked(self, key_hash: str, revoked_at: str) -> dict[str, Any]:
        resp = self._ddb.update_item(
            TableName=self.table_name,
            Key={R.TABLE_PK: {"S": R.APIKEY_KEY_PREFIX + key_hash}},
            UpdateExpression="SET revoked = :t, revoked_at = if_not_exists(revoked_at, :at)",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#pk": R.TABLE_PK},
            ExpressionAttributeValues={":t": {"BOOL": True}, ":at": {"S": revoked_at}},
            ReturnValues="ALL_NEW",
        )
        return self._load(resp["Attributes"])


class DynamoIdempotencyStore:
    """``Idempotency-Key`` records: ``pk = IDEM#<tenant>#<key>`` with the request's hash, the job id
    it created and a TTL (``expires_at``). Claimed with a conditional put, so two concurrent
    requests with one key create one job."""

    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")

    @staticmethod
    def _pk(tenant_id: str, key: str) -> dict[str, Any]:
        return {R.TABLE_PK: {"S": f"{R.IDEMPOTENCY_KEY_PREFIX}{tenant_id}#{key}"}}

    def claim(
        self, tenant_id: str, key: str, *, request_hash: str, job_id: str, now: int, ttl_s: int
    ) -> dict[str, Any] | None:
        """Store the record unless a live one exists. Returns None when claimed, else the existing
        record ``{job_id, request_hash}``. An expired record (TTL deletion lags) is taken over."""
        item = {
            **self._pk(tenant_id, key),
            "job_id": {"S": job_id},
            "request_hash": {"S": request_hash},
            R.TABLE_TTL_ATTRIBUTE: {"N": str(now + ttl_s)},
        }
        try:
            self._ddb.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk) OR #exp < :now",
                ExpressionAttributeNames={"#pk": R.TABLE_PK, "#exp": R.TABLE_TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ClientError as e:
            if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old: Any = e.response.get("Item") or self._ddb.get_item(
                TableName=self.table_name, Key=self._pk(tenant_id, key), ConsistentRead=True
            ).get("Item")
            if not old:  # deleted in between: try once more
                return self.claim(
                    tenant_id, key, request_hash=request_hash, job_id=job_id, now=now, ttl_s=ttl_s
                )
            return {"job_id": old["job_id"]["S"], "request_hash": old["request_hash"]["S"]}

    def release(self, tenant_id: str, key: str, job_id: str) -> None:
        """Forget the record (the submission it guarded failed), only if it is still ours."""
        with contextlib.suppress(ClientError):
            self._ddb.delete_item(
                TableName=self.table_name,
                Key=self._pk(tenant_id, key),
                ConditionExpression="job_id = :j",
                ExpressionAttributeValues={":j": {"S": job_id}},
            )
