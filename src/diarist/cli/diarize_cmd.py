"""``diarist diarize AUDIO``: run the engine on one file, no service needed.

    diarist diarize AUDIO [--num-speakers N | --min-speakers A --max-speakers B] [--channels split|mix]
                          [--confidence] [--transcribe [--language CODE]]
                          [--format json|phonexia|rttm|csv|vtt|srt|txt] [--output FILE]

--transcribe adds who said what (faster-whisper, offline: the weights from scripts/fetch_weights.py);
vtt, srt and txt write the transcript (they imply --transcribe), json carries wordLevelTranscription
and turnLevelTranscription.

AUDIO may be a path, an s3:// URL or an https:// URL. Progress goes to stderr; the result to stdout or
--output. Exit codes: 0 ok, 2 bad arguments, 3 unusable input (the error code is printed), 4 engine setup.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

FORMATS = ("json", "phonexia", "rttm", "csv", "vtt", "srt", "txt")
TRANSCRIPT_FORMATS = ("vtt", "srt", "txt")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "diarize",
        help="diarize an audio/video file locally (who spoke when)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("audio", metavar="AUDIO", help="audio or video file, s3://bucket/key or https:// URL")
    count = p.add_mutually_exclusive_group()
    count.add_argument("--num-speakers", type=int, metavar="N", help="exact number of speakers")
    p.add_argument("--min-speakers", type=int, metavar="A", help="at least A speakers")
    p.add_argument("--max-speakers", type=int, metavar="B", help="at most B speakers")
    p.add_argument(
        "--channels",
        choices=("split", "mix"),
        default="split",
        help="split: diarize each channel separately (default); mix: downmix to mono first",
    )
    p.add_argument("--confidence", action="store_true", help="include frame (20 ms) and turn confidence")
    p.add_argument(
        "--transcribe", action="store_true", help="transcribe too: who said what (words and turns)"
    )
    p.add_argument(
        "--language",
        metavar="CODE",
        help="language of the speech (Whisper code: en, de ...); default: detected",
    )
    p.add_argument("--format", choices=FORMATS, default="json", help="output format (default json)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the result here instead of stdout")
    p.add_argument(
        "--model-dir", metavar="DIR", help="weights directory (default: $DIARIST_MODEL_DIR or ./models)"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: $DIARIST_DEVICE or auto")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import tempfile

    from pydantic import ValidationError

    from diarist.domain.errors import AudioInputError
    from diarist.domain.speakers import speaker_count_problems
    from diarist.engine import DiarizeOptions, EngineSettings, EngineSetupError
    from diarist.engine.formats import render

    problems = speaker_count_problems(args.num_speakers, args.min_speakers, args.max_speakers)
    if problems:
        msgs = "; ".join(f"--{which}-speakers: {message}" for which, message in problems)
        print(f"diarist diarize: {msgs}", file=sys.stderr)
        return 2
    try:
        options = DiarizeOptions(
            num_speakers=args.num_speakers,
            min_speakers=args.min_speakers,
            max_speakers=args.max_speakers,
            channel_mode=args.channels,
            confidence=bool(args.confidence),
            transcribe=bool(args.transcribe) or args.format in TRANSCRIPT_FORMATS,
            language=args.language,
        )
        overrides: dict[str, Any] = {}
        if args.model_dir:
            overrides["model_dir"] = Path(args.model_dir)
        if args.device:
            overrides["device"] = args.device
        settings = EngineSettings(**overrides)
        settings.check()
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors())
        print(f"diarist diarize: {msgs}", file=sys.stderr)
        return 2
    except EngineSetupError as exc:
        print(f"diarist diarize: {exc}", file=sys.stderr)
        return 4
    if args.language and not options.transcribe:
        print("diarist diarize: --language only applies with --transcribe", file=sys.stderr)
        return 2
    if options.transcribe:
        try:
            settings.check_asr()  # before the slow model load
        except EngineSetupError as exc:
            print(f"diarist diarize: {exc}", file=sys.stderr)
            return 4

    source = str(args.audio)
    if "://" not in source and not Path(source).is_file():  # before the slow model load
        print(f"diarist diarize: error input_unreachable: no such file: {source}", file=sys.stderr)
        return 3

    from diarist.cli.progress import ProgressBar

    with ProgressBar("fetching input", quiet=args.quiet) as bar:
        try:
            from diarist.engine import fetch_input, load_engine

            with tempfile.TemporaryDirectory(prefix="diarist-input-") as tmp:
                local = fetch_input(args.audio, tmp)
                bar.stage("loading models")
                engine = load_engine(settings)
                bar.stage("diarizing and transcribing" if options.transcribe else "diarizing")
                result = engine.diarize(local, options, progress=bar)
        except AudioInputError as exc:
            bar.close()
            print(f"diarist diarize: error {exc.code}: {exc.message}", file=sys.stderr)
            return 3
        except EngineSetupError as exc:
            bar.close()
            print(f"diarist diarize: {exc}", file=sys.stderr)
            return 4
    text = render(result, args.format, file_id=Path(str(args.audio)).name)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0
