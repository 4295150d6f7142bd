"""The transcript in the console (issue 14), driven in Chromium through local mode with the fake
engine (its transcript: "this is speaker N" in every turn). The VTT, SRT and text downloads are
compared with what ``diarist result --format vtt|srt|txt`` writes for the same JSON
(``diarist.client.render``): the page writes them in the browser, the Python renderer is the
reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diarist.client import render
from tests.browser.conftest import Console
from tests.browser.test_console import RECORDING, _download, _wait_audio

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCRIPT = "<script>window.pwned = 1</script><img src=x>"


def _lines(c: Console) -> list[dict[str, Any]]:
    return list(
        c.page.eval_on_selector_all(
            "[data-testid=transcript-line]",
            "els => els.map(e => ({speaker: e.dataset.speaker, start: Number(e.dataset.start),"
            " end: Number(e.dataset.end), name: e.querySelector('[data-testid=transcript-speaker]').textContent,"
            " text: e.querySelector('[data-testid=transcript-text]').textContent,"
            " playing: e.getAttribute('aria-current') === 'true'}))",
        )
    )


def _transcript_downloads_match(c: Console, output: dict[str, Any], job_id: str) -> None:
    assert _download(c, "download-vtt") == render.to_vtt(output)
    assert _download(c, "download-srt") == render.to_srt(output)
    assert _download(c, "download-txt") == render.to_text(output)


def test_transcribe_see_the_transcript_listen_and_download(console: Console, shared_data: Path) -> None:
    c = console.open(console.local.api_key)
    c.page.wait_for_function("() => document.getElementById('key-state').textContent === 'key accepted'")
    c.tid("transcription").check()
    c.tid("transcription-language").fill("en")
    with c.page.expect_request(lambda r: r.url.endswith("/v1/diarize")) as sent:
        job_id = c.submit_file(shared_data / RECORDING, **{"num-speakers": 2})
    body = json.loads(sent.value.post_data or "{}")
    assert body["transcription"] is True and body["transcriptionConfig"] == {"language": "en"}
    c.wait_status("succeeded")

    output = console.local.client().job(job_id)["output"]
    items = output["turnLevelTranscription"]
    assert items and all(t["text"].startswith("this is speaker") for t in items)
    # one line per turn-level item, in time order, with the speaker, its times and the text
    lines = _lines(c)
    assert [(x["speaker"], x["start"], x["end"], x["text"]) for x in lines] == [
        (t["speaker"], t["start"], t["end"], t["text"]) for t in sorted(items, key=lambda t: t["start"])
    ]
    assert all(x["name"] == x["speaker"] for x in lines)
    assert c.tid("job-warning").is_hidden()

    # clicking a line plays from its start, and that line is the one highlighted
    _wait_audio(c)
    line = c.tid("transcript-line").nth(2)
    start = float(line.get_attribute("data-start") or "nan")
    assert start > 0
    line.click()
    at = c.tid("audio").evaluate("a => a.currentTime")
    assert start <= at < start + 1.0, (start, at)
    c.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=transcript-line]')[2].getAttribute('aria-current') === 'true'"
    )
    assert [x["playing"] for x in _lines(c)].count(True) == 1
    # while the audio plays, the highlighted line is the one holding the playback position
    c.tid("audio").evaluate("a => a.play()")
    c.page.wait_for_function(
        "() => { const a = document.querySelector('[data-testid=audio]');"
        " const on = [...document.querySelectorAll('[data-testid=transcript-line][aria-current=true]')];"
        " return !a.paused && a.currentTime > 0 && on.length === 1"
        " && Number(on[0].dataset.start) <= a.currentTime && a.currentTime < Number(on[0].dataset.end); }",
        timeout=15_000,
    )
    c.tid("audio").evaluate("a => a.pause()")

    # downloads: what `diarist result --format vtt|srt|txt` writes for the API's output
    _transcript_downloads_match(c, output, job_id)

    # a renamed speaker (user input: rendered as text) is renamed in the transcript and the downloads
    name = c.page.locator("[data-testid=speaker-row][data-speaker='SPEAKER_01'] [data-testid=speaker-name]")
    name.fill(SCRIPT)
    name.press("Enter")
    renamed = [x["name"] for x in _lines(c) if x["speaker"] == "SPEAKER_01"]
    assert renamed and set(renamed) == {SCRIPT}
    assert c.page.locator("[data-testid=transcript] script, [data-testid=transcript] img").count() == 0
    assert c.page.evaluate("() => window.pwned") is None
    downloaded = json.loads(_download(c, "download-json"))
    assert downloaded == json.loads(json.dumps(output).replace('"SPEAKER_01"', json.dumps(SCRIPT)))
    _transcript_downloads_match(c, downloaded, job_id)


def test_transcript_text_is_shown_as_text(console: Console, shared_data: Path) -> None:
    """What was said is user input: a transcript holding markup shows it as text (the API's answer is
    rewritten on its way to the page, as a recording saying it would be transcribed)."""
    client = console.local.client()
    job_id = client.submit_file(shared_data / RECORDING, numSpeakers=2, transcription=True)["jobId"]
    client.wait(job_id, timeout_s=60)

    def rewrite(route: Any) -> None:
        resp = route.fetch()
        job = resp.json()
        if job.get("output"):
            job["output"]["turnLevelTranscription"][0]["text"] = SCRIPT
            job["output"]["wordLevelTranscription"][0]["text"] = SCRIPT
        route.fulfill(response=resp, json=job)

    c = console.open(console.local.api_key)
    c.page.route(f"{console.local.api_url}/v1/jobs/{job_id}", rewrite)
    c.page.locator(f"[data-testid=jobs-list] [data-job-id='{job_id}'] [data-testid=open-job]").click()
    c.tid("transcript-line").first.wait_for()
    assert _lines(c)[0]["text"] == SCRIPT
    assert c.page.locator("[data-testid=transcript] script, [data-testid=transcript] img").count() == 0
    assert c.page.evaluate("() => window.pwned") is None
    shown = json.loads(_download(c, "download-json"))
    assert shown["turnLevelTranscription"][0]["text"] == SCRIPT
    _transcript_downloads_match(c, shown, job_id)


def test_a_substituted_model_is_shown_and_a_plain_job_has_no_transcript(
    console: Console, shared_data: Path
) -> None:
    client = console.local.client()
    media = client.upload(shared_data / RECORDING)
    asked = client.submit_url(
        media, transcription=True, transcriptionConfig={"model": "parakeet-tdt-0.6b-v3"}
    )
    plain = client.submit_url(media, numSpeakers=2)
    client.wait(asked["jobId"], timeout_s=60)
    client.wait(plain["jobId"], timeout_s=60)
    assert asked.get("warning") and "parakeet" in asked["warning"]

    c = console.open(console.local.api_key)
    row = c.page.locator(f"[data-testid=jobs-list] [data-job-id='{asked['jobId']}'] [data-testid=open-job]")
    row.click()
    c.tid("transcript-line").first.wait_for()
    warning = c.tid("job-warning")
    assert warning.is_visible() and "parakeet-tdt-0.6b-v3" in (warning.text_content() or "")
    assert c.tid("download-vtt").is_visible()

    c.page.locator(f"[data-testid=jobs-list] [data-job-id='{plain['jobId']}'] [data-testid=open-job]").click()
    c.page.wait_for_function(
        "id => document.getElementById('job-id').textContent === id && !document.getElementById('result').hidden",
        arg=plain["jobId"],
    )
    assert c.tid("transcript").is_hidden() and c.tid("transcript-line").count() == 0
    for testid in ("download-vtt", "download-srt", "download-txt", "job-warning"):
        assert c.tid(testid).is_hidden(), testid
