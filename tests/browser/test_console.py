"""The web console served by the API, driven in Chromium through local mode (the fake engine: the
plumbing and the page, fast). Each check is against what the API itself answers."""

from __future__ import annotations

import base64
import json
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import urllib3

from diarist.client.api import DiaristApiError
from diarist.client.render import to_csv, to_rttm
from diarist.resources import LOCAL_MEDIA_BUCKET
from tests.browser.conftest import Console
from tests.e2e.conftest import LocalProcess, Receiver, start_local, stop_local

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

RECORDING = "pyannote_sample_30s.wav"


def _download(c: Console, testid: str) -> str:
    with c.page.expect_download() as info:
        c.tid(testid).click()
    return Path(info.value.path()).read_bytes().decode("utf-8")  # as written: CRLF stays CRLF


def _speakers(output: dict[str, Any]) -> set[tuple[int | None, str]]:
    channels = output.get("channels") or [{"channel": None, **output}]
    return {(ch["channel"], t["speaker"]) for ch in channels for t in ch["diarization"]}


def _turns(c: Console) -> list[dict[str, Any]]:
    return list(
        c.page.eval_on_selector_all(
            "[data-testid=turn]",
            "els => els.map(e => ({speaker: e.dataset.speaker, start: Number(e.dataset.start),"
            " end: Number(e.dataset.end), channel: e.dataset.channel ?? null}))",
        )
    )


def _wait_audio(c: Console) -> None:
    c.page.wait_for_function(
        "() => document.querySelector('[data-testid=audio]').readyState >= 1", timeout=30_000
    )


def test_upload_watch_listen_download(console: Console, shared_data: Path) -> None:
    c = console.open(console.local.api_key)
    c.page.wait_for_function("() => document.getElementById('key-state').textContent === 'key accepted'")
    job_id = c.submit_file(shared_data / RECORDING, **{"num-speakers": 3, "confidence": True})
    assert c.tid("upload-progress").evaluate("e => e.value") == 100
    c.wait_status("succeeded")

    job = console.local.client().job(job_id)
    output = job["output"]
    assert job["status"] == "succeeded"
    # one row per speaker the API reports, and every turn of the API's output as a bar
    assert c.tid("speaker-row").count() == len(_speakers(output)) == 3
    shown = sorted((t["speaker"], t["start"], t["end"]) for t in _turns(c))
    assert shown == sorted((t["speaker"], t["start"], t["end"]) for t in output["diarization"])
    # the confidence curve was asked for: drawn when the output has one (the fake engine's has none)
    assert c.tid("confidence-curve").count() == (1 if "confidence" in output else 0)

    # the waveform (wavesurfer.js in its shadow root) and the player
    _wait_audio(c)
    c.page.wait_for_function(
        "() => document.querySelector('#waveform > div')?.shadowRoot?.querySelector('canvas') != null",
        timeout=30_000,
    )
    turn = c.tid("turn").nth(4)
    start = float(turn.get_attribute("data-start") or "nan")
    assert start > 0
    turn.click()
    at = c.tid("audio").evaluate("a => a.currentTime")
    assert start <= at < start + 1.0, (start, at)

    # space plays and pauses (focus away from the form fields first)
    c.tid("audio").evaluate("a => a.pause()")
    c.page.locator("h2#jobs-title").click()
    c.page.keyboard.press("Space")
    c.page.wait_for_function("() => !document.querySelector('[data-testid=audio]').paused")
    c.page.keyboard.press("Space")
    c.page.wait_for_function("() => document.querySelector('[data-testid=audio]').paused")

    # downloads equal what the API returns, per format
    assert json.loads(_download(c, "download-json")) == output
    assert _download(c, "download-rttm") == to_rttm(output, job_id)
    assert _download(c, "download-csv") == to_csv(output)

    # the job is in the list
    row = c.page.locator(f"[data-testid=jobs-list] [data-job-id='{job_id}']")
    row.wait_for()
    assert row.get_attribute("data-status") == "succeeded"


