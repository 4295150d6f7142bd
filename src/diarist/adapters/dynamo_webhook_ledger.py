"""DynamoDB webhook ledger (``ports.WebhookLedger``): claim an attempt, record its outcome.

``Job.webhook_attempts`` is an append-only history; an attempt's place in it (``seq``) is its
identity. Before sending, the delivery function *claims* ``seq`` with a conditional append
(``size(webhook_attempts) = seq``): a replayed EventBridge event or a duplicated SQS message
finds the slot taken and sends nothing. The claimed slot holds an ``in progress`` placeholder
(``ports.is_placeholder``) until the outcome replaces it. A placeholder older than
``stale_after_s`` (the function died mid-attempt; its message came back after the visibility
timeout) may be taken over.

This needs conditions on list sizes and elements, which ``ports.JobStore.update`` (status
conditions only) does not offer, hence this adapter on the job item (``dynamo_items``; attempts
stored as maps with the model's field names).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from diarist.adapters.aws import client
from diarist.adapters.dynamo_items import attribute, conditional_update, job_key, parse_time, stored_time
from diarist.domain.jobs import WebhookAttempt, utcnow
from diarist.ports import IN_PROGRESS, Claim, Delivery
from diarist.resources import TABLE_PK


def _attempt_map(attempt: WebhookAttempt) -> dict[str, Any]:
    return attempt.model_dump(mode="json", exclude_none=True, by_alias=False)


class DynamoWebhookLedger:
    def __init__(self, table_name: str, ddb: Any | None = None) -> None:
        self.table_name = table_name
        self._ddb = ddb or client("dynamodb")

    def _update(self, job_id: str, **kwargs: Any) -> bool:
        return conditional_update(self._ddb, TableName=self.table_name, Key=job_key(job_id), **kwargs)

    def _now(self) -> dict[str, Any]:
        return {"S": stored_time(utcnow())}

    def claim(self, job_id: str, *, seq: int, attempt: int, at: datetime, stale_after_s: float) -> Claim:
        placeholder = WebhookAttempt(at=at, attempt=attempt, error=IN_PROGRESS)
        names = {"#pk": TABLE_PK, "#wa": "webhook_attempts", "#wd": "webhook_delivery", "#ua": "updated_at"}
        values: dict[str, Any] = {
            ":new": attribute([_attempt_map(placeholder)]),
            ":empty": {"L": []},
            ":pending": {"S": "pending"},
            ":now": self._now(),
            ":seq": {"N": str(seq)},
        }
        size_ok = "(attribute_not_exists(#wa) OR size(#wa) = :seq)" if seq == 0 else "size(#wa) = :seq"
        if self._update(
            job_id,
            UpdateExpression="SET #wa = list_append(if_not_exists(#wa, :empty), :new), #wd = :pending, #ua = :now",
            ConditionExpression=f"attribute_exists(#pk) AND {size_ok}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        ):
            return Claim.CLAIMED
        # Taken. Take over only a placeholder left behind by a function that died mid-attempt.
        item = self._ddb.get_item(TableName=self.table_name, Key=job_key(job_id), ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return Claim.MISSING
        slots = item.get("webhook_attempts", {}).get("L", [])
        if len(slots) != seq + 1:
            return Claim.TAKEN
        old = slots[seq].get("M", {})
        if old.get("error", {}).get("S") != IN_PROGRESS or "status_code" in old:
            return Claim.TAKEN
        old_at = parse_time(old["at"]["S"])
        if (at - old_at).total_seconds() < stale_after_s:
            return Claim.TAKEN
        names.pop("#pk")
        names["#at"], names["#err"] = "at", "error"
        ok = self._update(
            job_id,
            UpdateExpression=f"SET #wa[{seq}] = :slot, #wd = :pending, #ua = :now",
            ConditionExpression=f"size(#wa) = :size AND #wa[{seq}].#at = :old_at AND #wa[{seq}].#err = :inprog",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":slot": attribute(_attempt_map(placeholder)),
                ":pending": {"S": "pending"},
                ":now": self._now(),
                ":size": {"N": str(seq + 1)},
                ":old_at": old["at"],
                ":inprog": {"S": IN_PROGRESS},
            },
        )
        return Claim.CLAIMED if ok else Claim.TAKEN

    def record(
        self, job_id: str, *, seq: int, claimed_at: datetime, result: WebhookAttempt, delivery: Delivery
    ) -> bool:
        return self._update(
            job_id,
            UpdateExpression=f"SET #wa[{seq}] = :slot, #wd = :d, #ua = :now",
            ConditionExpression=f"#wa[{seq}].#at = :claimed_at",
            ExpressionAttributeNames={
                "#wa": "webhook_attempts",
                "#wd": "webhook_delivery",
                "#ua": "updated_at",
                "#at": "at",
            },
            ExpressionAttributeValues={
                ":slot": attribute(_attempt_map(result)),
                ":d": {"S": delivery},
                ":now": self._now(),
                ":claimed_at": {"S": stored_time(claimed_at)},
            },
        )

    def set_delivery(self, job_id: str, delivery: Delivery) -> None:
        self._update(
            job_id,
            UpdateExpression="SET #wd = :d, #ua = :now",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#pk": TABLE_PK, "#wd": "webhook_delivery", "#ua": "updated_at"},
            ExpressionAttributeValues={":d": {"S": delivery}, ":now": self._now()},
        )
