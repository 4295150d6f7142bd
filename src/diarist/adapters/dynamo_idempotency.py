"""DynamoDB ``Idempotency-Key`` records (``ports.IdempotencyStore``).

The item is ``pk = IDEM#<tenant>#<key>`` with the request's hash, the job id it created and a TTL
(``expires_at``). It is claimed with a conditional put, so two concurrent requests with one key
create one job; TTL deletion lags, so an expired record is taken over by the condition itself.
"""

from __future__ import annotations

import contextlib
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client
from diarist.adapters.dynamo_items import condition_failed, idempotency_key
from diarist.resources import TABLE_PK, TABLE_TTL_ATTRIBUTE


class DynamoIdempotencyStore:
    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")

    def claim(
        self, tenant_id: str, key: str, *, request_hash: str, job_id: str, now: int, ttl_s: int
    ) -> dict[str, Any] | None:
        item = {
            **idempotency_key(tenant_id, key),
            "job_id": {"S": job_id},
            "request_hash": {"S": request_hash},
            TABLE_TTL_ATTRIBUTE: {"N": str(now + ttl_s)},
        }
        try:
            self._ddb.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk) OR #exp < :now",
                ExpressionAttributeNames={"#pk": TABLE_PK, "#exp": TABLE_TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ClientError as e:
            if not condition_failed(e):
                raise
            old: Any = e.response.get("Item") or self._ddb.get_item(
                TableName=self.table_name, Key=idempotency_key(tenant_id, key), ConsistentRead=True
            ).get("Item")
            if not old:  # deleted in between: try once more
                return self.claim(
                    tenant_id, key, request_hash=request_hash, job_id=job_id, now=now, ttl_s=ttl_s
                )
            return {"job_id": old["job_id"]["S"], "request_hash": old["request_hash"]["S"]}

    def release(self, tenant_id: str, key: str, job_id: str) -> None:
        with contextlib.suppress(ClientError):
            self._ddb.delete_item(
                TableName=self.table_name,
                Key=idempotency_key(tenant_id, key),
                ConditionExpression="job_id = :j",
                ExpressionAttributeValues={":j": {"S": job_id}},
            )
