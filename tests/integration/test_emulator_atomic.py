"""The emulator's conditional writes are atomic, as DynamoDB's are (``diarist.local.emulator``).

moto checks a condition and then writes without a lock; the test widens that window (a pause after
each condition is evaluated) so that, without ``make_writes_atomic``, several racing writers pass the
same condition. With it, exactly ``limit`` of them win, as in DynamoDB: the race tests of the
claims and limits rely on this.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

LIMIT = 3


def _widen_condition_window(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.dynamodb.models as backend

    real = backend.create_condition_expression_parser

    def slow_parser(*args: Any, **kwargs: Any) -> Any:
        parser = real(*args, **kwargs)
        real_parse = parser.parse

        def parse() -> Any:
            op = real_parse()

            class Slow:
                def expr(self, item: Any) -> Any:
                    held = op.expr(item)
                    time.sleep(0.05)  # between the check and the write
                    return held

            return Slow()

        parser.parse = parse
        return parser

    monkeypatch.setattr(backend, "create_condition_expression_parser", slow_parser)


def test_racing_conditional_updates_admit_exactly_the_limit(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    table = f"atomic-{time.time_ns()}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    _widen_condition_window(monkeypatch)
    won: list[int] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        try:
            ddb.update_item(
                TableName=table,
                Key={"pk": {"S": "counter"}},
                UpdateExpression="ADD #n :one",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": "n"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(LIMIT)}},
            )
        except ddb.exceptions.ConditionalCheckFailedException:
            return
        with lock:
            won.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]
    assert len(won) == LIMIT
    assert item["n"]["N"] == str(LIMIT)
