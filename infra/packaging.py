"""Build the Lambda code asset without Docker.

One directory serves all six functions (each has its own handler path):

    .build/lambda/
        diarist/            <- src/diarist (engine/worker modules are imported lazily, never by a Lambda)
        functions/          <- functions/
        pydantic/ ...       <- [project].dependencies minus what the Lambda runtime ships (boto3)

Dependencies come from PyPI as wheels for the Lambda platform
(``pip install --platform manylinux2014_x86_64 --only-binary=:all: --target``), so nothing is
compiled and no Docker is needed. The wheels are cached under ``.build/lambda-deps/<hash>`` keyed by
the requirement list and platform; the asset itself is rebuilt only when a hash of its inputs
changes, so a second ``cdk synth`` costs a few milliseconds.

The *light* asset copies the sources only (no pip, no network). The infra tests and offline
``cdk synth`` runs use it: the template is identical except for the asset hash. Choose it with
``DIARIST_CDK_LIGHT_ASSET=1`` or ``cdk synth -c lightAsset=true``. Never deploy it: the functions
would fail to import pydantic.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# x86_64 because the build host is x86_64 too: the packaging smoke test can then import the built
# asset (pydantic-core's compiled wheel included) exactly as the Lambda runtime would.
LAMBDA_ARCHITECTURE = "x86_64"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
LAMBDA_PYTHON_VERSION = "3.11"
# Shipped by the AWS Lambda Python runtime; packaging them would only grow the asset.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath"})

LIGHT_ASSET_ENV = "DIARIST_CDK_LIGHT_ASSET"
_SOURCE_DIRS = (("src/diarist", "diarist"), ("functions", "functions"))
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")


def light_asset_requested(context_value: object = None) -> bool:
    """True when the env var or the ``lightAsset`` context value asks for the light asset."""
    values = (os.environ.get(LIGHT_ASSET_ENV, ""), context_value)
    return any(str(v).strip().lower() in {"1", "true", "yes"} for v in values if v is not None)


def lambda_requirements(root: Path = REPO_ROOT) -> list[str]:
    """``[project].dependencies`` from pyproject.toml, minus the packages the runtime provides."""
    with (root / "pyproject.toml").open("rb") as f:
        deps: list[str] = tomllib.load(f)["project"]["dependencies"]
    return sorted(d for d in deps if _dist_name(d) not in RUNTIME_PROVIDED)


def _dist_name(requirement: str) -> str:
    name = requirement
    for sep in "<>=!~;[ ":
        name = name.split(sep, 1)[0]
    return name.strip().lower().replace("_", "-")


def _source_files(root: Path) -> Iterator[tuple[Path, str]]:
    for src, dest in _SOURCE_DIRS:
        base = root / src
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}:
                yield path, f"{dest}/{path.relative_to(base).as_posix()}"


def _hash(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


def _deps_fingerprint(requirements: list[str]) -> str:
    return _hash(x.encode() for x in [LAMBDA_PLATFORM, LAMBDA_PYTHON_VERSION, *requirements])


def _install_deps(requirements: list[str], cache_root: Path) -> Path:
    """pip-install the wheels for the Lambda platform once per requirement set; return the folder."""
    target = cache_root / _deps_fingerprint(requirements)[:16]
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            _pip_install(requirements, target)
    return target


def _pip_install(requirements: list[str], target: Path) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile",
        "--platform", LAMBDA_PLATFORM,
        "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        "--target", str(tmp),
        *requirements,
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    # The runtime's boto3 wins anyway; drop any copy a dependency pulled in.
    for name in RUNTIME_PROVIDED:
        shutil.rmtree(tmp / name, ignore_errors=True)
    shutil.rmtree(tmp / "bin", ignore_errors=True)
    (tmp / ".complete").write_text("\n".join(requirements) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def build_lambda_asset(
    *, light: bool | None = None, root: Path = REPO_ROOT, out_dir: Path | None = None
) -> Path:
    """Build (or reuse) the Lambda code directory and return its path for ``Code.from_asset``.

    ``light=None`` reads ``DIARIST_CDK_LIGHT_ASSET``. The build is skipped when the fingerprint of
    the sources, the requirement list and the platform equals the one recorded by the last build.
    """
    if light is None:
        light = light_asset_requested()
    build_root = root / ".build"
    out = out_dir or build_root / ("lambda-light" if light else "lambda")
    out.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time (a test session and a `cdk synth` it started may both get here).
    with open(out.with_name(out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(light=light, root=root, build_root=build_root, out=out)


def _build(*, light: bool, root: Path, build_root: Path, out: Path) -> Path:
    requirements = [] if light else lambda_requirements(root)
    files = list(_source_files(root))
    fingerprint = _hash(
        [b"light" if light else b"full", _deps_fingerprint(requirements).encode()]
        + [part for path, rel in files for part in (rel.encode(), path.read_bytes())]
    )
    stamp = out.with_name(out.name + ".sha256")
    if out.is_dir() and stamp.exists() and stamp.read_text().strip() == fingerprint:
        return out

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if requirements:
        shutil.copytree(_install_deps(requirements, build_root / "lambda-deps"), tmp, ignore=_IGNORED)
        (tmp / ".complete").unlink()
    else:
        tmp.mkdir(parents=True)
    for path, rel in files:
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    stamp.write_text(fingerprint + "\n")
    return out
