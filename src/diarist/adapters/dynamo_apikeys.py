"""DynamoDB API key store (``ports.ApiKeyStore``): keys stored only as SHA-256 hashes.

The item is ``pk = KEY#<sha256hex>`` with the record's fields (``key_id``, ``tenant_id``, ``name``,
``prefix``, ``created_at``, ``revoked``, ``revoked_at``). Every key item sits in one GSI partition
(``gsi1pk = APIKEYS``, ``gsi1sk = <tenant>#<created_at>#<key_id>``), which lists all keys or one
tenant's without a scan and never mixes with the jobs' ``TENANT#`` partitions.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client
from diarist.adapters.dynamo_items import apikey_key, condition_failed, from_attributes, to_attributes
from diarist.domain.errors import Conflict
from diarist.resources import APIKEY_KEY_PREFIX, TABLE_GSI_PK, TABLE_GSI_SK, TABLE_GSI_TENANT, TABLE_PK

APIKEYS_GSI_PK = "APIKEYS"

_FIELDS = ("key_id", "tenant_id", "name", "prefix", "created_at", "revoked", "revoked_at")


def _record(attributes: dict[str, Any]) -> dict[str, Any]:
    data = from_attributes(attributes)
    out = {k: data.get(k) for k in _FIELDS}
    out["key_hash"] = str(data[TABLE_PK])[len(APIKEY_KEY_PREFIX) :]
    out["revoked"] = bool(out.get("revoked"))
    return out


class DynamoApiKeyStore:
    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")

    def put(self, key_hash: str, record: dict[str, Any]) -> None:
        item = {k: v for k, v in record.items() if v is not None}
        item[TABLE_PK] = APIKEY_KEY_PREFIX + key_hash
        item[TABLE_GSI_PK] = APIKEYS_GSI_PK
        item[TABLE_GSI_SK] = f"{record['tenant_id']}#{record['created_at']}#{record['key_id']}"
        try:
            self._ddb.put_item(
                TableName=self.table_name,
                Item=to_attributes(item),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": TABLE_PK},
            )
        except ClientError as e:
            if condition_failed(e):
                raise Conflict("API key already exists") from None
            raise

    def get(self, key_hash: str) -> dict[str, Any] | None:
        resp = self._ddb.get_item(TableName=self.table_name, Key=apikey_key(key_hash))
        item = resp.get("Item")
        return _record(item) if item else None

    def list(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": TABLE_GSI_TENANT,
            "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": TABLE_GSI_PK},
            "ExpressionAttributeValues": {":g": {"S": APIKEYS_GSI_PK}},
        }
        if tenant_id is not None:
            kwargs["KeyConditionExpression"] += " AND begins_with(#s, :s)"
            kwargs["ExpressionAttributeNames"]["#s"] = TABLE_GSI_SK
            kwargs["ExpressionAttributeValues"][":s"] = {"S": f"{tenant_id}#"}
        out: list[dict[str, Any]] = []
        while True:
            resp = self._ddb.query(**kwargs)
            out.extend(_record(i) for i in resp.get("Items", []))
            if not resp.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def set_revoked(self, key_hash: str, revoked_at: str) -> dict[str, Any]:
        resp = self._ddb.update_item(
            TableName=self.table_name,
            Key=apikey_key(key_hash),
            UpdateExpression="SET revoked = :t, revoked_at = if_not_exists(revoked_at, :at)",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#pk": TABLE_PK},
            ExpressionAttributeValues={":t": {"BOOL": True}, ":at": {"S": revoked_at}},
            ReturnValues="ALL_NEW",
        )
        return _record(resp["Attributes"])
