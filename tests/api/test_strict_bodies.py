"""Ambiguous bodies are refused, never read one way silently: a JSON key given twice, a multipart
field sent twice. Each is a 400 naming the key or field."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.integration

PHONEXIA = "/api/technology/speaker-diarization"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00" + bytes(range(256)) * 4


def _json(api: Api, text: str, path: str = "/v1/diarize"):
    return api.call("POST", path, body=text, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"url": "https://example.com/a.wav", "url": "s3://other-bucket/b.wav"}', "url"),
        ('{"url": "https://example.com/a.wav", "numSpeakers": 2, "numSpeakers": 3}', "numSpeakers"),
        (
            '{"url": "https://example.com/a.wav", "webhook": null, "webhook": "https://x.example/h"}',
            "webhook",
        ),
    ],
)
def test_duplicate_json_keys_are_400_naming_the_key(api: Api, body: str, field: str) -> None:
    r = _json(api, body)
    assert r.status == 400 and r.fields() == [field], r.body
    assert "more than once" in r.body["errors"][0]["message"]
    assert api.queue_messages() == []  # nothing was submitted


def test_duplicate_keys_in_a_nested_object_and_on_other_routes(api: Api) -> None:
    r = _json(api, '{"url": "media://a.wav", "x": {"k": 1, "k": 2}}', "/v1/media/input")
    assert r.status == 400 and r.fields() == ["k"], r.body
    # the same body without the repetition reaches validation (unknown field x)
    r = _json(api, '{"url": "media://a.wav", "x": {"k": 1}}', "/v1/media/input")
    assert r.status == 400 and r.fields() != ["k"]


def test_unique_keys_still_work(api: Api) -> None:
    r = _json(api, json.dumps({"url": "https://example.com/a.wav", "numSpeakers": 2}))
    assert r.status == 200, r.body


def _multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> tuple[bytes, str]:
    out = bytearray()
    for name, filename, data in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ([("file", "a.wav", WAV), ("file", "b.wav", b"RIFF other audio")], "file"),
        (
            [("file", "a.wav", WAV), ("config", None, b'{"max_speakers": 2}'), ("config", None, b"{}")],
            "config",
        ),
    ],
)
def test_a_field_sent_twice_is_400_naming_it(api: Api, parts, field: str) -> None:
    body, ctype = _multipart(parts)
    r = api.call("POST", PHONEXIA, body=body, headers={"Content-Type": ctype})
    assert r.status == 400, r.body
    assert r.body["type"] == "bad_request" and r.body["detail"] == [
        f"{field}: more than one {field!r} part: send each field once"
    ]
    assert api.queue_messages() == []


def test_duplicate_key_in_the_phonexia_config_is_400(api: Api) -> None:
    body, ctype = _multipart(
        [("file", "a.wav", WAV), ("config", None, b'{"max_speakers": 2, "max_speakers": 50}')]
    )
    r = api.call("POST", PHONEXIA, body=body, headers={"Content-Type": ctype})
    assert r.status == 400 and r.body["detail"] == ["config: 'max_speakers' appears more than once"], r.body
    body, ctype = _multipart([("file", "a.wav", WAV), ("config", None, b'{"max_speakers": 2}')])
    assert api.call("POST", PHONEXIA, body=body, headers={"Content-Type": ctype}).status == 202