def test_submit_a_url_and_rename_speakers_for_view_and_downloads(console: Console, shared_data: Path) -> None:
    """A media:// URL uploaded beforehand (by the client) is submitted by URL and played through
    POST /v1/media/output; a renamed speaker is renamed in every download."""
    client = console.local.client()
    media = client.upload(shared_data / RECORDING)
    c = console.open(console.local.api_key)
    c.tid("source-url").fill(media)
    c.tid("num-speakers").fill("2")
    c.tid("submit").click()
    c.page.wait_for_function("() => document.getElementById('job-id').textContent.length > 0")
    job_id = str(c.tid("job-id").text_content())
    c.wait_status("succeeded")
    output = client.job(job_id)["output"]
    name = c.page.locator("[data-testid=speaker-row][data-speaker='SPEAKER_01'] [data-testid=speaker-name]")
    name.fill("Ada Lovelace")
    name.press("Enter")
    renamed = json.loads(json.dumps(output).replace('"SPEAKER_01"', '"Ada Lovelace"'))
    assert json.loads(_download(c, "download-json")) == renamed
    assert _download(c, "download-rttm") == to_rttm(
        json.loads(json.dumps(output).replace('"SPEAKER_01"', '"Ada_Lovelace"')), job_id
    )
    assert _download(c, "download-csv") == to_csv(renamed)
    turn = c.page.locator("[data-testid=turn][data-speaker='SPEAKER_01']").nth(1)
    assert (turn.get_attribute("aria-label") or "").startswith("Ada Lovelace:")
    # keyboard: Enter on a focused turn plays from its start
    _wait_audio(c)
    turn.focus()
    c.page.keyboard.press("Enter")
    start = float(turn.get_attribute("data-start") or "nan")
    assert start <= c.tid("audio").evaluate("a => a.currentTime") < start + 1.0
    # the audio came from POST /v1/media/output (the URL was media://)
    assert ("POST", f"{console.local.api_url}/v1/media/output") in c.requests


