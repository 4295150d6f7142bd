"""Small helpers the route modules share: the caller's tenant, the scope of a request about one
job, JSON responses, and the guard that runs before validation (auth, body size, base64, JSON
syntax).

Limits: ``guard`` counts each authenticated request against the tenant's requests per minute
(``services.limits``; over it: ``RequestRateExceeded``, a 429) and every response to it, errors
included (``errors.render``), carries ``X-RateLimit-Limit`` / ``-Remaining`` while the tenant has
a request limit.

Logging: ``guard`` appends the tenant id to every line of the request once it is authenticated;
a route about a job runs its service call in ``job_scope``, so every line written meanwhile (the
services' too) carries ``job_id`` and ``tenant_id`` (``diarist.observability``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from pydantic import BaseModel

from diarist.domain.errors import PayloadTooLarge, Unauthorized, ValidationFailed
from diarist.observability import job_context, tag_tenant
from diarist.resources import API_GATEWAY_MAX_BODY_BYTES
from functions.api import deps
from functions.api.errors import rate_headers

MAX_BODY_BYTES = API_GATEWAY_MAX_BODY_BYTES
TOO_LARGE = (
    "request body over 10 MB: upload large files with POST /v1/media/input (a presigned PUT URL), "
    "then submit media://<key>"
)


_PUBLIC_PATHS: set[str] = set()


def public(path: str) -> str:
    """Mark the route ``path`` as public (the console's page and files): ``guard`` lets it through
    without an API key. Returns ``path``, for ``@router.get(public("/"))``."""
    _PUBLIC_PATHS.add(path)
    return path


def tenant(router: BaseRouter) -> str:
    """The caller's tenant, set by ``guard``. Never guess: no tenant, no access."""
    tenant_id = router.context.get("tenant_id")
    if not tenant_id:
        raise Unauthorized("not authenticated")
    return str(tenant_id)


@contextmanager
def job_scope(router: BaseRouter, job_id: str) -> Iterator[str]:
    """The caller's tenant, for a request about the job ``job_id``: every line logged inside
    carries both ids (``observability.job_context``)."""
    tenant_id = tenant(router)
    with job_context(job_id, tenant_id):
        yield tenant_id


def raw_body(router: BaseRouter) -> bytes:
    return bytes(router.context.get("raw_body", b""))


def json_response(
    body: BaseModel | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


class DuplicateKey(ValueError):
    """A JSON object names the same key twice (which one counts is parser-dependent: refused)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKey(key)
        obj[key] = value
    return obj


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses a key repeated in any object (``DuplicateKey``, a ValueError)."""
    return json.loads(text, object_pairs_hook=_unique_keys)


def guard(app: BaseRouter) -> None:
    """Auth first (401 before any 400), then the body: size (413), base64, and for JSON routes the
    content type and JSON syntax (a key repeated in an object is a 400 naming it), so that
    Powertools' validation never meets a body it would 500 on. A ``public`` route (GET only, no
    body) skips all of it."""
    ev = app.current_event
    route = app.context.get("_route")
    if route is not None and route.path in _PUBLIC_PATHS and route.method == "GET":
        return
    tenant_id = deps.apikey_service().authenticate(ev.headers.get("authorization"))
    app.append_context(tenant_id=tenant_id)
    tag_tenant(tenant_id)
    # the tenant's requests per minute (services.limits): over it, a 429 before anything else
    app.append_context(rate_window=deps.limits().admit_request(tenant_id))

    raw = ev.body
    if raw is None:
        data = b""
    elif ev.is_base64_encoded:
        if len(raw) > MAX_BODY_BYTES * 4 // 3 + 4:
            raise PayloadTooLarge(TOO_LARGE)
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed(
                [{"field": "body", "message": "isBase64Encoded body is not valid base64"}]
            ) from None
    else:
        data = raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(TOO_LARGE)
    app.append_context(raw_body=data)

    if route is None or not route.dependant.body_params:
        return
    ctype = ev.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype != "application/json":
        raise ValidationFailed([{"field": "Content-Type", "message": "must be application/json"}])
    try:
        text = data.decode("utf-8")
        parsed = loads_strict(text) if text.strip() else None
    except DuplicateKey as e:
        raise ValidationFailed(
            [{"field": e.key, "message": f"{e.key!r} appears more than once in the JSON body"}]
        ) from None
    except (ValueError, RecursionError):  # UnicodeDecodeError, JSONDecodeError, int too long ...
        raise ValidationFailed([{"field": "body", "message": "malformed JSON"}]) from None
    # Powertools reads these cached properties: hand it what was checked here.
    ev.__dict__["decoded_body"] = text
    ev.__dict__["json_body"] = parsed


class GuardedValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, with ``guard`` in front of it."""

    def handler(self, app, next_middleware):
        guard(app)
        response = super().handler(app, next_middleware)
        response.headers.update(rate_headers(app.context.get("rate_window")))
        return response
