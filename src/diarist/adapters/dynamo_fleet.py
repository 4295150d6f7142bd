"""DynamoDB worker fleet (``ports.WorkerFleet``): one item ``FLEET#<name>`` holding ``version``
(a number bumped by every write) and ``workers`` (a map: worker id -> the fixed-width UTC time
until which it counts).

``grow`` is the capacity decision's conditional write: it adds the new workers and prunes the
expired ones only if ``version`` is still the one read, so two dispatchers that saw the same
shortfall cannot both launch for it. A worker's ``report`` and ``leave`` touch only its own entry
(and bump the version, so a decision made on the older picture is refused and taken again).
The backlog (``active_jobs``) is counted in the jobs' ``by_state`` index (``STATUS#created`` +
``STATUS#running``; ``Select=COUNT``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client
from diarist.adapters.dynamo_items import (
    condition_failed,
    conditional_update,
    fleet_key,
    parse_time,
    sortable_time,
)
from diarist.domain.fleet import FleetState
from diarist.domain.jobs import JobStatus
from diarist.resources import FLEET_NAME, STATUS_KEY_PREFIX, TABLE_GSI2_PK, TABLE_GSI_STATE, TABLE_PK

_WORKERS, _VERSION = "workers", "version"
_START_FAILURES, _START_FAILURE, _START_FAILED_AT = "start_failures", "start_failure", "start_failed_at"


class DynamoWorkerFleet:
    def __init__(self, table_name: str, name: str = FLEET_NAME, ddb: Any | None = None) -> None:
        self.table_name = table_name
        self.name = name
        self._ddb = ddb or client("dynamodb")

    def read(self) -> FleetState:
        item = self._ddb.get_item(
            TableName=self.table_name, Key=fleet_key(self.name), ConsistentRead=True
        ).get("Item")
        if not item:
            return FleetState()
        workers = {w: parse_time(v["S"]) for w, v in item.get(_WORKERS, {}).get("M", {}).items()}
        failed_at = item.get(_START_FAILED_AT, {}).get("S")
        return FleetState(
            version=int(item.get(_VERSION, {}).get("N", "0")),
            workers=workers,
            start_failures=int(item.get(_START_FAILURES, {}).get("N", "0")),
            start_failure=item.get(_START_FAILURE, {}).get("S"),
            start_failed_at=parse_time(failed_at) if failed_at else None,
        )

    def grow(self, state: FleetState, new: Mapping[str, datetime], *, now: datetime) -> bool:
        names: dict[str, str] = {"#w": _WORKERS, "#v": _VERSION}
        values: dict[str, Any] = {":one": {"N": "1"}}
        workers = {w: until for w, until in state.workers.items() if until > now}
        workers.update(new)
        values[":ws"] = {"M": {w: {"S": sortable_time(t)} for w, t in workers.items()}}
        if state.version == 0:
            condition = "attribute_not_exists(#pk) OR attribute_not_exists(#v) OR #v = :zero"
            names["#pk"] = TABLE_PK
            values[":zero"] = {"N": "0"}
        else:
            condition = "#v = :ver"
            values[":ver"] = {"N": str(state.version)}
        return conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=fleet_key(self.name),
            UpdateExpression="SET #w = :ws ADD #v :one",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def report(self, worker_id: str, until: datetime, *, first: bool = False) -> None:
        # the map exists once a dispatcher launched this worker; a worker started by hand adds it
        item = self._ddb.get_item(
            TableName=self.table_name, Key=fleet_key(self.name), ConsistentRead=True
        ).get("Item")
        started = " REMOVE #sf, #sr, #sa" if first else ""
        started_names = (
            {"#sf": _START_FAILURES, "#sr": _START_FAILURE, "#sa": _START_FAILED_AT} if first else {}
        )
        if item and _WORKERS in item:
            self._ddb.update_item(
                TableName=self.table_name,
                Key=fleet_key(self.name),
                UpdateExpression="SET #w.#me = :until ADD #v :one" + started,
                ExpressionAttributeNames={"#w": _WORKERS, "#me": worker_id, "#v": _VERSION, **started_names},
                ExpressionAttributeValues={":until": {"S": sortable_time(until)}, ":one": {"N": "1"}},
            )
        else:
            self._ddb.update_item(
                TableName=self.table_name,
                Key=fleet_key(self.name),
                UpdateExpression="SET #w = if_not_exists(#w, :ws) ADD #v :one" + started,
                ExpressionAttributeNames={"#w": _WORKERS, "#v": _VERSION, **started_names},
                ExpressionAttributeValues={
                    ":ws": {"M": {worker_id: {"S": sortable_time(until)}}},
                    ":one": {"N": "1"},
                },
            )

    def leave(self, worker_id: str) -> None:
        try:
            self._ddb.update_item(
                TableName=self.table_name,
                Key=fleet_key(self.name),
                UpdateExpression="REMOVE #w.#me ADD #v :one",
                ConditionExpression="attribute_exists(#w)",
                ExpressionAttributeNames={"#w": _WORKERS, "#me": worker_id, "#v": _VERSION},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except ClientError as e:
            if not condition_failed(e):
                raise

    def start_failed(self, worker_id: str, reason: str, *, at: datetime) -> None:
        names = {"#v": _VERSION, "#sf": _START_FAILURES, "#sr": _START_FAILURE, "#sa": _START_FAILED_AT}
        values = {":one": {"N": "1"}, ":r": {"S": reason[:1000]}, ":at": {"S": sortable_time(at)}}
        count = "SET #sr = :r, #sa = :at ADD #v :one, #sf :one"
        try:  # one write (no read: the batch-events role may only update the fleet item)
            self._ddb.update_item(
                TableName=self.table_name,
                Key=fleet_key(self.name),
                UpdateExpression=count + " REMOVE #w.#me",
                ConditionExpression="attribute_exists(#w)",
                ExpressionAttributeNames={**names, "#w": _WORKERS, "#me": worker_id},
                ExpressionAttributeValues=values,
            )
        except ClientError as e:
            if not condition_failed(e):
                raise
            self._ddb.update_item(  # no workers map yet: nothing to remove
                TableName=self.table_name,
                Key=fleet_key(self.name),
                UpdateExpression=count,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def active_jobs(self) -> int:
        total = 0
        for status in (JobStatus.CREATED, JobStatus.RUNNING):
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": TABLE_GSI_STATE,
                "KeyConditionExpression": "#p = :p",
                "ExpressionAttributeNames": {"#p": TABLE_GSI2_PK},
                "ExpressionAttributeValues": {":p": {"S": STATUS_KEY_PREFIX + status.value}},
                "Select": "COUNT",
            }
            while True:
                resp = self._ddb.query(**kwargs)
                total += int(resp.get("Count", 0))
                if "LastEvaluatedKey" not in resp:
                    break
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return total