def _stereo(path: Path, seconds: float = 6.0, rate: int = 16_000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    left, right = np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)
    frames = (np.stack([left, right], axis=1) * 0.3 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return path


def test_multichannel_one_row_per_speaker_per_channel(console: Console, tmp_path: Path) -> None:
    """A stereo file dropped on the form, each channel diarized on its own."""
    c = console.open(console.local.api_key)
    audio = _stereo(tmp_path / "two-channels.wav")
    dropped = c.page.evaluate_handle(
        "([name, b64]) => { const dt = new DataTransfer();"
        " const bytes = Uint8Array.from(atob(b64), ch => ch.charCodeAt(0));"
        " dt.items.add(new File([bytes], name, {type: 'audio/wav'})); return dt; }",
        [audio.name, base64.b64encode(audio.read_bytes()).decode()],
    )
    c.page.dispatch_event("[data-testid=drop-zone]", "drop", {"dataTransfer": dropped})
    assert (c.tid("file-name").text_content() or "").startswith("two-channels.wav")
    c.tid("channel-mode").select_option("split")
    c.tid("submit").click()
    c.page.wait_for_function("() => document.getElementById('job-id').textContent.length > 0")
    job_id = str(c.tid("job-id").text_content())
    c.wait_status("succeeded")
    output = console.local.client().job(job_id)["output"]
    assert len(output["channels"]) == 2
    assert c.tid("speaker-row").count() == len(_speakers(output)) == 4
    rows = c.page.eval_on_selector_all(
        "[data-testid=speaker-row]", "els => els.map(e => [e.dataset.channel, e.dataset.speaker])"
    )
    assert sorted(map(tuple, rows)) == sorted((str(ch), spk) for ch, spk in _speakers(output))
    assert _download(c, "download-rttm") == to_rttm(output, job_id)


def test_cancel_a_running_job(console: Console, shared_data: Path) -> None:
    c = console.open(console.local.api_key)
    job_id = c.submit_file(shared_data / RECORDING)
    c.tid("cancel").click()
    c.wait_status("canceled")
    c.page.wait_for_function(
        "id => document.querySelector('[data-testid=notice]').textContent === `job ${id}: canceled`",
        arg=job_id,
    )
    job = console.local.client().job(job_id)
    assert job["status"] == "canceled"
    c.page.wait_for_function(
        "m => document.querySelector('[data-testid=job-note]').textContent === m", arg=job["output"]["error"]
    )
    c.page.locator(f"[data-testid=jobs-list] [data-job-id='{job_id}'][data-status='canceled']").wait_for()


def test_bad_file_shows_the_api_message(console: Console, tmp_path: Path) -> None:
    bad = tmp_path / "<b>notes<i>.wav"
    bad.write_text("this is not audio\n" * 50)
    c = console.open(console.local.api_key)
    job_id = c.submit_file(bad)
    c.wait_status("failed")
    job = console.local.client().job(job_id)
    assert job["error"]["code"] == "input_corrupt"
    error = c.tid("error")
    assert error.is_visible()
    assert error.text_content() == job["error"]["message"]
    # the file name is shown as text, not markup
    assert (c.tid("file-name").text_content() or "").startswith("<b>notes<i>.wav")
    assert c.page.locator("#file-name b").count() == 0


def test_wrong_key_shows_the_api_401_message(console: Console, shared_data: Path) -> None:
    http = urllib3.PoolManager()
    resp = http.request(
        "GET", console.local.api_url + "/v1/test", headers={"Authorization": "Bearer dia_wrong_key"}
    )
    assert resp.status == 401
    message = json.loads(resp.data)["message"]
    c = console.open("dia_wrong_key")
    error = c.tid("error")
    error.wait_for()
    assert error.text_content() == message
    assert c.tid("key-state").text_content() == "key refused"
    # the key is kept for the session only: sessionStorage, never a cookie or the URL
    assert c.page.evaluate("() => sessionStorage.getItem('diarist.apiKey')") == "dia_wrong_key"
    assert c.page.context.cookies() == []
    assert "dia_wrong_key" not in c.page.url
    # the right key then lists the tenant's jobs; forgetting it clears the key and what it showed
    client = console.local.client()
    client.submit_url(client.upload(shared_data / RECORDING))
    c.tid("api-key").fill(console.local.api_key)
    c.tid("save-key").click()
    c.page.locator("[data-testid=job-row]").first.wait_for()
    assert c.tid("error").is_hidden()
    c.tid("forget-key").click()
    assert c.page.evaluate("() => sessionStorage.getItem('diarist.apiKey')") is None
    assert c.page.locator("[data-testid=job-row]").count() == 0


def test_script_in_a_speaker_label_renders_as_text(console: Console, shared_data: Path) -> None:
    """A voiceprint label is user input: an identify job names a speaker with it, and the console
    shows it as text (no element made of it, nothing run)."""
    client = console.local.client()
    media = client.upload(shared_data / RECORDING)
    vp_job = client.wait(client.voiceprint(media)["jobId"], timeout_s=60)
    assert vp_job["status"] == "succeeded", vp_job
    label = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned = 2'>"
    job = client.identify(media, {label: vp_job["output"]["voiceprint"]}, numSpeakers=2)
    done = client.wait(job["jobId"], timeout_s=60)
    assert done["status"] == "succeeded", done
    matched = [v["speaker"] for v in done["output"]["voiceprints"] if v["match"] == label]
    assert matched

    c = console.open(console.local.api_key)
    c.page.locator(f"[data-testid=jobs-list] [data-job-id='{job['jobId']}'] [data-testid=open-job]").click()
    c.wait_status("succeeded")
    row = c.page.locator(f"[data-testid=speaker-row][data-speaker='{matched[0]}']")
    assert row.locator("[data-testid=speaker-name]").input_value() == label
    assert c.page.locator("#timeline script, #timeline img").count() == 0
    assert c.page.evaluate("() => window.__pwned") is None
    _wait_audio(c)  # the job's own input, through GET /v1/jobs/{jobId}/input
    assert ("GET", f"{console.local.api_url}/v1/jobs/{job['jobId']}/input") in c.requests


def test_no_auth_local_mode_and_an_output_read_from_its_url(browser: Any, shared_data: Path) -> None:
    """``diarist local --no-auth``: the console needs no key. And with every output over the inline
    limit, the page reads it from ``outputUrl`` (a presigned GET of the results bucket)."""
    lp = start_local("--engine", "fake", "--no-auth", env={"DIARIST_RESULT_INLINE_MAX_BYTES": "0"})
    try:
        context = browser.new_context(accept_downloads=True)
        c = Console(context.new_page(), lp).open()
        c.page.wait_for_function(
            "() => document.getElementById('key-state').textContent === 'no key needed (local mode)'"
        )
        assert c.tid("error").is_hidden()
        job_id = c.submit_file(shared_data / RECORDING, **{"num-speakers": 2})
        c.wait_status("succeeded")
        job = lp.client().job(job_id)
        assert "output" not in job and job["outputUrl"]
        output = lp.client().output(job)
        assert output is not None
        assert c.tid("speaker-row").count() == len(_speakers(output)) == 2
        assert json.loads(_download(c, "download-json")) == output
        assert not c.csp_violations and not c.page_errors, (c.csp_violations, c.page_errors)
        context.close()
    finally:
        assert stop_local(lp) == 0


def test_local_buckets_answer_cors_for_the_console_origin_only(console_local: LocalProcess) -> None:
    """Local mode's emulator answers CORS as the buckets' rules say (as S3 does): the console's
    origin may upload, any other origin is refused."""
    for origin, allowed in ((console_local.api_url, True), ("http://elsewhere.example", False)):
        resp = urllib3.PoolManager().request(
            "OPTIONS",
            f"{console_local.aws_endpoint}/{LOCAL_MEDIA_BUCKET}/media/local/x.wav",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert (resp.status == 200) is allowed, (origin, resp.status)
        assert (resp.headers.get("Access-Control-Allow-Origin") == origin) is allowed


def test_jobs_list_filter_webhook_attempts_and_delete(
    console: Console, shared_data: Path, receiver: Receiver
) -> None:
    client = console.local.client()
    job_id = client.submit_file(shared_data / RECORDING, webhook=receiver.url)["jobId"]
    assert client.wait(job_id, timeout_s=60)["status"] == "succeeded"
    receiver.wait()
    deadline = time.monotonic() + 30
    while (job := client.job(job_id))["webhook"]["delivery"] != "delivered":
        assert time.monotonic() < deadline, job
        time.sleep(0.2)

    c = console.open(console.local.api_key)
    rows = c.page.locator("[data-testid=jobs-list] [data-testid=job-row]")
    rows.first.wait_for()
    c.tid("status-filter").select_option("succeeded")
    c.page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=job-row]')].every(r => r.dataset.status === 'succeeded')"
    )
    listed = client.jobs(limit=20, status="succeeded")["items"]
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.jobId)") == [j["jobId"] for j in listed]

    # the job's webhook deliveries, as the API recorded them
    row = c.page.locator(f"[data-testid=job-row][data-job-id='{job_id}']")
    row.get_by_test_id("open-job").click()
    c.wait_status("succeeded")
    attempts = job["webhook"]["attempts"]
    cells = (
        c.tid("webhook-attempts")
        .locator("tr")
        .evaluate_all("trs => trs.map(tr => [...tr.cells].map(td => td.textContent))")
    )
    assert [[str(a["attempt"]), str(a["statusCode"])] for a in attempts] == [x[:3:2] for x in cells]

    # delete (a second click confirms): the job's stored audio and result are gone
    c.page.wait_for_load_state("networkidle")  # opening the job refreshed the list
    delete = row.get_by_test_id("delete-job")
    delete.click()
    assert delete.text_content() == "Confirm delete"
    delete.click()
    c.page.wait_for_function(
        "id => document.querySelector('[data-testid=notice]').textContent.startsWith(`job ${id}: `)",
        arg=job_id,
    )
    assert c.tid("notice").text_content().endswith("stored files deleted")
    with pytest.raises(DiaristApiError) as gone:
        client.request("GET", f"/v1/jobs/{job_id}/input")
    assert gone.value.status == 409
