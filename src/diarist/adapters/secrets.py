"""Webhook signing secrets in AWS Secrets Manager (``ports.SecretStore``).

One secret per tenant, named ``<prefix><tenant>`` (prefix: ``DIARIST_WEBHOOK_SECRET_PREFIX``,
default ``diarist/webhook/``), holding JSON::

    {"current": "whsec_...", "previous": "whsec_..." | null, "previousValidUntil": <epoch s> | null}

Deliveries are signed with ``current`` and, until ``previousValidUntil``, also with ``previous``
(header ``X-Signature-Previous``), so receivers can switch secrets without losing a delivery.
Reads are cached per warm container for ``ttl_s`` (default 60 s): after a rotation other warm
containers keep signing with the old ``current`` for at most that long, which the grace period
covers.
"""

from __future__ import annotations

import json
import re
import secrets as _random
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client

DEFAULT_TTL_S = 60.0
DEFAULT_GRACE_S = 24 * 3600
_TENANT_RE = re.compile(r"^[A-Za-z0-9_+=.@-]{1,128}$")


class SigningSecretMissing(LookupError):
    """The tenant has no signing secret yet (``ensure_signing_secret`` creates one)."""


def new_secret() -> str:
    return "whsec_" + _random.token_urlsafe(32)


class SecretsManagerSecretStore:
    def __init__(
        self,
        prefix: str,
        sm: Any | None = None,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.prefix = prefix
        self._sm = sm or client("secretsmanager")
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def name_for(self, tenant_id: str) -> str:
        if not _TENANT_RE.match(tenant_id):
            raise ValueError(f"tenant id {tenant_id!r} cannot name a secret")
        return self.prefix + tenant_id

    # -- reading -------------------------------------------------------------------------------
    def _load(self, tenant_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(tenant_id)
            if hit and not fresh and now - hit[0] < self._ttl_s:
                return hit[1]
        try:
            resp = self._sm.get_secret_value(SecretId=self.name_for(tenant_id))
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        value = json.loads(resp["SecretString"])
        if not isinstance(value, dict) or not value.get("current"):
            raise ValueError(f"secret {self.name_for(tenant_id)} is not a Diarist signing secret")
        with self._lock:
            self._cache[tenant_id] = (now, value)
        return value

    def signing_secrets(self, tenant_id: str) -> list[str]:
        """Current secret first, then the previous one while its grace period lasts."""
        value = self._load(tenant_id)
        if value is None:
            raise SigningSecretMissing(f"no webhook signing secret for tenant {tenant_id}")
        out = [str(value["current"])]
        previous, until = value.get("previous"), value.get("previousValidUntil")
        if previous and (until is None or self._clock() < float(until)):
            out.append(str(previous))
        return out

    def invalidate(self, tenant_id: str | None = None) -> None:
        with self._lock:
            if tenant_id is None:
                self._cache.clear()
            else:
                self._cache.pop(tenant_id, None)

    # -- writing (API-key CLI, local mode) -------------------------------------------------------
    def _put(self, tenant_id: str, value: dict[str, Any], *, create: bool) -> None:
        body = json.dumps(value)
        if create:
            self._sm.create_secret(
                Name=self.name_for(tenant_id),
                SecretString=body,
                Description=f"Diarist webhook signing secret for tenant {tenant_id}",
                Tags=[{"Key": "diarist:tenant", "Value": tenant_id}],
            )
        else:
            self._sm.put_secret_value(SecretId=self.name_for(tenant_id), SecretString=body)
        self.invalidate(tenant_id)

    def ensure(self, tenant_id: str, *, secret: str | None = None) -> str:
        """The tenant's current secret, created if it has none. Safe to call twice (races too).

        ``secret`` (local mode, tests) chooses the value: created with it, or made current in
        place of a different one (without a grace period: use ``rotate`` for live receivers).
        """
        if secret is not None and not secret.strip():
            raise ValueError("a webhook signing secret cannot be empty")
        value = self._load(tenant_id, fresh=True)
        if value is not None:
            if secret is not None and value["current"] != secret:
                self._put(tenant_id, {"current": secret, "previous": None}, create=False)
                return secret
            return str(value["current"])
        try:
            self._put(tenant_id, {"current": secret or new_secret(), "previous": None}, create=True)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceExistsException":
                raise
        value = self._load(tenant_id, fresh=True)
        assert value is not None
        return str(value["current"])

    def rotate(self, tenant_id: str, *, grace_s: float = DEFAULT_GRACE_S) -> str:
        """Make a new current secret; the old one stays valid (and is still signed with) for
        ``grace_s`` seconds. Returns the new secret."""
        value = self._load(tenant_id, fresh=True)
        if value is None:
            return self.ensure(tenant_id)
        fresh = new_secret()
        self._put(
            tenant_id,
            {
                "current": fresh,
                "previous": value["current"],
                "previousValidUntil": int(self._clock() + grace_s),
            },
            create=False,
        )
        return fresh
