"""The one place where errors become HTTP responses.

/v1 and /v2 routes answer pyannoteAI's error body for every status: ``{"message", "errors":
[{"field", "message"}]}`` (``message`` is one line: for a 400, ``invalid request: <first field>:
<its message>``); a 429 adds ``requestId`` (the API Gateway request id), and the headers
``Retry-After`` (seconds) and ``X-RateLimit-Reset`` (UTC epoch seconds when to retry: the end of
the request window for the requests-per-minute limit). Every response to an authenticated request
of a tenant with a request limit carries ``X-RateLimit-Limit`` / ``-Remaining`` (``http.guard``),
a 429 too (``0`` remaining when the request limit refused it). The Phonexia routes answer a 429
in Phonexia's shape with the same headers.
The Phonexia routes answer Phonexia's ``{"type", "title", "detail": [...]}``.
Bad input is always a 4xx: anything unexpected is logged and becomes a plain 500.
"""

from __future__ import annotations

import logging
import time
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from diarist.domain.errors import (
    Conflict,
    DiaristError,
    InvalidTransition,
    JobNotFound,
    PayloadTooLarge,
    Throttled,
    Unauthorized,
    ValidationFailed,
)
from diarist.domain.limits import RateWindow
from diarist.observability import metrics
from diarist.services.apikeys import KeyNotFound
from diarist.services.limits import RequestRateExceeded
from diarist.services.submission import QueueUnavailable

log = logging.getLogger(__name__)

PHONEXIA_PREFIX = "/api/technology/"
_AWS_THROTTLING = {
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "TooManyRequestsException",
}


def field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    """Powertools/pydantic ``loc`` -> the field name the client sent (``("body","numSpeakers")`` ->
    ``numSpeakers``; ``("body","voiceprints",3,"label")`` -> ``voiceprints[3].label``;
    ``("header","idempotency-key")`` -> ``Idempotency-Key``)."""
    loc = list(loc)
    where = loc[0] if loc else "body"
    rest = loc[1:]
    if where == "header" and rest:
        return "-".join(w.capitalize() for w in str(rest[0]).split("-"))
    if where in ("body", "query", "path", "header", "cookie"):
        return _path(rest) if rest else "body"
    return _path(loc)


def _path(parts: list[Any]) -> str:
    out = ""
    for x in parts:
        if isinstance(x, int):
            out += f"[{x}]"
        else:
            out += f".{x}" if out else str(x)
    return out


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    if kind == "json_invalid":
        return "malformed JSON"
    return str(err.get("msg") or kind or "invalid")


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        out.append({"field": field_of(err.get("loc", ())), "message": _message(err)})
    return out or [{"field": "body", "message": "invalid request"}]


def _line(error: dict[str, str]) -> str:
    return f"{error['field']}: {error['message']}" if error.get("field") else error["message"]


def summary(status: int, errors: list[dict[str, str]]) -> str:
    """The one-line ``message`` of a /v1 or /v2 error body: for a 400, ``invalid request: <first
    field>: <its message>``; else the first error's message."""
    if not errors:
        return HTTPStatus(status).phrase.lower()
    return f"invalid request: {_line(errors[0])}" if status == 400 else errors[0]["message"]


def _request_id(app: APIGatewayRestResolver) -> str | None:
    """API Gateway's request id (the one in its access logs), else the Lambda invocation's."""
    event = app.current_event
    request_id: Any = event.request_context.request_id if event is not None else None
    if not request_id:
        request_id = getattr(getattr(app, "lambda_context", None), "aws_request_id", None)
    return str(request_id) if request_id else None


