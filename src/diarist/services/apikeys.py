"""API keys and tenants: a Bearer key names its tenant.

Keys are stored only as SHA-256 hashes (``pk = KEY#<sha256hex>``, see
``adapters.dynamo_apikeys.DynamoApiKeyStore``); the plaintext is shown once, by ``create``. A key looks
like ``dia_<key_id>_<secret>``: ``key_id`` (8 hex digits) is what ``list`` shows and ``revoke``
takes, the secret is 43 url-safe characters (256 bits). A tenant exists as long as it has a key.
``create(..., plaintext=...)`` imports a key chosen elsewhere (local mode), idempotently.

``authenticate`` caches its answers (valid and invalid) for ``cache_ttl_s`` per warm container, so
a revoked key stops working within that time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from diarist.domain.errors import Conflict, DiaristError, Unauthorized, ValidationFailed
from diarist.domain.jobs import utcnow
from diarist.domain.tenants import TENANT_ID_RULE, is_tenant_id
from diarist.ports import ApiKeyStore

KEY_PREFIX = "dia_"
_OUR_KEY_RE = re.compile(r"^dia_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")  # what create() makes
_TOKEN_RE = re.compile(r"^[\x21-\x7e]{16,256}$")  # anything else is not worth a lookup
_CACHE_MAX = 4096


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    tenant_id: str
    name: str
    prefix: str
    created_at: str
    revoked: bool
    key_hash: str

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> ApiKey:
        return cls(
            key_id=r["key_id"],
            tenant_id=r["tenant_id"],
            name=r.get("name") or "",
            prefix=r.get("prefix") or "",
            created_at=str(r.get("created_at") or ""),
            revoked=bool(r.get("revoked")),
            key_hash=r["key_hash"],
        )


class KeyNotFound(DiaristError):
    """No API key with this id."""


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def check_tenant_id(tenant_id: str) -> str:
    """Tenant ids end up in S3 keys and DynamoDB keys: keep them plain."""
    if not is_tenant_id(tenant_id):
        raise ValidationFailed([{"field": "tenant", "message": TENANT_ID_RULE}])
    return tenant_id


class ApiKeyService:
    def __init__(
        self, store: ApiKeyStore, *, cache_ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[str | None, float]] = {}

    # -- admin (CLI) -------------------------------------------------------------------------------
    def create(self, tenant_id: str, name: str = "", *, plaintext: str | None = None) -> tuple[ApiKey, str]:
        """A new key for the tenant. Returns (record, plaintext); the plaintext is not stored.

        ``plaintext`` imports a key chosen elsewhere (local mode's fixed key): 16-256 printable
        ASCII characters. Importing a key the tenant already has returns the existing record."""
        check_tenant_id(tenant_id)
        if plaintext is None:
            key_id = secrets.token_hex(4)
            plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        else:
            if not _TOKEN_RE.match(plaintext):
                raise ValidationFailed([{"field": "api_key", "message": "16-256 printable ASCII characters"}])
            ours = _OUR_KEY_RE.match(plaintext)
            key_id = ours.group(1) if ours else secrets.token_hex(4)
        key_hash = hash_key(plaintext)
        existing = self.store.get(key_hash)
        if existing is not None:
            if existing["tenant_id"] != tenant_id or existing.get("revoked"):
                raise Conflict("this API key is already registered")
            return ApiKey.from_record(existing), plaintext
        record = {
            "key_id": key_id,
            "tenant_id": tenant_id,
            "name": name[:200],
            "prefix": (plaintext[:17] if plaintext.startswith(KEY_PREFIX) else plaintext[:4]) + "…",
            "created_at": utcnow().isoformat(),
            "revoked": False,
        }
        self.store.put(key_hash, record)
        return ApiKey.from_record({**record, "key_hash": key_hash}), plaintext

    def list(self, tenant_id: str | None = None) -> list[ApiKey]:
        return [ApiKey.from_record(r) for r in self.store.list(tenant_id)]

    def revoke(self, key_id: str) -> ApiKey:
        for key in self.list():
            if key.key_id == key_id:
                rec = self.store.set_revoked(key.key_hash, utcnow().isoformat())
                self._cache.pop(key.key_hash, None)
                return ApiKey.from_record(rec)
        raise KeyNotFound(f"no API key with id {key_id}")

    # -- the API -----------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> str:
        """``Authorization: Bearer <key>`` -> tenant id. Raises Unauthorized (401)."""
        if not authorization:
            raise Unauthorized("missing Authorization header (expected 'Bearer <API key>')")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Authorization header must be 'Bearer <API key>'")
        if not _TOKEN_RE.match(token):
            raise Unauthorized("invalid API key")
        key_hash = hash_key(token)
        now = self._clock()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[1] > now:
            tenant = cached[0]
        else:
            record = self.store.get(key_hash)
            tenant = record["tenant_id"] if record and not record.get("revoked") else None
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key_hash] = (tenant, now + self.cache_ttl_s)
        if tenant is None:
            raise Unauthorized("invalid or revoked API key")
        return tenant

    def forget_cache(self) -> None:
        self._cache.clear()
