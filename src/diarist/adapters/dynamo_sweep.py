"""The sweeper's view of the table (``ports.SweepIndex``): the sparse ``by_state`` index.

Partitions (``diarist.resources``): ``STATUS#pending|created|running`` hold every job that is not
terminal, ``OUTBOX`` every terminal job whose completion event is still owed; the sort key is
``<fixed-width UTC time>#<job id>``, the time the job entered the partition (a sweeper's requeue or
lease moves it on). So "past a deadline" is one ``Query`` with ``gsi2sk < cutoff``, never a Scan.
The index is eventually consistent: every candidate is read again (consistent) by the service,
and every resolution is one conditional write on the job item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from diarist.adapters.aws import client
from diarist.adapters.dynamo_items import (
    conditional_update,
    from_attributes,
    job_key,
    sortable_time,
    stored_time,
)
from diarist.domain.jobs import Job, JobStatus, utcnow
from diarist.ports import Indexed
from diarist.resources import (
    OUTBOX_PARTITION,
    STATUS_KEY_PREFIX,
    TABLE_GSI2_PK,
    TABLE_GSI2_SK,
    TABLE_GSI_STATE,
)


class DynamoSweepIndex:
    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")

    def _query(self, partition: str, before: datetime, limit: int) -> list[Indexed]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": TABLE_GSI_STATE,
            "KeyConditionExpression": "#p = :p AND #s < :cut",
            "ExpressionAttributeNames": {"#p": TABLE_GSI2_PK, "#s": TABLE_GSI2_SK},
            "ExpressionAttributeValues": {":p": {"S": partition}, ":cut": {"S": sortable_time(before)}},
            "Limit": limit,
        }
        found: list[Indexed] = []
        while len(found) < limit:
            resp = self._ddb.query(**kwargs)
            for item in resp.get("Items", []):
                sk = item.get(TABLE_GSI2_SK, {}).get("S", "")
                found.append(Indexed(Job.model_validate(from_attributes(item)), sk))
            last = resp.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
        return found[:limit]

    def in_status_since_before(self, status: JobStatus, before: datetime, *, limit: int) -> list[Indexed]:
        return self._query(STATUS_KEY_PREFIX + status.value, before, limit)

    def owed_since_before(self, before: datetime, *, limit: int) -> list[Indexed]:
        return self._query(OUTBOX_PARTITION, before, limit)

    def move_on(self, entry: Indexed, *, until: datetime, requeue: bool = False) -> bool:
        """One conditional write: the job is still where ``entry`` found it (same partition, same
        sort key) and now counts from ``until``; with ``requeue``, also a pending job without a
        launch whose ``sweep_requeues`` goes up by one. False when someone else moved it first."""
        job = entry.job
        partition = OUTBOX_PARTITION if job.status.is_terminal else STATUS_KEY_PREFIX + job.status.value
        names = {"#p": TABLE_GSI2_PK, "#s": TABLE_GSI2_SK, "#u": "updated_at"}
        values: dict[str, Any] = {
            ":p": {"S": partition},
            ":old": {"S": entry.key},
            ":new": {"S": f"{sortable_time(until)}#{job.job_id}"},
        }
        update = "SET #s = :new"
        condition = "#p = :p AND #s = :old"
        if requeue:
            names.update({"#st": "status", "#lid": "launch_id", "#rq": "sweep_requeues"})
            values[":pending"] = {"S": JobStatus.PENDING.value}
            values[":one"] = {"N": "1"}
            values[":zero"] = {"N": "0"}
            values[":now"] = {"S": stored_time(utcnow())}
            update += ", #rq = if_not_exists(#rq, :zero) + :one, #u = :now"
            condition += " AND #st = :pending AND attribute_not_exists(#lid)"
        else:
            names.pop("#u")
        return conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=job_key(job.job_id),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
