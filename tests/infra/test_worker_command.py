"""The command AWS Batch runs in the worker container must be a valid ``diarist worker --drain``.

Batch's container ``command`` (the dispatcher's ``containerOverrides.command`` =
``WorkerSpec.command()``, the job definition's default and the image's CMD) replaces the image's
CMD, never its ENTRYPOINT: the process argv is ENTRYPOINT + command.
"""

from __future__ import annotations

import json
import re

from diarist.domain.messages import WorkerSpec
from infra.packaging import REPO_ROOT
from tests.infra.conftest import Synth

DOCKERFILE = REPO_ROOT / "containers" / "gpu-worker" / "Dockerfile"


def _entrypoint() -> list[str]:
    found = re.findall(r"^ENTRYPOINT\s+(\[.*\])\s*$", DOCKERFILE.read_text(), flags=re.M)
    return list(json.loads(found[-1])) if found else []


def _parses(argv: list[str]) -> bool:
    from diarist.cli import build_parser

    if argv[:1] != ["diarist"]:
        return False
    try:
        args = build_parser().parse_args(argv[1:])
    except SystemExit:
        return False
    return getattr(args, "command", None) == "worker" and args.drain is True


def _cmd() -> list[str]:
    found = re.findall(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE.read_text(), flags=re.M)
    return list(json.loads(found[-1])) if found else []


def test_launched_command_is_a_valid_drain_worker_call() -> None:
    argv = _entrypoint() + WorkerSpec(worker_id="w-1").command()
    assert _parses(argv), f"container argv would be {argv}"
    assert not _parses(_entrypoint() + ["diarist", "worker"])  # --drain is required


def test_image_default_command_is_the_drain_worker() -> None:
    assert _cmd() == WorkerSpec(worker_id="w-1").command()


def test_job_definition_default_command_matches_the_launcher(synth: Synth) -> None:
    _, jd = synth.one("Diarist", "AWS::Batch::JobDefinition")
    command = jd["Properties"]["ContainerProperties"]["Command"]
    assert command == WorkerSpec(worker_id="any").command()
