#!/usr/bin/env python3
"""Refresh the web console's vendored wavesurfer.js from npm, at the version package.json pins.

The console ships wavesurfer.js's built ES modules (the player, its regions and timeline plugins)
and its license as package data (``src/diarist/console/static/vendor/``), committed, so that
``make demo``, the Lambda package and the browser tests need no Node and no network. This script
is how they are updated: ``npm pack`` fetches the pinned package's tarball, its sha512 is checked
against package-lock.json's ``integrity``, and the files are copied with a manifest of their
sha256. ``--check`` verifies the committed files against the manifest and the pins (no network).

    .venv/bin/python scripts/vendor_console.py           # after bumping the pin in package.json
    .venv/bin/python scripts/vendor_console.py --check
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "src" / "diarist" / "console" / "static" / "vendor"
MANIFEST = VENDOR / "MANIFEST.json"
PACKAGE = "wavesurfer.js"
# file in the npm tarball -> name in the vendor folder
FILES = {
    "package/dist/wavesurfer.esm.js": "wavesurfer.esm.js",
    "package/dist/plugins/regions.esm.js": "regions.esm.js",
    "package/dist/plugins/timeline.esm.js": "timeline.esm.js",
    "package/LICENSE": "wavesurfer.LICENSE.txt",
}


def pins() -> tuple[str, str]:
    """(version, sha512 integrity) of the package, from package.json and package-lock.json."""
    version = json.loads((REPO / "package.json").read_text())["devDependencies"][PACKAGE]
    lock = json.loads((REPO / "package-lock.json").read_text())["packages"][f"node_modules/{PACKAGE}"]
    if lock["version"] != version:
        raise SystemExit(f"package-lock.json has {PACKAGE} {lock['version']}, package.json {version}")
    return version, lock["integrity"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def refresh() -> None:
    version, integrity = pins()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{version}", "--silent"], cwd=tmp, check=True)
        (tarball,) = Path(tmp).glob("*.tgz")
        data = tarball.read_bytes()
        got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        if got != integrity:
            raise SystemExit(f"{tarball.name}: integrity {got} != package-lock.json's {integrity}")
        files = {}
        with tarfile.open(tarball) as tar:
            for member, name in FILES.items():
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise SystemExit(f"{member} is not a file in {tarball.name}")
                body = extracted.read()
                (VENDOR / name).write_bytes(body)
                files[name] = sha256(body)
    MANIFEST.write_text(
        json.dumps({"package": PACKAGE, "version": version, "integrity": integrity, "files": files}, indent=2)
        + "\n"
    )
    print(f"vendored {PACKAGE} {version} into {VENDOR.relative_to(REPO)}")


def check() -> list[str]:
    """What is wrong with the committed files (empty: nothing)."""
    version, integrity = pins()
    manifest = json.loads(MANIFEST.read_text())
    problems = []
    if (manifest["version"], manifest["integrity"]) != (version, integrity):
        problems.append(f"MANIFEST.json is for {manifest['version']}, package.json pins {version}")
    if set(manifest["files"]) != set(FILES.values()):
        problems.append("MANIFEST.json does not list the vendored files")
    for name, digest in manifest["files"].items():
        path = VENDOR / name
        if not path.is_file() or sha256(path.read_bytes()) != digest:
            problems.append(f"{name} differs from the pinned package's file")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--check", action="store_true", help="verify the committed files (no network)")
    args = p.parse_args()
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    refresh()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
