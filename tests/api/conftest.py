"""Fixtures for the API tests: the moto-backed environment, two tenants with keys, and ``call``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.events import LambdaContext, rest_event


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def fields(self) -> list[str]:
        """The ``field`` of each error (pyannote dialect)."""
        return [e["field"] for e in self.body.get("errors", [])]


@dataclass
class Api:
    resources: Any
    key_a: str
    key_b: str

    def call(self, method: str, path: str, *, token: str | None | bool = True, **kwargs: Any) -> Reply:
        from functions.api.handler import lambda_handler

        tok = self.key_a if token is True else (None if token is False else token)
        event = rest_event(method, path, token=tok, **kwargs)
        resp = lambda_handler(event, LambdaContext())
        body = resp.get("body")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
        for k, vs in (resp.get("multiValueHeaders") or {}).items():
            headers.setdefault(k.lower(), vs[0])
        return Reply(resp["statusCode"], headers, parsed, resp)

    @property
    def store(self):  # type: ignore[no-untyped-def]
        from functions.api import deps

        return deps.job_service().store

    def queue_messages(self) -> list[dict[str, Any]]:
        from diarist.adapters.aws import client

        msgs = (
            client("sqs")
            .receive_message(QueueUrl=self.resources.job_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            .get("Messages", [])
        )
        return [json.loads(m["Body"]) for m in msgs]


@pytest.fixture
def api(aws) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    from functions.api import deps

    deps.reset()
    keys = deps.apikey_service()
    _, key_a = keys.create("tenant-a", "test A")
    _, key_b = keys.create("tenant-b", "test B")
    yield Api(aws, key_a, key_b)
    deps.reset()
