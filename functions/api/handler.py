"""API Lambda: API Gateway REST proxy -> Powertools resolver -> one service call per route.

Routes live in ``routes_pyannote`` and ``routes_phonexia``, the web console's in ``routes_console``;
typed errors become HTTP in ``errors.install``; ``http.guard`` authenticates and checks the body
before validation (the console's public routes skip it). Logger, tracer and metrics are
``diarist.observability``'s: the X-Ray trace of a submission goes on through the job queue to the
dispatcher.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from diarist.observability import logger, metrics, request_context, tracer
from functions.api import deps, errors, routes_console, routes_phonexia, routes_pyannote
from functions.api.http import GuardedValidation

app = APIGatewayRestResolver(enable_validation=True)
# Auth and body checks run before Powertools' validation (401 before 400; no 500 on odd bodies).
# Powertools (3.x) puts this middleware first in every route's chain; fail at import if it moved.
if not hasattr(app, "_request_validation_middleware"):  # pragma: no cover
    raise RuntimeError("aws-lambda-powertools changed: no _request_validation_middleware to guard")
app._request_validation_middleware = GuardedValidation()
app.include_router(routes_pyannote.router)
app.include_router(routes_phonexia.router)
app.include_router(routes_console.router)
errors.install(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # responses may be larger than a trace segment
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps.settings()  # cold start: fail fast, naming any missing DIARIST_* variable
    with request_context():
        return app.resolve(event, context)
