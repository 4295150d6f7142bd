"""Recording what code does on the DynamoDB table, to hold it against ``infra.table_access``
(the grants each role gets): every call an entry point makes must be granted to its role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from diarist import resources


@dataclass(frozen=True)
class TableCall:
    operation: str
    leading_key: str  # the partition key value (of the index, for an index query); "" when none
    index: str | None = None


def _partition_value(params: dict[str, Any], attribute: str) -> str:
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    for name, value in re.findall(r"(#?\w+)\s*=\s*(:\w+)", params.get("KeyConditionExpression", "")):
        if names.get(name, name) == attribute:
            return str(values[value].get("S", ""))
    return ""


def describe(operation: str, params: dict[str, Any]) -> TableCall:
    if operation in ("GetItem", "DeleteItem", "UpdateItem"):
        return TableCall(operation, str(params["Key"][resources.TABLE_PK].get("S", "")))
    if operation == "PutItem":
        return TableCall(operation, str(params["Item"][resources.TABLE_PK].get("S", "")))
    if operation == "Query":
        index = params.get("IndexName")
        attribute = {
            None: resources.TABLE_PK,
            resources.TABLE_GSI_TENANT: resources.TABLE_GSI_PK,
            resources.TABLE_GSI_STATE: resources.TABLE_GSI2_PK,
        }.get(index, resources.TABLE_GSI_PK)
        return TableCall(operation, _partition_value(params, attribute), index)
    return TableCall(operation, "")  # Scan, batch, PartiQL, DescribeTable ...: never granted


@contextmanager
def recorded_table_calls() -> Iterator[list[TableCall]]:
    """Every DynamoDB call any client makes inside the block (the real call still happens)."""
    import botocore.client

    real = botocore.client.BaseClient._make_api_call
    calls: list[TableCall] = []

    def spy(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(describe(operation_name, api_params))
        return real(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = spy  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = real  # type: ignore[method-assign]


def family(call: TableCall) -> str:
    for prefix in (
        resources.JOB_KEY_PREFIX,
        resources.APIKEY_KEY_PREFIX,
        resources.IDEMPOTENCY_KEY_PREFIX,
        resources.TENANT_KEY_PREFIX,
        resources.RATE_KEY_PREFIX,
        resources.STATUS_KEY_PREFIX,
        resources.OUTBOX_PARTITION,
        resources.FLEET_KEY_PREFIX,
    ):
        if call.leading_key.startswith(prefix):
            return prefix
    return call.leading_key


def check_granted(role: str, calls: list[TableCall]) -> set[tuple[str, str]]:
    """Fail on any call ``role``'s grants do not cover; return what was used as (family, operation)."""
    from infra.table_access import BY_ROLE

    access = BY_ROLE[role]
    refused = sorted(
        {c for c in calls if not access.allows(c.operation, c.leading_key, index=c.index)}, key=str
    )
    assert calls, f"{role}: no DynamoDB call recorded"
    assert not refused, f"{role} makes calls its grants (infra/table_access.py) do not allow: {refused}"
    return {(family(c), c.operation) for c in calls}


def granted(role: str) -> set[tuple[str, str]]:
    from infra.table_access import BY_ROLE, QUERY

    access = BY_ROLE[role]
    return {(p, op) for p, ops in access.items.items() for op in ops} | {
        (p, QUERY) for p in access.index_queries | access.state_queries
    }
