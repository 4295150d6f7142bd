"""``diarist voiceprint|identify --api``: the flag joins the engine-alone commands when they exist (and
the commands exist through the API only when they do not); the RTTM of an identify output."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from diarist.cli import voiceprint_api


def _parser(with_local: bool) -> tuple[argparse.ArgumentParser, list[str]]:
    calls: list[str] = []
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    if with_local:  # stand-ins for diarist.cli.voiceprint_cmd's commands
        for name in ("voiceprint", "identify"):
            c = sub.add_parser(name)
            c.add_argument("audio")
            c.set_defaults(func=lambda a, name=name: calls.append(f"local {name}") or 0)
    voiceprint_api.register(sub)
    return p, calls


def test_api_flag_chooses_the_service_and_leaves_the_local_command_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p, calls = _parser(with_local=True)
    args = p.parse_args(["voiceprint", "a.wav"])
    assert args.func(args) == 0 and calls == ["local voiceprint"]
    seen: list[Any] = []
    p2 = argparse.ArgumentParser()
    sub = p2.add_subparsers()
    local = sub.add_parser("voiceprint")
    local.add_argument("audio")
    local.set_defaults(func=lambda a: 7)
    monkeypatch.setattr(voiceprint_api, "handle_voiceprint_api", lambda a: seen.append(a.api_url) or 0)
    voiceprint_api.register(sub)
    args = p2.parse_args(["voiceprint", "a.wav", "--api", "--api-url", "http://127.0.0.1:9"])
    assert args.func(args) == 0 and seen == ["http://127.0.0.1:9"]
    args = p2.parse_args(["voiceprint", "a.wav"])
    assert args.func(args) == 7


def test_without_the_engine_commands_only_the_api_path_exists(capsys: pytest.CaptureFixture[str]) -> None:
    p, _ = _parser(with_local=False)
    args = p.parse_args(["identify", "m.wav", "--voiceprint", "ann=ann.vp"])
    assert args.func(args) == 2 and "add --api" in capsys.readouterr().err


def test_identify_checks_its_arguments_before_calling_the_service(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    p, _ = _parser(with_local=False)
    vp = tmp_path / "ann.vp"
    vp.write_text("RFZQUgE=\n")
    for argv, word in (
        (["--voiceprint", f"SPEAKER_01={vp}"], "SPEAKER_"),
        (["--voiceprint", f"ann={vp}", "--voiceprint", f"ann={vp}"], "twice"),
        (["--voiceprint", "ann"], "NAME=VPFILE"),
        (["--voiceprint", f"ann={tmp_path / 'missing'}"], "no such file"),
        (["--voiceprint", f"ann={vp}", "--threshold", "120"], "--threshold"),
        (["--voiceprint", f"ann={vp}", "--min-speakers", "3", "--max-speakers", "2"], "speakers"),
    ):
        args = p.parse_args(["identify", "m.wav", *argv, "--api", "--api-url", "http://127.0.0.1:9"])
        assert args.func(args) == 2, argv
        assert word in capsys.readouterr().err, argv


def test_identified_rttm_names_turns_by_their_match() -> None:
    output = {
        "diarization": [],
        "identification": [
            {
                "speaker": "Mary Ann",
                "start": 2.0,
                "end": 3.0,
                "diarizationSpeaker": "SPEAKER_01",
                "match": "Mary Ann",
            },
            {
                "speaker": "SPEAKER_00",
                "start": 0.0,
                "end": 1.5,
                "diarizationSpeaker": "SPEAKER_00",
                "match": None,
            },
        ],
    }
    assert voiceprint_api.identified_rttm(output, "call 1.wav").splitlines() == [
        "SPEAKER call_1 1 0.000 1.500 <NA> <NA> SPEAKER_00 <NA> <NA>",
        "SPEAKER call_1 1 2.000 1.000 <NA> <NA> Mary_Ann <NA> <NA>",
    ]


def test_read_voiceprint_file_tells_voiceprint_text_from_audio(tmp_path: Any) -> None:
    text = tmp_path / "a.vp"
    text.write_text("  RFZQUgEf+/09==\n")
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    assert voiceprint_api.read_voiceprint_file(text) == "RFZQUgEf+/09=="
    assert voiceprint_api.read_voiceprint_file(audio) is None
