"""``diarist local``: the whole service on this machine (moto server + local worker), until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("local", help="run the service locally: API on localhost, no AWS account needed")
    p.add_argument("--port", type=int, default=8000, help="API port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--api-key", help="use this API key (default: a new random one)")
    p.add_argument("--webhook-secret", help="webhook signing secret (default: a new random one)")
    p.add_argument(
        "--data-dir",
        type=Path,
        help="keep jobs, uploads and results here between runs; local.env (for --env-file) is written here",
    )
    p.add_argument(
        "--engine",
        choices=["pyannote", "fake"],
        default="pyannote",
        help="'fake' skips the model: for trying the plumbing only",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="the most drain workers at once (each its own process, loads the model once, exits when idle)",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="serve requests without an Authorization header as the local tenant (as Phonexia's guides "
        "call their server); 127.0.0.1 only",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=_local)


def _local(args: argparse.Namespace) -> int:
    from diarist.local.runtime import LocalConfig, LocalDiarist
    from diarist.observability import set_level

    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    set_level(level, console=True)  # Diarist's own lines: the same readable format, with the job keys
    cfg = LocalConfig(
        port=args.port,
        api_key=args.api_key,
        webhook_secret=args.webhook_secret,
        data_dir=args.data_dir,
        engine=args.engine,
        workers=args.workers,
        no_auth=args.no_auth,
    )
    local = LocalDiarist(cfg)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        local.start()
    except OSError as e:
        print(f"diarist: error: cannot start local mode: {e}", file=sys.stderr)
        return 1
    try:
        if args.no_auth:
            from diarist.local.no_auth import WARNING

            print(WARNING, file=sys.stderr, flush=True)
            print(WARNING, flush=True)
        print(f"Diarist local mode is ready (engine: {args.engine}).", flush=True)
        print(f"  API URL:        {local.api_url}", flush=True)
        print(f"  API key:        {local.api_key}", flush=True)
        print(f"  Webhook secret: {local.webhook_secret}", flush=True)
        print(
            f"  AWS endpoint:   {os.environ['AWS_ENDPOINT_URL']}  (emulator; uploads under "
            f"s3://{local.resources.media_bucket}/incoming/{local.tenant_id}/ start jobs)",
            flush=True,
        )
        print(f"  Admin env file: {local.env_file}  (diarist keys|tenants ... --env-file <it>)", flush=True)
        print(
            f"Try:  DIARIST_API_URL={local.api_url} DIARIST_API_KEY={local.api_key} diarist submit audio.wav --wait",
            flush=True,
        )
        print("Ctrl-C stops everything.", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        print("stopping ...", file=sys.stderr, flush=True)
        local.stop()
    return 0
