"""Voiceprints in the console's form (issue 13): added by pasting or by choosing a file, they turn the
submission into ``POST /v1/identify``, and the result's speakers show the labels they matched. Local
mode with the fake engine: a voiceprint of the recording matches one of its speakers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.conftest import Console
from tests.browser.test_console import RECORDING

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _add(c: Console, label: str, *, text: str | None = None, file: Path | None = None) -> None:
    c.tid("voiceprint-label").fill(label)
    if text is not None:
        c.tid("voiceprint-text").fill(text)
    if file is not None:
        c.tid("voiceprint-file").set_input_files(str(file))
    c.tid("add-voiceprint").click()


def _error(c: Console) -> str:
    c.page.wait_for_function("() => !document.querySelector('[data-testid=error]').hidden")
    return str(c.tid("error").text_content())


def test_voiceprints_in_the_form_identify_the_speakers(
    console: Console, shared_data: Path, tmp_path: Path
) -> None:
    client = console.local.client()
    media = client.upload(shared_data / RECORDING)
    vp_job = client.wait(client.voiceprint(media)["jobId"], timeout_s=60)
    assert vp_job["status"] == "succeeded", vp_job
    voiceprint = vp_job["output"]["voiceprint"]
    (tmp_path / "grace.json").write_text(json.dumps(vp_job["output"]))  # the job's output, as saved
    (tmp_path / "ada.vp").write_text(voiceprint + "\n")  # what `diarist voiceprint -o ada.vp` writes

    c = console.open(console.local.api_key)
    c.page.wait_for_function("() => document.getElementById('key-state').textContent === 'key accepted'")
    # a label is required; a file that is not a voiceprint is refused with a message
    _add(c, "", text=voiceprint)
    assert "label" in _error(c)
    (tmp_path / "bad.json").write_text('{"nothing": 1}')
    _add(c, "Bad", file=tmp_path / "bad.json")
    assert "not both" in _error(c)  # the pasted text is still there
    c.tid("voiceprint-text").fill("")
    c.tid("add-voiceprint").click()
    assert 'no "voiceprint"' in _error(c)
    assert c.tid("voiceprint-row").count() == 0
    # pasted, from a .vp file, from a .json file; one removed again
    _add(c, "Ada", file=tmp_path / "ada.vp")
    c.tid("voiceprint-row").nth(0).wait_for()
    _add(c, "Grace <b>Hopper</b>", file=tmp_path / "grace.json")
    c.tid("voiceprint-row").nth(1).wait_for()
    _add(c, "Linus", text=voiceprint)
    c.tid("voiceprint-row").nth(2).wait_for()
    assert c.tid("error").is_hidden()
    rows = c.tid("voiceprint-row")
    assert rows.evaluate_all("els => els.map(e => e.dataset.label)") == [
        "Ada",
        "Grace <b>Hopper</b>",
        "Linus",
    ]
    assert c.page.locator("[data-testid=voiceprint-list] b").count() == 0  # a label is text
    c.page.locator("[data-testid=voiceprint-row][data-label='Linus'] [data-testid=remove-voiceprint]").click()
    assert rows.count() == 2

    with c.page.expect_request(lambda r: r.url.endswith("/v1/identify")) as sent:
        job_id = c.submit_file(shared_data / RECORDING, **{"num-speakers": 2})
    body = json.loads(sent.value.post_data or "{}")
    assert body["voiceprints"] == [
        {"label": "Ada", "voiceprint": voiceprint},
        {"label": "Grace <b>Hopper</b>", "voiceprint": voiceprint},
    ]
    assert body["numSpeakers"] == 2
    c.wait_status("succeeded")

    job = client.job(job_id)
    matches = {v["speaker"]: v["match"] for v in job["output"]["voiceprints"]}
    assert any(matches.values()), matches
    for speaker, match in matches.items():
        name = c.page.locator(
            f"[data-testid=speaker-row][data-speaker='{speaker}'] [data-testid=speaker-name]"
        )
        assert name.input_value() == (match or speaker)
    assert c.page.locator("#timeline b").count() == 0


def test_an_identification_refuses_transcription_with_the_apis_message(
    console: Console, shared_data: Path
) -> None:
    client = console.local.client()
    media = client.upload(shared_data / RECORDING)
    voiceprint = client.wait(client.voiceprint(media)["jobId"], timeout_s=60)["output"]["voiceprint"]
    c = console.open(console.local.api_key)
    _add(c, "Ada", text=voiceprint)
    c.tid("transcription").check()
    c.tid("source-url").fill(media)
    with c.page.expect_response(lambda r: r.url.endswith("/v1/identify")) as answered:
        c.tid("submit").click()
    assert answered.value.status == 400
    message = answered.value.json()["message"]
    c.page.wait_for_function("() => !document.querySelector('[data-testid=error]').hidden")
    assert c.tid("error").text_content() == message and "transcription" in message
