"""API keys: hashed at rest, the CLI, revocation, and the per-container cache."""

from __future__ import annotations

import hashlib
import json

import pytest

from diarist.adapters.aws import client
from diarist.cli import main
from tests.api.conftest import Api

pytestmark = pytest.mark.integration


def test_keys_cli_create_list_revoke(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--tenant", "acme", "--name", "ci", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    plaintext = created["api_key"]
    assert plaintext.startswith("dia_" + created["key_id"] + "_")
    # only the hash is stored, nowhere the plaintext
    items = client("dynamodb").scan(TableName=api.resources.table)["Items"]
    assert plaintext not in json.dumps(items)
    item = next(i for i in items if i["pk"]["S"] == "KEY#" + hashlib.sha256(plaintext.encode()).hexdigest())
    assert item["tenant_id"]["S"] == "acme" and item["name"]["S"] == "ci" and not item["revoked"]["BOOL"]

    assert api.call("GET", "/v2/jobs", token=plaintext).status == 200

    assert main(["keys", "list", "--tenant", "acme", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["key_id"] for k in listed] == [created["key_id"]] and "api_key" not in listed[0]
    assert main(["keys", "list", "--json"]) == 0
    assert {k["tenant"] for k in json.loads(capsys.readouterr().out)} == {"acme", "tenant-a", "tenant-b"}
    assert main(["keys", "list"]) == 0
    assert "acme" in capsys.readouterr().out

    assert main(["keys", "revoke", created["key_id"]]) == 0
    capsys.readouterr()
    # another container (the CLI's service) revoked it: this container's cache may still say yes
    # for up to DIARIST_APIKEY_CACHE_TTL_S; a fresh container says no at once
    from functions.api import deps

    deps.apikey_service().forget_cache()
    assert api.call("GET", "/v2/jobs", token=plaintext).status == 401
    assert main(["keys", "revoke", "ffffffff"]) == 1
    assert main(["keys", "create", "--tenant", "bad tenant!"]) == 2


def test_authenticate_caches_per_container(api: Api) -> None:
    from diarist.domain.errors import Unauthorized
    from diarist.services.apikeys import ApiKeyService

    class CountingStore:
        def __init__(self, inner):
            self.inner, self.gets = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def get(self, key_hash):
            self.gets += 1
            return self.inner.get(key_hash)

    from functions.api import deps

    now = [0.0]
    store = CountingStore(deps.apikey_service().store)
    svc = ApiKeyService(store, cache_ttl_s=30, clock=lambda: now[0])
    for _ in range(5):
        assert svc.authenticate(f"Bearer {api.key_a}") == "tenant-a"
    assert store.gets == 1
    bogus = "Bearer dia_00000000_" + "b" * 43
    for _ in range(3):
        with pytest.raises(Unauthorized):
            svc.authenticate(bogus)
    assert store.gets == 2  # invalid keys are cached too
    now[0] = 31.0
    svc.authenticate(f"Bearer {api.key_a}")
    assert store.gets == 3


def test_importing_a_fixed_key_is_idempotent(api: Api) -> None:
    from diarist.domain.errors import Conflict, ValidationFailed
    from functions.api import deps

    keys = deps.apikey_service()
    k1, p1 = keys.create("local", "local mode", plaintext="local-dev-key-0123456789")
    k2, p2 = keys.create("local", "local mode", plaintext="local-dev-key-0123456789")  # a restart
    assert p1 == p2 == "local-dev-key-0123456789" and k1.key_id == k2.key_id and k1.prefix == "loca…"
    assert api.call("GET", "/v2/jobs", token=p1).status == 200
    with pytest.raises(Conflict):
        keys.create("someone-else", plaintext="local-dev-key-0123456789")
    with pytest.raises(ValidationFailed):
        keys.create("local", plaintext="short")
    assert len(keys.list("local")) == 1


def test_keys_cli_makes_and_rotates_the_tenants_webhook_secret(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    from diarist import wiring
    from diarist.settings import forget_built

    forget_built()
    assert main(["keys", "create", "--tenant", "globex", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    secret = created["webhook_secret"]
    assert len(secret) >= 16
    assert wiring.signing_secrets().signing_secrets("globex")[0] == secret
    # a second key for the same tenant keeps the tenant's secret
    assert main(["keys", "create", "--tenant", "globex", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["webhook_secret"] == secret
    assert main(["keys", "webhook-secret", "--tenant", "globex"]) == 0
    assert capsys.readouterr().out.strip() == secret
    assert main(["keys", "webhook-secret", "--tenant", "globex", "--rotate"]) == 0
    rotated = capsys.readouterr().out.strip()
    assert rotated != secret
    forget_built()  # a new container reads both: the new one first, the old one still valid
    assert wiring.signing_secrets().signing_secrets("globex")[:2] == [rotated, secret]
    assert main(["keys", "webhook-secret", "--tenant", "no way"]) == 2


def test_a_revoked_key_works_until_its_cache_entry_expires(api: Api) -> None:
    """What docs/api.md promises: up to ``DIARIST_APIKEY_CACHE_TTL_S`` (30 s by default) per warm
    container after a revocation, not longer; 0 turns the cache off."""
    from diarist.domain.errors import Unauthorized
    from diarist.services.apikeys import ApiKeyService
    from diarist.settings import ApiSettings
    from functions.api import deps

    assert ApiSettings.model_fields["apikey_cache_ttl_s"].default == 30.0
    store = deps.apikey_service().store
    now = [0.0]
    warm = ApiKeyService(store, cache_ttl_s=30, clock=lambda: now[0])
    uncached = ApiKeyService(store, cache_ttl_s=0, clock=lambda: now[0])
    assert warm.authenticate(f"Bearer {api.key_a}") == "tenant-a"
    ApiKeyService(store).revoke(api.key_a.split("_")[1])
    with pytest.raises(Unauthorized):
        uncached.authenticate(f"Bearer {api.key_a}")
    now[0] = 29.9
    assert warm.authenticate(f"Bearer {api.key_a}") == "tenant-a"  # the documented window
    now[0] = 30.1
    with pytest.raises(Unauthorized):
        warm.authenticate(f"Bearer {api.key_a}")
