"""The single table's item plumbing, shared by every DynamoDB adapter: keys, attribute values,
stored timestamps, conditional-write refusals.

One table (names in ``diarist.resources``), one adapter per item family:

- ``JOB#<job_id>``: the job (``dynamo_jobs``); the dispatcher's launch claim
  (``dynamo_launch_claims``) and the webhook ledger (``dynamo_webhook_ledger``) write fields of
  the same item with conditions the job store's generic ``update`` cannot express;
- ``KEY#<sha256>``: an API key (``dynamo_apikeys``);
- ``IDEM#<tenant>#<key>``: an ``Idempotency-Key`` record (``dynamo_idempotency``);
- ``TENANT#<tenant>``: a tenant's limit overrides and active-job slots, ``RATE#<tenant>#<minute>``:
  its request counter for one minute (``dynamo_tenants``).
- ``FLEET#<name>``: the drain workers that exist (``dynamo_fleet``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from diarist.resources import (
    APIKEY_KEY_PREFIX,
    FLEET_KEY_PREFIX,
    IDEMPOTENCY_KEY_PREFIX,
    JOB_KEY_PREFIX,
    TABLE_PK,
)

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
_DATETIME = TypeAdapter(datetime)


# --- keys ------------------------------------------------------------------------------------------
def job_key(job_id: str) -> dict[str, Any]:
    return {TABLE_PK: {"S": JOB_KEY_PREFIX + job_id}}


def apikey_key(key_hash: str) -> dict[str, Any]:
    return {TABLE_PK: {"S": APIKEY_KEY_PREFIX + key_hash}}


def fleet_key(name: str) -> dict[str, Any]:
    return {TABLE_PK: {"S": FLEET_KEY_PREFIX + name}}


def idempotency_key(tenant_id: str, key: str) -> dict[str, Any]:
    return {TABLE_PK: {"S": f"{IDEMPOTENCY_KEY_PREFIX}{tenant_id}#{key}"}}


# --- values ----------------------------------------------------------------------------------------
def storable(value: Any) -> Any:
    """A JSON-like value DynamoDB accepts: floats become ``Decimal`` (also inside maps and lists)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """The reverse of ``storable``: a ``Decimal`` becomes an int when whole, else a float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def attribute(value: Any) -> dict[str, Any]:
    """One value as a low-level attribute value (``{"S": ...}``, ``{"M": ...}`` ...)."""
    return dict(_SERIALIZER.serialize(storable(value)))


def to_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """A whole item for the low-level client (``put_item``'s ``Item``)."""
    return {k: attribute(v) for k, v in item.items()}


def from_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the low-level client returns it -> plain Python values."""
    return {k: plain(_DESERIALIZER.deserialize(v)) for k, v in item.items()}


# --- timestamps ------------------------------------------------------------------------------------
def stored_time(dt: datetime) -> str:
    """A datetime as the job item stores it: the ``Job`` model's own JSON form."""
    return str(_DATETIME.dump_python(dt, mode="json"))


def parse_time(text: str) -> datetime:
    return _DATETIME.validate_python(text)


def sortable_time(dt: datetime) -> str:
    """A fixed-width UTC timestamp (always with microseconds), so that two of them compare as text
    in a condition expression."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- refusals --------------------------------------------------------------------------------------
def condition_failed(error: ClientError) -> bool:
    """The write was refused by its condition expression (not a service error)."""
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


def conditional_update(ddb: Any, **request: Any) -> bool:
    """``UpdateItem`` with a condition: ``True`` when applied, ``False`` when its condition refused
    it (any other error is raised)."""
    try:
        ddb.update_item(**request)
    except ClientError as e:
        if condition_failed(e):
            return False
        raise
    return True
