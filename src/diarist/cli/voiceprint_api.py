"""``diarist voiceprint AUDIO --api`` and ``diarist identify AUDIO --voiceprint NAME=VPFILE ... --api``:
voiceprints and identification through the service (the API client), instead of the engine in this
process.

    diarist voiceprint AUDIO --api [--api-url URL] [--api-key KEY] [--format text|json] [--output FILE]
    diarist identify AUDIO --voiceprint NAME=VPFILE [...] --api [--threshold N] [--no-exclusive]
                     [--num-speakers N | --min-speakers A --max-speakers B] [--confidence]
                     [--format json|rttm] [--output FILE]

A local AUDIO file is uploaded (``POST /v1/media/input``, then a presigned PUT), an ``https://`` or
``s3://`` one is submitted as it is; the job is submitted (``POST /v1/voiceprint`` or
``/v1/identify``), waited for and printed: the base64 voiceprint (``text``) or the job's ``output``
(``json``); ``rttm`` names each turn by its match. A VPFILE holds a voiceprint (its base64 text, as
``diarist voiceprint`` writes it) or is audio, whose voiceprint is made through the service first.
``--threshold`` defaults to 50 (as the local command; the API's own default is 0).
``--api-url``/``--api-key`` default to ``DIARIST_API_URL``/``DIARIST_API_KEY``.

This module adds ``--api`` to the ``voiceprint`` and ``identify`` commands that run the engine in
process (``diarist.cli.voiceprint_cmd``) when they are part of the build; without them it registers
both commands itself, through the API only. Exit codes: 0 ok, 1 the service could not be reached or
refused the key, 2 bad arguments (a 400 included: the field is printed), 3 the job failed on its input
(its error code is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diarist.cli.voiceprint_cmd import read_voiceprint_file, voiceprint_sources

DEFAULT_CLI_THRESHOLD = 50.0  # the local command's default (domain.voiceprints.DEFAULT_THRESHOLD)

Handler = Callable[[argparse.Namespace], int]


def register(sub: Any) -> None:
    """Add ``--api`` to ``diarist voiceprint`` / ``diarist identify`` (registering them if needed)."""
    for name, api_handler, own_args, help_text in (
        ("voiceprint", handle_voiceprint_api, _voiceprint_args, "make a voiceprint of <= 30 s of audio"),
        ("identify", handle_identify_api, _identify_args, "diarize a file and name its speakers"),
    ):
        parser = sub.choices.get(name)
        local: Handler | None = None
        if parser is None:  # the engine-alone command is not part of this build: the API path only
            parser = sub.add_parser(
                name,
                help=f"{help_text} (through the API: --api)",
                description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            own_args(parser)
        else:
            local = parser.get_default("func")
        parser.add_argument(
            "--api",
            action="store_true",
            help="through the service (DIARIST_API_URL / DIARIST_API_KEY) instead of the engine here",
        )
        parser.add_argument("--api-url", default=None, help="with --api; default $DIARIST_API_URL")
        parser.add_argument("--api-key", default=None, help="with --api; default $DIARIST_API_KEY")
        parser.set_defaults(func=_dispatcher(name, local, api_handler))


def _dispatcher(name: str, local: Handler | None, api: Handler) -> Handler:
    def dispatch(args: argparse.Namespace) -> int:
        if getattr(args, "api", False):
            return api(args)
        if local is None:
            print(
                f"diarist {name}: this build runs {name} through the service only: add --api", file=sys.stderr
            )
            return 2
        return local(args)

    return dispatch


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", metavar="FILE", help="write the result here instead of stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _voiceprint_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("audio", metavar="AUDIO", help="audio file (<= 30 s), s3:// or https:// URL")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text: the base64 voiceprint")
    _common_args(p)


def _identify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("audio", metavar="AUDIO", help="audio file, s3://bucket/key or https:// URL")
    p.add_argument("--voiceprint", "-v", action="append", required=True, metavar="NAME=VPFILE")
    p.add_argument(
        "--threshold", type=float, metavar="N", help="no match below this 0-100 score (default 50)"
    )
    p.add_argument("--no-exclusive", action="store_true", help="several speakers may match one voiceprint")
    count = p.add_mutually_exclusive_group()
    count.add_argument("--num-speakers", type=int, metavar="N")
    p.add_argument("--min-speakers", type=int, metavar="A")
    p.add_argument("--max-speakers", type=int, metavar="B")
    p.add_argument("--confidence", action="store_true", help="include frame (20 ms) and turn confidence")
    p.add_argument("--format", choices=("json", "rttm"), default="json")
    _common_args(p)


# -- the service path -------------------------------------------------------------------------------


class _Failed(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ApiVoiceprints:
    """Voiceprints and identification through the service: upload, submit, wait, output."""

    def __init__(self, client: Any, quiet: bool = True) -> None:
        self.client = client
        self.quiet = quiet

    def _input(self, source: str) -> str:
        if "://" in source:
            return source
        path = Path(source)
        if not path.is_file():
            raise _Failed(f"no such file: {source}", 2)
        return str(self.client.upload(path))

    def _finish(self, created: dict[str, Any], what: str) -> dict[str, Any]:
        job_id = created["jobId"]
        if not self.quiet:
            print(f"{what}: job {job_id} {created['status']}", file=sys.stderr)
        if created.get("warning") and not self.quiet:
            print(f"warning: {created['warning']}", file=sys.stderr)
        done = self.client.wait(job_id)
        if done["status"] != "succeeded":
            err = done.get("error") or {}
            code = str(err.get("code") or done["status"])
            message = err.get("message") or (done.get("output") or {}).get("error") or done["status"]
            raise _Failed(f"job {job_id} {done['status']}: error {code}: {message}", 3)
        output = self.client.output(done)
        if not isinstance(output, dict):
            raise _Failed(f"job {job_id} succeeded but its output is gone", 1)
        return output

    def voiceprint(self, source: str) -> dict[str, Any]:
        return self._finish(self.client.voiceprint(self._input(source)), "voiceprint")

    def identify(self, source: str, voiceprints: dict[str, str], **options: Any) -> dict[str, Any]:
        return self._finish(self.client.identify(self._input(source), voiceprints, **options), "identify")


def _client(args: argparse.Namespace) -> Any:
    from diarist.client.api import DiaristClient

    return DiaristClient.from_env(
        getattr(args, "api_url", None) or os.environ.get("DIARIST_API_URL"),
        getattr(args, "api_key", None) or os.environ.get("DIARIST_API_KEY"),
    )


def _run(cmd: str, args: argparse.Namespace, work: Callable[[ApiVoiceprints], str]) -> int:
    from diarist.client.api import DiaristApiError

    try:
        text = work(ApiVoiceprints(_client(args), quiet=bool(getattr(args, "quiet", False))))
    except _Failed as e:
        print(f"diarist {cmd}: {e}", file=sys.stderr)
        return e.code
    except DiaristApiError as e:
        print(f"diarist {cmd}: {e}", file=sys.stderr)
        return 2 if e.status == 400 else 1
    except (ValueError, TimeoutError) as e:
        print(f"diarist {cmd}: {e}", file=sys.stderr)
        return 1
    text = text if text.endswith("\n") else text + "\n"
    if getattr(args, "output", None):
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _warn(output: dict[str, Any], prefix: str = "") -> None:
    warning = output.get("warning")
    for w in [warning] if isinstance(warning, str) else output.get("warnings") or []:
        print(f"warning: {prefix}{w}", file=sys.stderr)


def handle_voiceprint_api(args: argparse.Namespace) -> int:
    def work(api: ApiVoiceprints) -> str:
        output = api.voiceprint(str(args.audio))
        _warn(output)
        return json.dumps(output, indent=2) if args.format == "json" else str(output["voiceprint"])

    return _run("voiceprint", args, work)


def identified_rttm(output: dict[str, Any], file_id: str) -> str:
    """RTTM of an identify output's turns, each named by its match (else its diarization label)."""
    from diarist.engine.formats import TurnLine, rttm_lines

    channels = output.get("channels") or [output]
    lines = [
        TurnLine(
            int(ch.get("channel") or 0) + 1, "_".join(str(t["speaker"]).split()) or "_", t["start"], t["end"]
        )
        for ch in channels
        for t in ch.get("identification", [])
    ]
    lines.sort(key=lambda t: (t.channel, t.start, t.end, t.speaker))
    stem = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in Path(file_id).stem) or "audio"
    return rttm_lines(lines, stem)


