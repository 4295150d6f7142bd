"""Local mode's ``--no-auth``: requests without an ``Authorization`` header are served as the single
local tenant, as Phonexia's guides call their server (no header).

It is a wrapper of the API handler that local mode alone installs (``LocalConfig.no_auth``): a request
with no ``Authorization`` header gets the local tenant's own key added before the real handler runs,
so the API's authentication itself is unchanged (a wrong key is still a 401) and no code path of the
deployed API can skip it. Local mode serves on 127.0.0.1 only, and says loudly at start that anyone
who can reach that port acts as the local tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

WARNING = (
    "WARNING: --no-auth: requests without an Authorization header act as the local tenant. "
    "Local mode listens on 127.0.0.1 only; never expose this port."
)


def with_local_key(handler: LambdaHandler, api_key: str) -> LambdaHandler:
    """``handler`` with ``Authorization: Bearer <api_key>`` added to events that carry none."""

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = event.get("headers") or {}
        if not any(k.lower() == "authorization" for k in headers):
            value = f"Bearer {api_key}"
            event = {
                **event,
                "headers": {**headers, "Authorization": value},
                "multiValueHeaders": {**(event.get("multiValueHeaders") or {}), "Authorization": [value]},
            }
        return handler(event, context)

    return handle
