"""``diarist tenants show | set-limits``: a tenant's limits (``services.limits``), straight in the
table, like ``diarist keys``.

``show`` prints the limits in effect (the tenant's override, else the default) and the current
usage: active jobs (after giving back the slots of jobs that ended) and requests counted in this
minute. ``set-limits`` stores overrides; ``default`` (or ``--clear-...``) removes one, so the
deployment's default applies again; ``0`` means no limit. The defaults shown are this shell's
``DIARIST_MAX_ACTIVE_JOBS_PER_TENANT`` / ``DIARIST_REQUESTS_PER_MINUTE_PER_TENANT`` (or their
built-in values): set them as the stack does. Uses ``DIARIST_TABLE_NAME`` and the AWS environment,
or ``--env-file`` (``diarist local`` writes ``<data dir>/local.env``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from diarist.cli import env_file

COMMAND = "diarist tenants"
_DEFAULT = "default"


def _limit(text: str) -> int | str:
    """A limit on the command line: a non-negative integer, or ``default`` (remove the override)."""
    if text.strip().lower() == _DEFAULT:
        return _DEFAULT
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or 'default': {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, not {value}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = sub.add_parser("tenants", help="show and set a tenant's limits (active jobs, requests/min)")
    tsub = tenants.add_subparsers(dest="tenants_command", metavar="ACTION", required=True)
    common = [env_file.parent()]

    p = tsub.add_parser("show", help="limits in effect and current usage", parents=common)
    p.add_argument("--tenant", required=True)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_show)

    p = tsub.add_parser(
        "set-limits",
        help="override a tenant's limits (0 = no limit, 'default' = the deployment's default)",
        parents=common,
    )
    p.add_argument("--tenant", required=True)
    p.add_argument(
        "--max-active-jobs", type=_limit, metavar="N|default", help="jobs pending or running at once"
    )
    p.add_argument("--requests-per-minute", type=_limit, metavar="N|default", help="API requests per minute")
    p.add_argument("--clear", action="store_true", help="remove both overrides (the defaults apply)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_set_limits)


def _service() -> Any:
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.dynamo_tenants import DynamoTenantStore
    from diarist.services.limits import TenantLimitService
    from diarist.settings import TenantLimitSettings, load

    table = env_file.table_name(COMMAND)
    try:
        defaults = load(TenantLimitSettings).tenant_limits()
    except ValueError as e:  # pydantic's ValidationError names the variable
        raise SystemExit(f"{COMMAND}: {e}") from None
    return TenantLimitService(
        tenants=DynamoTenantStore(table), jobs=DynamoJobStore(table), defaults=defaults, cache_ttl_s=0
    )


def _shown(value: int | None) -> str:
    return "no limit" if value == 0 else ("-" if value is None else str(value))


def _show(args: argparse.Namespace) -> int:
    from diarist.domain.errors import ValidationFailed

    env_file.apply(args, COMMAND)
    try:
        u = _service().usage(args.tenant)
    except ValidationFailed as e:
        print(f"{COMMAND} show: {e}", file=sys.stderr)
        return 2
    rows = [
        (
            "max_active_jobs",
            u.in_effect.max_active_jobs,
            u.overrides.max_active_jobs,
            u.defaults.max_active_jobs,
            u.active_jobs,
        ),
        (
            "requests_per_minute",
            u.in_effect.requests_per_minute,
            u.overrides.requests_per_minute,
            u.defaults.requests_per_minute,
            u.requests_this_minute,
        ),
    ]
    if args.json:
        out = {
            name: {"in_effect": eff, "override": over, "default": default, "used": used}
            for name, eff, over, default, used in rows
        }
        print(json.dumps({"tenant": u.tenant_id, **out, "window_reset_at": u.window_reset_at}))
        return 0
    reset = datetime.fromtimestamp(u.window_reset_at, UTC).strftime("%H:%M:%S UTC")
    print(f"tenant: {u.tenant_id}")
    print(f"{'LIMIT':<21} {'IN EFFECT':<10} {'FROM':<9} {'DEFAULT':<9} USED")
    for name, eff, over, default, used in rows:
        source = "override" if over is not None else "default"
        print(f"{name:<21} {_shown(eff):<10} {source:<9} {_shown(default):<9} {used}")
    print(f"(requests are counted per UTC minute; this one ends at {reset})")
    return 0


def _set_limits(args: argparse.Namespace) -> int:
    from diarist.domain.errors import ValidationFailed

    env_file.apply(args, COMMAND)
    given = {"max_active_jobs": args.max_active_jobs, "requests_per_minute": args.requests_per_minute}
    if args.clear:
        if any(v is not None for v in given.values()):
            print(
                f"{COMMAND} set-limits: --clear removes both overrides: give no limit with it",
                file=sys.stderr,
            )
            return 2
        given = dict.fromkeys(given, _DEFAULT)
    if all(v is None for v in given.values()):
        print(
            f"{COMMAND} set-limits: give --max-active-jobs and/or --requests-per-minute (N or 'default'), or --clear",
            file=sys.stderr,
        )
        return 2
    values = {k: v for k, v in given.items() if isinstance(v, int)}
    clear = tuple(k for k, v in given.items() if v == _DEFAULT)
    try:
        stored = _service().set_limits(args.tenant, clear=clear, **values)
    except ValidationFailed as e:
        print(f"{COMMAND} set-limits: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "tenant": args.tenant,
                    "max_active_jobs": stored.max_active_jobs,
                    "requests_per_minute": stored.requests_per_minute,
                }
            )
        )
        return 0
    print(f"tenant {args.tenant}: overrides now")
    print(
        f"  max_active_jobs:     {_shown(stored.max_active_jobs) if stored.max_active_jobs is not None else 'default'}"
    )
    print(
        "  requests_per_minute: "
        f"{_shown(stored.requests_per_minute) if stored.requests_per_minute is not None else 'default'}"
    )
    print("(the API reads overrides at most every DIARIST_TENANT_LIMITS_CACHE_TTL_S, 10 s)", file=sys.stderr)
    return 0
