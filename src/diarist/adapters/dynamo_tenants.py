"""DynamoDB tenant store (``ports.TenantStore``): limit overrides, active-job slots, request counters.

Items (``diarist.resources``):

- ``TENANT#<tenant>``: ``max_active_jobs`` / ``requests_per_minute`` (overrides, numbers; absent:
  the default applies) and ``active``, the string set of the tenant's active-job slots
  (``<job id>@<claimed at>``, ``domain.limits.Slot``; absent when empty: DynamoDB has no empty
  sets). The same key is the tenant's partition in the ``by_tenant`` index (``gsi1pk``), a
  different attribute: no clash.
- ``RATE#<tenant>#<window start>``: ``n``, the requests counted in that minute, and
  ``expires_at`` (the table's TTL attribute) a minute after the window ends.

A slot is claimed by one conditional ``UpdateItem`` (``ADD`` with ``size(active) < limit``), so two
submissions racing for the last slot cannot both win. (Not a transaction with the job's write:
an emulated transaction copies the whole table, see ``services.limits`` for why two writes are
safe.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client
from diarist.adapters.dynamo_items import condition_failed, conditional_update, from_attributes
from diarist.domain.limits import Slot, TenantLimits
from diarist.resources import RATE_KEY_PREFIX, TABLE_PK, TABLE_TTL_ATTRIBUTE, TENANT_KEY_PREFIX

LIMIT_FIELDS = ("max_active_jobs", "requests_per_minute")


def tenant_key(tenant_id: str) -> dict[str, Any]:
    return {TABLE_PK: {"S": TENANT_KEY_PREFIX + tenant_id}}


def rate_key(tenant_id: str, window_start: int) -> dict[str, Any]:
    return {TABLE_PK: {"S": f"{RATE_KEY_PREFIX}{tenant_id}#{window_start}"}}


def _limits(item: dict[str, Any] | None) -> TenantLimits:
    data = from_attributes(item or {})
    return TenantLimits(**{f: int(data[f]) for f in LIMIT_FIELDS if data.get(f) is not None})


class DynamoTenantStore:
    """Implements ``ports.TenantStore`` on the low-level DynamoDB client (works the same on moto)."""

    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")

    # -- limits -----------------------------------------------------------------------------------
    def get_limits(self, tenant_id: str) -> TenantLimits:
        resp = self._ddb.get_item(
            TableName=self.table_name,
            Key=tenant_key(tenant_id),
            ProjectionExpression="#a, #b",
            ExpressionAttributeNames={"#a": LIMIT_FIELDS[0], "#b": LIMIT_FIELDS[1]},
        )
        return _limits(resp.get("Item"))

    def set_limits(self, tenant_id: str, limits: TenantLimits, *, clear: Iterable[str] = ()) -> TenantLimits:
        clear = set(clear)
        unknown = clear - set(LIMIT_FIELDS)
        if unknown:
            raise ValueError(f"not a limit: {sorted(unknown)}")
        names: dict[str, str] = {"#tid": "tenant_id"}
        values: dict[str, Any] = {":tid": {"S": tenant_id}}
        sets, removes = ["#tid = :tid"], []
        for i, name in enumerate(LIMIT_FIELDS):
            value = getattr(limits, name)
            if value is not None:
                names[f"#f{i}"], values[f":v{i}"] = name, {"N": str(int(value))}
                sets.append(f"#f{i} = :v{i}")
            elif name in clear:
                names[f"#f{i}"] = name
                removes.append(f"#f{i}")
        expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        resp = self._ddb.update_item(
            TableName=self.table_name,
            Key=tenant_key(tenant_id),
            UpdateExpression=expr,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return _limits(resp.get("Attributes"))

    # -- request rate -----------------------------------------------------------------------------
    def count_request(self, tenant_id: str, window_start: int, *, limit: int, expires_at: int) -> int | None:
        try:
            resp = self._ddb.update_item(
                TableName=self.table_name,
                Key=rate_key(tenant_id, window_start),
                UpdateExpression="ADD #n :one SET #exp = :exp",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": "n", "#exp": TABLE_TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":exp": {"N": str(expires_at)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as e:
            if condition_failed(e):
                return None
            raise
        return int(resp["Attributes"]["n"]["N"])

    def requests_in(self, tenant_id: str, window_start: int) -> int:
        resp = self._ddb.get_item(
            TableName=self.table_name,
            Key=rate_key(tenant_id, window_start),
            ProjectionExpression="#n",
            ExpressionAttributeNames={"#n": "n"},
        )
        return int(from_attributes(resp.get("Item") or {}).get("n") or 0)

    # -- active jobs ------------------------------------------------------------------------------
    def claim_slot(self, tenant_id: str, slot: Slot, *, limit: int) -> bool:
        return conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=tenant_key(tenant_id),
            UpdateExpression="ADD #active :slot SET #tid = :tid",
            ConditionExpression="attribute_not_exists(#active) OR size(#active) < :limit",
            ExpressionAttributeNames={"#active": "active", "#tid": "tenant_id"},
            ExpressionAttributeValues={
                ":slot": {"SS": [slot.encode()]},
                ":tid": {"S": tenant_id},
                ":limit": {"N": str(limit)},
            },
        )

    def slots(self, tenant_id: str) -> list[Slot]:
        resp = self._ddb.get_item(
            TableName=self.table_name,
            Key=tenant_key(tenant_id),
            ConsistentRead=True,
            ProjectionExpression="#active",
            ExpressionAttributeNames={"#active": "active"},
        )
        return [Slot.parse(text) for text in sorted(resp.get("Item", {}).get("active", {}).get("SS", []))]

    def release(self, tenant_id: str, slots: Iterable[Slot]) -> None:
        held = sorted({slot.encode() for slot in slots})
        if not held:
            return
        try:
            self._ddb.update_item(
                TableName=self.table_name,
                Key=tenant_key(tenant_id),
                UpdateExpression="DELETE #active :slots",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#active": "active", "#pk": TABLE_PK},
                ExpressionAttributeValues={":slots": {"SS": held}},
            )
        except ClientError as e:
            if not condition_failed(e):  # no tenant item: nothing held
                raise
