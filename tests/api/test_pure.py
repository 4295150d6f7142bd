"""Pure parts of the API, no emulator: multipart parsing, error field names, Phonexia config,
the renderers."""

from __future__ import annotations

import pytest

from diarist.domain.errors import ValidationFailed
from diarist.domain.jobs import Job, JobParams
from functions.api.errors import field_of
from functions.api.multipart import parse_multipart
from functions.api.request_models import phonexia_params
from tests.api.conftest import small_result
from tests.api.events import multipart_body


def test_multipart_binary_parts_and_a_field_sent_twice_is_refused() -> None:
    data = bytes(range(256)) * 3 + b"\r\n--notTheBoundary\r\n"
    body, ctype = multipart_body({"file": ("a b.wav", "audio/wav", data), "config": (None, None, b'{"x":1}')})
    parts = parse_multipart(body, ctype)
    assert parts["file"].data == data and parts["file"].filename == "a b.wav"
    assert parts["file"].content_type == "audio/wav" and parts["config"].filename is None
    two = (
        b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\none\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\ntwo\r\n--b--\r\n'
    )
    with pytest.raises(ValidationFailed) as err:
        parse_multipart(two, "multipart/form-data; boundary=b")
    assert [e["field"] for e in err.value.errors] == ["file"]


@pytest.mark.parametrize(
    ("body", "ctype", "field"),
    [
        (b"x", "application/json", "Content-Type"),
        (b"x", "multipart/form-data", "Content-Type"),
        (b"x", "multipart/form-data; boundary=" + "b" * 71, "Content-Type"),
        (
            b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nabc',
            "multipart/form-data; boundary=b",
            "body",
        ),
        (
            b"--b\r\nContent-Type: text/plain\r\n\r\nabc\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
            "body",
        ),
        (
            b"--b\r\n" + b"X-H: v\r\n" * 40 + b"\r\nabc\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
            "body",
        ),
    ],
)
def test_multipart_refusals_name_a_field(body: bytes, ctype: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as e:
        parse_multipart(body, ctype)
    assert e.value.errors[0]["field"] == field


def test_field_of_maps_powertools_locations() -> None:
    assert field_of(("body", "numSpeakers")) == "numSpeakers"
    assert field_of(("body",)) == "body"
    assert field_of(("query", "limit")) == "limit"
    assert field_of(("header", "idempotency-key")) == "Idempotency-Key"
    assert field_of(("body", "items", 0, "x")) == "items[0].x"
    assert field_of(("body", "voiceprints", 3, "voiceprint")) == "voiceprints[3].voiceprint"


def test_phonexia_config() -> None:
    assert phonexia_params(None, "split") == JobParams(max_speakers=100, channel_mode="split")
    assert phonexia_params({"total_speakers": 2, "other": []}, "mix") == JobParams(
        num_speakers=2, channel_mode="mix"
    )
    for bad in (
        {"max_speakers": 1, "total_speakers": 1},
        {"max_speakers": 101},
        {"total_speakers": 1.5},
        [1],
        "x",
    ):
        with pytest.raises(ValidationFailed):
            phonexia_params(bad, "split")


def test_renderers() -> None:
    from diarist.services.reading import render_pyannote_output
    from functions.api.views_phonexia import render_phonexia_result

    def job(params: JobParams) -> Job:
        return Job(job_id="j", tenant_id="t", input_url="s3://b/k", params=params)

    out = render_pyannote_output(job(JobParams()), small_result())
    assert out == {
        "diarization": [
            {"speaker": "SPEAKER_00", "start": 0.5, "end": 4.0},
            {"speaker": "SPEAKER_01", "start": 3.5, "end": 7.25},
            {"speaker": "SPEAKER_00", "start": 8.0, "end": 9.5},
        ]
    }
    full = render_pyannote_output(
        job(JobParams(exclusive=True, confidence=True, turn_level_confidence=True)),
        small_result(2, confidence=True),
    )
    assert full["diarization"][0]["confidence"] == 91.0 and full["confidence"]["score"] == [90, 80, 70]
    assert [c["channel"] for c in full["channels"]] == [0, 1] and "exclusiveDiarization" in full["channels"][
        1
    ]
    ph = render_phonexia_result(small_result())
    assert ph == {
        "channels": [
            {
                "channel_number": 0,
                "speakers_count": 2,
                "segments": [
                    {"speaker_id": 0, "start_time": 0.5, "end_time": 3.5},
                    {"speaker_id": 1, "start_time": 3.5, "end_time": 7.25},
                    {"speaker_id": 0, "start_time": 8.0, "end_time": 9.5},
                ],
            }
        ]
    }
