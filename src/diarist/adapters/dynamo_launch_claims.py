"""DynamoDB launch claims (``ports.LaunchClaims``): one conditional write on the job item.

A claim (``launch_claim`` = the delivery's token, ``launch_claimed_at``) is taken only while the
job is ``pending`` with no ``launch_id`` and either no claim or a claim older than
``stale_before`` (the delivery that held it died between claiming and recording the launch).
``launch_claimed_at`` is a fixed-width timestamp so that the staleness test compares text.
The store's generic ``update`` (status conditions only) cannot express this, hence this adapter
on the job item (``dynamo_items``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from diarist.adapters.aws import client
from diarist.adapters.dynamo_items import conditional_update, job_key, sortable_time
from diarist.domain.jobs import JobStatus, utcnow
from diarist.resources import TABLE_PK


class DynamoLaunchClaims:
    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")

    def claim(self, job_id: str, token: str, *, stale_before: datetime) -> bool:
        now, stale = sortable_time(utcnow()), sortable_time(stale_before)
        return conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=job_key(job_id),
            UpdateExpression="SET #c = :tok, #ca = :now, #u = :now",
            ConditionExpression=(
                "attribute_exists(#pk) AND #st = :pending AND attribute_not_exists(#lid) "
                "AND (attribute_not_exists(#c) OR #ca < :stale)"
            ),
            ExpressionAttributeNames={
                "#pk": TABLE_PK,
                "#st": "status",
                "#lid": "launch_id",
                "#c": "launch_claim",
                "#ca": "launch_claimed_at",
                "#u": "updated_at",
            },
            ExpressionAttributeValues={
                ":tok": {"S": token},
                ":now": {"S": now},
                ":stale": {"S": stale},
                ":pending": {"S": JobStatus.PENDING.value},
            },
        )

    def release(self, job_id: str, token: str, *, error: str | None = None) -> bool:
        names = {"#c": "launch_claim", "#ca": "launch_claimed_at", "#u": "updated_at"}
        values: dict[str, Any] = {":tok": {"S": token}, ":now": {"S": sortable_time(utcnow())}}
        expr = "REMOVE #c, #ca SET #u = :now"
        if error is not None:  # DynamoDB refuses attribute names the expression does not use
            names["#e"] = "launch_error"
            expr += ", #e = :err"
            values[":err"] = {"S": error[:1000]}
        return conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=job_key(job_id),
            UpdateExpression=expr,
            ConditionExpression="#c = :tok",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
