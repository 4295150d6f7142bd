"""``diarist voiceprint`` and ``diarist identify``: voiceprints and identification with the engine,
no service needed.

    diarist voiceprint AUDIO [--output FILE] [--format text|json]
    diarist identify AUDIO --voiceprint NAME=VPFILE [--voiceprint NAME=VPFILE ...] [--threshold N]
                     [--no-exclusive] [--num-speakers N | --min-speakers A --max-speakers B]
                     [--channels split|mix] [--confidence] [--format json|rttm] [--output FILE]

``voiceprint`` writes the base64 voiceprint of the most talkative speaker of <= 30 s of audio (``json``:
pyannoteAI's voiceprint job output). ``identify`` diarizes AUDIO and names its speakers: each VPFILE
holds a voiceprint (its base64 text, as ``diarist voiceprint`` writes it) or is an audio file, from
which a voiceprint is made first. ``--threshold`` (0-100, default 50): no match below it;
``--no-exclusive``: several speakers may match one voiceprint. ``json`` is pyannoteAI's identify output
(with metadata), ``rttm`` names each turn by its match (else its diarization label).

Exit codes: 0 ok, 2 bad arguments, 3 unusable input (the audio, or a voiceprint that is invalid or of
another embedding model: the error code is printed), 4 engine setup.

Both run the engine in this process; the same commands through the API (``--api``) can be added by
replacing :class:`LocalVoiceprints` with a client that calls the service.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diarist.domain.results import DiarizationResult, VoiceprintResult
    from diarist.engine import DiarizeOptions, EngineSettings

_VOICEPRINT_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")
_MAX_VOICEPRINT_FILE = 64 << 10


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", metavar="FILE", help="write the result here instead of stdout")
    p.add_argument(
        "--model-dir", metavar="DIR", help="weights directory (default: $DIARIST_MODEL_DIR or ./models)"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: $DIARIST_DEVICE or auto")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "voiceprint",
        help="make a voiceprint of the speaker of <= 30 s of audio (locally)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("audio", metavar="AUDIO", help="audio or video file (<= 30 s), s3:// or https:// URL")
    p.add_argument(
        "--format", choices=("text", "json"), default="text", help="text: the base64 voiceprint (default)"
    )
    _engine_args(p)
    p.set_defaults(func=handle_voiceprint)

    p = subparsers.add_parser(
        "identify",
        help="diarize a file and name its speakers with voiceprints (locally)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("audio", metavar="AUDIO", help="audio or video file, s3://bucket/key or https:// URL")
    p.add_argument(
        "--voiceprint",
        "-v",
        action="append",
        required=True,
        metavar="NAME=VPFILE",
        help="a label and a voiceprint file (base64 text) or an audio file to make one from; repeat",
    )
    p.add_argument(
        "--threshold", type=float, metavar="N", help="no match below this 0-100 score (default 50)"
    )
    p.add_argument("--no-exclusive", action="store_true", help="several speakers may match one voiceprint")
    count = p.add_mutually_exclusive_group()
    count.add_argument("--num-speakers", type=int, metavar="N", help="exact number of speakers")
    p.add_argument("--min-speakers", type=int, metavar="A", help="at least A speakers")
    p.add_argument("--max-speakers", type=int, metavar="B", help="at most B speakers")
    p.add_argument("--channels", choices=("split", "mix"), default="split", help="as for diarize")
    p.add_argument("--confidence", action="store_true", help="include frame (20 ms) and turn confidence")
    p.add_argument("--format", choices=("json", "rttm"), default="json", help="output format (default json)")
    _engine_args(p)
    p.set_defaults(func=handle_identify)


def _fail(cmd: str, message: str, code: int) -> int:
    print(f"diarist {cmd}: {message}", file=sys.stderr)
    return code


def _settings(args: argparse.Namespace) -> EngineSettings:
    from diarist.engine import EngineSettings

    overrides: dict[str, Any] = {}
    if args.model_dir:
        overrides["model_dir"] = Path(args.model_dir)
    if args.device:
        overrides["device"] = args.device
    settings = EngineSettings(**overrides)
    settings.check()
    return settings


def read_voiceprint_file(path: Path) -> str | None:
    """The voiceprint text a file holds, or None when it is not voiceprint text (then: audio)."""
    with path.open("rb") as f:
        head = f.read(_MAX_VOICEPRINT_FILE + 1)
    if len(head) > _MAX_VOICEPRINT_FILE or not head.strip() or not _VOICEPRINT_TEXT.match(head):
        return None
    return head.decode("ascii").strip()


def voiceprint_sources(items: list[str]) -> tuple[dict[str, Path], str | None]:
    """``--voiceprint NAME=FILE`` options (``diarist identify``, local or ``--api``) as
    ``{name: file}``, or the first problem: not ``NAME=FILE``, a name given twice, a label the
    voiceprint rules refuse (``domain.voiceprints``), a file that does not exist."""
    from diarist.domain.voiceprints import voiceprint_label_problems

    sources: dict[str, Path] = {}
    for item in items:
        name, sep, file = item.partition("=")
        if not sep or not file:
            return {}, f"--voiceprint {item!r}: expected NAME=VPFILE"
        if name in sources:
            return {}, f"--voiceprint: the name {name!r} is given twice"
        sources[name] = Path(file)
    label_problems = voiceprint_label_problems(list(sources))
    if label_problems:
        names = list(sources)
        return {}, "; ".join(
            f"--voiceprint {names[i]!r}: {m}" if i is not None else m for i, m in label_problems
        )
    for name, path in sources.items():
        if not path.is_file():
            return {}, f"--voiceprint {name}: no such file: {path}"
    return sources, None


class LocalVoiceprints:
    """The engine in this process, loaded on first use, with an optional progress bar on stderr."""

    def __init__(self, settings: EngineSettings, quiet: bool) -> None:
        self.settings = settings
        self.quiet = quiet
        self._engine: Any = None

    @contextmanager
    def _progress(self, what: str) -> Iterator[Callable[[float], None]]:
        from diarist.cli.progress import ProgressBar

        with ProgressBar(what, quiet=self.quiet) as bar:
            yield bar

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from diarist.engine import load_engine

            self._engine = load_engine(self.settings)
        return self._engine

    def voiceprint(self, source: str) -> VoiceprintResult:
        import tempfile

        from diarist.engine import fetch_input
        from diarist.engine.options import InputLimits
        from diarist.engine.voiceprints import VOICEPRINT_MAX_BYTES

        with tempfile.TemporaryDirectory(prefix="diarist-input-") as tmp:
            limits = InputLimits(max_bytes=VOICEPRINT_MAX_BYTES)
            local = fetch_input(source, tmp, limits)
            with self._progress(f"voiceprint of {Path(source).name}") as report:
                result: VoiceprintResult = self.engine.voiceprint(local, limits=limits, progress=report)
        return result

    def identify(
        self,
        source: str,
        voiceprints: dict[str, str],
        options: DiarizeOptions,
        exclusive: bool,
        threshold: float,
    ) -> DiarizationResult:
        import tempfile

        from diarist.engine import fetch_input
        from diarist.engine.voiceprints import check_voiceprints

        check_voiceprints(self.engine, voiceprints)  # before fetching the audio
        with tempfile.TemporaryDirectory(prefix="diarist-input-") as tmp:
            local = fetch_input(source, tmp)
            with self._progress("identifying") as report:
                result: DiarizationResult = self.engine.identify(
                    local, voiceprints, options, exclusive=exclusive, threshold=threshold, progress=report
                )
        return result


def _write(args: argparse.Namespace, text: str) -> None:
    if args.output:
        Path(args.output).write_text(text if text.endswith("\n") else text + "\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def handle_voiceprint(args: argparse.Namespace) -> int:
    import json

    from pydantic import ValidationError

    from diarist.domain.errors import AudioInputError
    from diarist.engine import EngineSetupError
    from diarist.engine.formats import voiceprint_output

    try:
        runner = LocalVoiceprints(_settings(args), args.quiet)
    except ValidationError as exc:
        return _fail("voiceprint", "; ".join(str(e["msg"]) for e in exc.errors()), 2)
    except EngineSetupError as exc:
        return _fail("voiceprint", str(exc), 4)
    source = str(args.audio)
    if "://" not in source and not Path(source).is_file():
        return _fail("voiceprint", f"error input_unreachable: no such file: {source}", 3)
    try:
        result = runner.voiceprint(source)
    except AudioInputError as exc:
        return _fail("voiceprint", f"error {exc.code}: {exc.message}", 3)
    except EngineSetupError as exc:
        return _fail("voiceprint", str(exc), 4)
    _write(
        args, json.dumps(voiceprint_output(result), indent=2) if args.format == "json" else result.voiceprint
    )
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def handle_identify(args: argparse.Namespace) -> int:
    import json

    from pydantic import ValidationError

    from diarist.domain.errors import AudioInputError
    from diarist.domain.speakers import speaker_count_problems
    from diarist.domain.voiceprints import DEFAULT_THRESHOLD
    from diarist.engine import DiarizeOptions, EngineSetupError
    from diarist.engine.formats import identify_output, to_rttm

    problems = speaker_count_problems(args.num_speakers, args.min_speakers, args.max_speakers)
    if problems:
        return _fail("identify", "; ".join(f"--{w}-speakers: {m}" for w, m in problems), 2)
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    if not 0 <= threshold <= 100:
        return _fail("identify", "--threshold must be from 0 to 100", 2)
    sources, problem = voiceprint_sources(args.voiceprint)
    if problem:
        return _fail("identify", problem, 2)
    try:
        options = DiarizeOptions(
            num_speakers=args.num_speakers,
            min_speakers=args.min_speakers,
            max_speakers=args.max_speakers,
            channel_mode=args.channels,
            confidence=bool(args.confidence),
        )
        runner = LocalVoiceprints(_settings(args), args.quiet)
    except ValidationError as exc:
        return _fail("identify", "; ".join(str(e["msg"]) for e in exc.errors()), 2)
    except EngineSetupError as exc:
        return _fail("identify", str(exc), 4)
    source = str(args.audio)
    if "://" not in source and not Path(source).is_file():
        return _fail("identify", f"error input_unreachable: no such file: {source}", 3)
    try:
        voiceprints: dict[str, str] = {}
        for name, path in sources.items():
            text = read_voiceprint_file(path)
            if text is None:  # an audio file: make its voiceprint first
                made = runner.voiceprint(str(path))
                for w in made.warnings:
                    print(f"warning: voiceprint {name!r}: {w}", file=sys.stderr)
                text = made.voiceprint
            voiceprints[name] = text
        result = runner.identify(source, voiceprints, options, not args.no_exclusive, threshold)
    except AudioInputError as exc:
        return _fail("identify", f"error {exc.code}: {exc.message}", 3)
    except EngineSetupError as exc:
        return _fail("identify", str(exc), 4)
    if args.format == "rttm":
        text = to_rttm(result, Path(source).name, identified=True)
    else:
        text = json.dumps(identify_output(result, confidence=args.confidence, metadata=True), indent=2)
    _write(args, text)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0
