"""The web console: ``GET /`` (the page) and ``GET /console/<name>``, ``/console/vendor/<name>``
(its script, style and the vendored wavesurfer.js), from the package's files (``diarist.console``).

Public routes (``http.public``): no API key, since the page asks for it; the key then lives in the
browser's ``sessionStorage`` and goes only to this same origin's API. Every answer carries the
console's Content-Security-Policy (``services.console``; a fresh style nonce per response),
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and no-framing headers. A name
that is not a shipped file is a 404 (``diarist.console.asset``: a lookup, never a path join).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Path

from diarist import console
from functions.api import deps
from functions.api.http import public

router = Router()

AssetName = Annotated[str, Path(alias="name", min_length=1, max_length=128, description="A console file")]


def _serve(found: console.Asset | None, nonce: str | None = None) -> Response:
    if found is None:
        raise NotFoundError("no such console file")
    nonce = nonce or secrets.token_urlsafe(18)
    return Response(
        status_code=200,
        content_type=found.content_type,
        body=found.body,
        headers={
            "Content-Security-Policy": deps.console_policy().content_security_policy(nonce),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
        },
    )


@router.get(public("/"), include_in_schema=False)  # a page, not part of the API's document
def page():
    nonce = secrets.token_urlsafe(18)
    return _serve(console.page(nonce), nonce)


@router.get(public("/console/<name>"), include_in_schema=False)
def console_file(name: AssetName):
    return _serve(console.asset(name))


@router.get(public("/console/vendor/<name>"), include_in_schema=False)
def vendor_file(name: AssetName):
    return _serve(console.asset(f"vendor/{name}"))
