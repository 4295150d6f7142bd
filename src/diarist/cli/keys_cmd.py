"""``diarist keys create | list | revoke | webhook-secret``: API keys (and so tenants), straight in
the table, and each tenant's webhook signing secret in Secrets Manager.

Uses ``DIARIST_TABLE_NAME``, ``DIARIST_WEBHOOK_SECRET_PREFIX`` (default ``diarist/webhook/``) and the
usual AWS environment (``AWS_ENDPOINT_URL`` for local mode), or all of them from ``--env-file``
(``diarist local`` writes ``<data dir>/local.env``; ``cli.env_file``). The plaintext key is printed once, by
``create``; only its SHA-256 hash is stored. ``create`` also makes the tenant's signing secret
when the tenant has none yet.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from diarist.cli import env_file


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    common = [env_file.parent()]

    p = ksub.add_parser("create", help="create a key for a tenant (printed once)", parents=common)
    p.add_argument("--tenant", required=True, help="tenant id: letters, digits, '-' and '_'")
    p.add_argument("--name", default="", help="a label shown by 'keys list'")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_create)

    p = ksub.add_parser("list", help="list keys (never their plaintext)", parents=common)
    p.add_argument("--tenant", help="only this tenant's keys")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_list)

    p = ksub.add_parser("revoke", help="revoke a key by its id (as 'keys list' shows it)", parents=common)
    p.add_argument("key_id")
    p.set_defaults(func=_revoke)

    p = ksub.add_parser(
        "webhook-secret", help="show (or rotate) a tenant's webhook signing secret", parents=common
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--rotate", action="store_true", help="new secret; the old one stays valid 24 h")
    p.set_defaults(func=_webhook_secret)


def _service() -> Any:
    from diarist.adapters.dynamo_apikeys import DynamoApiKeyStore
    from diarist.services.apikeys import ApiKeyService

    return ApiKeyService(DynamoApiKeyStore(env_file.table_name("diarist keys")))


def _record(key: Any) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "tenant": key.tenant_id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at,
        "revoked": key.revoked,
    }


def _create(args: argparse.Namespace) -> int:
    env_file.apply(args, "diarist keys")
    from diarist.domain.errors import ValidationFailed

    try:
        key, plaintext = _service().create(args.tenant, args.name)
    except ValidationFailed as e:
        print(f"diarist keys create: {e}", file=sys.stderr)
        return 2
    from diarist.wiring import ensure_signing_secret

    secret = ensure_signing_secret(key.tenant_id)
    if args.json:
        print(json.dumps({**_record(key), "api_key": plaintext, "webhook_secret": secret}))
    else:
        print(f"key id:  {key.key_id}\ntenant:  {key.tenant_id}\napi key: {plaintext}")
        print(f"webhook signing secret: {secret}")
        print("Store the API key now: it is not shown again (only its hash is kept).", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    env_file.apply(args, "diarist keys")
    keys = _service().list(args.tenant)
    if args.json:
        print(json.dumps([_record(k) for k in keys]))
        return 0
    print(f"{'KEY ID':<10} {'TENANT':<24} {'PREFIX':<20} {'CREATED':<33} {'STATUS':<8} NAME")
    for k in keys:
        status = "revoked" if k.revoked else "active"
        print(f"{k.key_id:<10} {k.tenant_id:<24} {k.prefix:<20} {k.created_at:<33} {status:<8} {k.name}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    env_file.apply(args, "diarist keys")
    from diarist.services.apikeys import KeyNotFound

    try:
        key = _service().revoke(args.key_id)
    except KeyNotFound as e:
        print(f"diarist keys revoke: {e}", file=sys.stderr)
        return 1
    print(f"revoked {key.key_id} (tenant {key.tenant_id})")
    return 0


def _webhook_secret(args: argparse.Namespace) -> int:
    env_file.apply(args, "diarist keys")
    from diarist.domain.errors import ValidationFailed
    from diarist.services.apikeys import check_tenant_id
    from diarist.wiring import ensure_signing_secret, rotate_signing_secret

    try:
        tenant = check_tenant_id(args.tenant)
    except ValidationFailed as e:
        print(f"diarist keys webhook-secret: {e}", file=sys.stderr)
        return 2
    secret = rotate_signing_secret(tenant) if args.rotate else ensure_signing_secret(tenant)
    print(secret)
    if args.rotate:
        print("The previous secret stays valid for 24 h (sent as X-Signature-Previous).", file=sys.stderr)
    return 0
