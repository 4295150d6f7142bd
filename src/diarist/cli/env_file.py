"""``--env-file``: the admin commands (``diarist keys``, ``diarist tenants``) against a running local
mode, or any deployment, with the variables of a dotenv file.

``diarist local`` writes ``<data dir>/local.env`` (``diarist.local.runtime``): the emulator's
endpoint, dummy credentials, the region and every ``DIARIST_*`` name the functions read. The file's
values override the shell's for this command only (nothing is exported to the parent shell).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ENV_FILE_HELP = (
    "read the AWS endpoint, credentials and DIARIST_* names from this dotenv file "
    "(diarist local writes DATA_DIR/local.env)"
)


def parent() -> argparse.ArgumentParser:
    """A parent parser adding ``--env-file`` to a subcommand."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--env-file", type=Path, metavar="PATH", help=ENV_FILE_HELP)
    return p


def apply(args: argparse.Namespace, command: str) -> None:
    """Load ``args.env_file`` (if given) into this process' environment; a missing or unreadable
    file, or one without a single variable, stops the command naming the file."""
    path: Path | None = getattr(args, "env_file", None)
    if path is None:
        return
    from dotenv import dotenv_values

    if not path.is_file():
        raise SystemExit(
            f"{command}: --env-file {path}: no such file (diarist local --data-dir D writes D/local.env)"
        )
    try:
        values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"{command}: --env-file {path}: {e}") from None
    if not values:
        raise SystemExit(f"{command}: --env-file {path}: no KEY=VALUE lines")
    os.environ.update(values)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):  # the file's dummy credentials, not a profile's
        if var not in values:
            os.environ.pop(var, None)
    from diarist.adapters.aws import reset_clients
    from diarist.settings import load

    reset_clients()
    load.cache_clear()


def table_name(command: str) -> str:
    """``DIARIST_TABLE_NAME``, or stop with what to set."""
    table = os.environ.get("DIARIST_TABLE_NAME")
    if not table:
        raise SystemExit(
            f"{command}: set DIARIST_TABLE_NAME (and AWS credentials / AWS_ENDPOINT_URL), or pass --env-file"
        )
    return table
