"""The ``diarist`` console script: engine CLI, worker, local mode, API keys and the API client.

Each subcommand lives in its own module exposing ``register(subparsers)``; heavy imports
(torch, boto3, moto) happen inside the subcommand, so ``diarist --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

# Order = order in --help.
_COMMAND_MODULES = (
    "diarist.cli.demo_cmd",  # diarist demo (the README's main job)
    "diarist.cli.local_cmd",  # diarist local
    "diarist.cli.client_cmd",  # diarist submit/status/result/jobs/cancel
    "diarist.cli.diarize_cmd",  # diarist diarize (the engine, no service)
    "diarist.cli.voiceprint_cmd",  # diarist voiceprint/identify (the engine, no service)
    "diarist.cli.worker_cmd",  # diarist worker (container entrypoint)
    "diarist.cli.keys_cmd",  # diarist keys create/list/revoke
    "diarist.cli.tenants_cmd",  # diarist tenants show/set-limits
    # after the engine's voiceprint/identify commands (if any): adds their --api path
    "diarist.cli.voiceprint_api",  # diarist voiceprint/identify --api (through the service)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diarist", description="Speaker diarization: who spoke when.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue  # a command that is not part of this build
        importlib.import_module(name).register(sub)
    return parser


def _version() -> str:
    from diarist import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
