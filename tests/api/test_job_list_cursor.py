"""``GET /v2/jobs?cursor=``: a cursor is checked in full and bound to the caller's tenant; anything
crafted is a 400 naming ``cursor`` (it used to reach DynamoDB and answer 500)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.integration


class Raw(str):
    """JSON text used as it is (nesting deeper than ``json.dumps`` writes)."""


def _cursor(key: Any) -> str:
    text = key if isinstance(key, Raw) else json.dumps(key)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _submit(api: Api, token: str) -> str:
    r = api.call("POST", "/v1/diarize", token=token, body={"url": "https://example.com/a.wav"})
    assert r.status == 200, r.body
    return str(r.body["jobId"])


def _page(api: Api, token: str, cursor: str | None = None) -> Any:
    return api.call("GET", "/v2/jobs?limit=1" + (f"&cursor={cursor}" if cursor else ""), token=token)


@pytest.fixture
def real_cursor(api: Api) -> dict[str, Any]:
    """A cursor the API issued to tenant A, decoded."""
    for _ in range(2):
        _submit(api, api.key_a)
    r = _page(api, api.key_a)
    assert r.status == 200 and r.body["cursor"]
    text = r.body["cursor"]
    key: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    assert _page(api, api.key_a, _cursor(key)).status == 200  # re-encoded, it still works
    return key


def _crafted(real: dict[str, Any]) -> list[Any]:
    pk, gpk, gsk = real["pk"]["S"], real["gsi1pk"]["S"], real["gsi1sk"]["S"]
    return [
        {"gsi1pk": 5},  # wrong type, missing attributes
        {"gsi1pk": {"S": gpk}},  # the old check's minimum
        {**real, "gsi1pk": {"N": "1"}},
        {**real, "gsi1pk": {"S": [gpk]}},
        {**real, "gsi1sk": {"S": gsk, "N": "1"}},
        {**real, "pk": {"S": "KEY#" + pk[4:]}},  # another item family
        {**real, "pk": {"S": "JOB#someone-else"}},  # pk and sort key disagree
        {**real, "gsi1sk": {"S": "not-a-date#" + gsk.split("#")[-1]}},
        {**real, "extra": {"S": "x"}},
        {**real, "gsi1pk": {"S": "TENANT#tenant-b"}},  # another tenant's partition
        {**real, "gsi1pk": {"S": "APIKEYS"}},  # the API keys' partition
        ["pk", "gsi1pk"],
        "a string",
        None,
        Raw("[" * 380 + "]" * 380),  # as deep as fits in a cursor's length
        Raw('{"pk":' * 5000 + "1" + "}" * 5000),  # deeper (refused for its length first)
    ]


def test_crafted_cursors_are_400_naming_cursor(api: Api, real_cursor: dict[str, Any]) -> None:
    for key in _crafted(real_cursor):
        r = _page(api, api.key_a, _cursor(key)[:2048])
        assert r.status == 400 and r.fields() == ["cursor"], (str(key)[:200], r.status, r.body)


@pytest.mark.parametrize("raw", ["!!!", "A" * 1025, "e30", "eyJhIjox", "%C3%A9t%C3%A9", "AAAA" * 10])
def test_malformed_cursors_are_400(api: Api, raw: str) -> None:
    r = _page(api, api.key_a, raw)
    assert r.status == 400 and r.fields() == ["cursor"], (raw, r.body)


def test_a_cursor_is_bound_to_its_tenant(api: Api, real_cursor: dict[str, Any]) -> None:
    _submit(api, api.key_b)
    # tenant B replays tenant A's cursor: refused, not a page of A's jobs nor a 500
    r = _page(api, api.key_b, _cursor(real_cursor))
    assert r.status == 400 and r.fields() == ["cursor"], r.body
    # rewritten into B's own partition it is only a position there: B sees B's jobs, never A's
    forged = {**real_cursor, "gsi1pk": {"S": "TENANT#tenant-b"}}
    r = api.call("GET", f"/v2/jobs?limit=100&cursor={_cursor(forged)}", token=api.key_b)
    assert r.status == 200, r.body
    assert all(api.store.get(i["jobId"]).tenant_id == "tenant-b" for i in r.body["items"])