def handle_identify_api(args: argparse.Namespace) -> int:
    from diarist.domain.speakers import speaker_count_problems

    problems = speaker_count_problems(args.num_speakers, args.min_speakers, args.max_speakers)
    if problems:
        print("diarist identify: " + "; ".join(f"--{w}-speakers: {m}" for w, m in problems), file=sys.stderr)
        return 2
    threshold = DEFAULT_CLI_THRESHOLD if args.threshold is None else args.threshold
    if not 0 <= threshold <= 100:
        print("diarist identify: --threshold must be from 0 to 100", file=sys.stderr)
        return 2
    sources, problem = voiceprint_sources(args.voiceprint)
    if problem:
        print(f"diarist identify: {problem}", file=sys.stderr)
        return 2

    def work(api: ApiVoiceprints) -> str:
        voiceprints: dict[str, str] = {}
        for name, path in sources.items():
            text = read_voiceprint_file(path)
            if text is None:  # an audio file: make its voiceprint through the service first
                made = api.voiceprint(str(path))
                _warn(made, f"voiceprint {name!r}: ")
                text = str(made["voiceprint"])
            voiceprints[name] = text
        output = api.identify(
            str(args.audio),
            voiceprints,
            exclusive=not args.no_exclusive,
            threshold=threshold,
            numSpeakers=args.num_speakers,
            minSpeakers=args.min_speakers,
            maxSpeakers=args.max_speakers,
            confidence=bool(args.confidence) or None,
            turnLevelConfidence=bool(args.confidence) or None,
        )
        _warn(output)
        if args.format == "rttm":
            return identified_rttm(output, Path(str(args.audio).split("?", 1)[0]).name)
        return json.dumps(output, indent=2)

    return _run("identify", args, work)
