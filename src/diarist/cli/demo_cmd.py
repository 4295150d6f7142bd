"""``diarist demo``: the README's main job, on the local default.

Starts local mode, uploads a real recording through the API (presigned PUT, then
``POST /v1/diarize`` with its ``media://`` URL), waits with a progress bar, prints who spoke
when, and writes the RTTM and a timeline picture.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path


def default_audio() -> Path:
    """pyannote.audio's own 2-speaker sample, shipped inside its wheel: always here after setup."""
    import importlib.util

    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pyannote.audio is not installed: run scripts/setup.sh")
    return Path(list(spec.submodule_search_locations)[0]) / "sample" / "sample.wav"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="start local mode, diarize a recording through the API, show the result")
    p.add_argument("audio", nargs="?", type=Path, help="audio file (default: pyannote's 2-speaker sample)")
    p.add_argument("--out", type=Path, default=Path("diarist-demo"), help="where the RTTM and PNG go")
    p.add_argument("--num-speakers", type=int)
    p.add_argument("--engine", choices=["pyannote", "fake"], default="pyannote")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from diarist.cli.client_cmd import upload_with_progress, wait_with_progress
    from diarist.client import render
    from diarist.client.api import DiaristApiError, DiaristClient
    from diarist.local.runtime import LocalConfig, LocalDiarist
    from diarist.observability import set_level

    logging.basicConfig(level=logging.WARNING)
    set_level(logging.WARNING, console=True)
    audio = args.audio or default_audio()
    if not audio.is_file():
        print(f"diarist: error: no such file: {audio}", file=sys.stderr)
        return 1
    print(f"Starting Diarist in local mode (AWS emulator + local {args.engine} worker) ...", file=sys.stderr)
    t0 = time.monotonic()
    with LocalDiarist(LocalConfig(engine=args.engine)) as local:
        print(f"API ready at {local.api_url} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
        client = DiaristClient(local.api_url, local.api_key)
        try:
            job = upload_with_progress(client, audio, numSpeakers=args.num_speakers)
            print(f"Submitted {audio.name} as job {job['jobId']}", file=sys.stderr)
            done = wait_with_progress(client, job["jobId"])
            if done["status"] != "succeeded":
                err = done.get("error") or {}
                print(
                    f"diarist: error: job {done['status']}: {err.get('code')} {err.get('message')}",
                    file=sys.stderr,
                )
                return 1
            output = client.output(done) or {}
        except DiaristApiError as e:
            print(f"diarist: error: {e}", file=sys.stderr)
            return 1
    args.out.mkdir(parents=True, exist_ok=True)
    rttm = args.out / f"{audio.stem}.rttm"
    rttm.write_text(render.to_rttm(output, audio.stem))
    png = render.timeline_png(output, args.out / f"{audio.stem}.png", title=f"{audio.name}: who spoke when")
    speakers = sorted({spk for _, spk, _, _ in render.iter_turns(output)})
    print(f"\nWho spoke when in {audio.name} ({len(speakers)} speakers):\n")
    print(render.to_table(output))
    print(f"\nRTTM:     {rttm}\nTimeline: {png}")
    print(f"Total {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return 0