def render(
    app: APIGatewayRestResolver,
    status: int,
    errors: list[dict[str, str]],
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    metrics.add_metric(
        name="ClientErrors" if status < 500 else "ServerErrors", unit=MetricUnit.Count, value=1
    )
    path = app.current_event.path if app.current_event else ""
    if path.startswith(PHONEXIA_PREFIX):
        phrase = HTTPStatus(status).phrase
        body: dict[str, Any] = {
            "type": phrase.lower().replace(" ", "_"),
            "title": phrase,
            "detail": [_line(e) for e in errors],
        }
    else:
        body = {"message": summary(status, errors), "errors": errors}
        if status == 429 and (request_id := _request_id(app)):
            body["requestId"] = request_id
    headers = {**rate_headers(app.context.get("rate_window")), **(headers or {})}
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def rate_headers(window: RateWindow | None) -> dict[str, str]:
    """pyannoteAI's ``X-RateLimit-Limit`` and ``-Remaining`` of the caller's request window, on
    every response to an authenticated request while the tenant has a request limit."""
    if window is None:
        return {}
    return {"X-RateLimit-Limit": str(window.limit), "X-RateLimit-Remaining": str(window.remaining)}


def retry_headers(
    retry_after_s: int, *, now: float | None = None, reset_at: int | None = None
) -> dict[str, str]:
    """``Retry-After`` and pyannoteAI's ``X-RateLimit-Reset`` (UTC epoch seconds) for a 429."""
    reset = reset_at if reset_at is not None else int(time.time() if now is None else now) + retry_after_s
    return {"Retry-After": str(retry_after_s), "X-RateLimit-Reset": str(reset)}


def install(app: APIGatewayRestResolver) -> None:
    """Register every exception handler on ``app``."""

    @app.exception_handler(ValidationFailed)
    def _validation_failed(e: ValidationFailed) -> Response:
        return render(app, 400, e.errors)

    @app.exception_handler(RequestValidationError)
    def _request_validation(e: RequestValidationError) -> Response:
        return render(app, 400, validation_errors(e))

    @app.exception_handler(RequestUnsupportedContentType)
    def _content_type(e: RequestUnsupportedContentType) -> Response:
        return render(app, 400, [{"field": "Content-Type", "message": "must be application/json"}])

    @app.exception_handler(Unauthorized)
    def _unauthorized(e: Unauthorized) -> Response:
        return render(
            app,
            401,
            [{"field": "Authorization", "message": e.message}],
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler([JobNotFound, KeyNotFound])
    def _not_found(e: DiaristError) -> Response:
        return render(app, 404, [{"field": getattr(e, "field", "jobId"), "message": e.message}])

    @app.exception_handler(NotFoundError)
    def _no_route(e: NotFoundError) -> Response:
        return render(app, 404, [{"field": "path", "message": "no such route"}])

    @app.exception_handler([Conflict, InvalidTransition])
    def _conflict(e: DiaristError) -> Response:
        return render(app, 409, [{"field": getattr(e, "field", "jobId"), "message": e.message}])

    @app.exception_handler(PayloadTooLarge)
    def _too_large(e: PayloadTooLarge) -> Response:
        return render(app, 413, [{"field": "body", "message": e.message}])

    @app.exception_handler(Throttled)
    def _throttled(e: Throttled) -> Response:
        headers = retry_headers(e.retry_after_s, reset_at=e.reset_at)
        if isinstance(e, RequestRateExceeded):
            headers.update(rate_headers(e.window))
        return render(app, 429, [{"field": "", "message": e.message}], headers=headers)

    @app.exception_handler(QueueUnavailable)
    def _queue_down(e: QueueUnavailable) -> Response:
        return render(
            app, 503, [{"field": "", "message": e.message}], headers={"Retry-After": str(e.retry_after_s)}
        )

    @app.exception_handler(ClientError)
    def _aws(e: ClientError) -> Response:
        if e.response.get("Error", {}).get("Code") in _AWS_THROTTLING:
            return render(
                app,
                429,
                [{"field": "", "message": "too many requests; retry later"}],
                headers=retry_headers(1),
            )
        log.exception("AWS call failed")
        return render(app, 500, [{"field": "", "message": "internal error"}])

    @app.exception_handler(Exception)
    def _unexpected(e: Exception) -> Response:
        log.exception("unhandled error")
        return render(app, 500, [{"field": "", "message": "internal error"}])
