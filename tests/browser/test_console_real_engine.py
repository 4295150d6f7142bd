"""The console on a real result: local mode with the real engine (CPU, the real weights) diarizes a
real 30 s recording uploaded in the browser, transcribed (Whisper base). With ``DIARIST_CONSOLE_SCREENSHOT=docs/console.png``
this test writes the README's screenshot."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diarist.client.render import to_rttm, to_vtt
from tests.browser.conftest import SCREENSHOT_ENV, Console
from tests.e2e.conftest import LocalProcess, start_local, stop_local

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.engine]


def _overlaps(output: dict[str, Any]) -> list[tuple[float, float]]:
    """Stretches where two or more turns are active at once."""
    edges = sorted(
        [(t["start"], 1) for t in output["diarization"]] + [(t["end"], -1) for t in output["diarization"]]
    )
    found, active, since = [], 0, 0.0
    for at, step in edges:
        if active < 2 <= active + step:
            since = at
        if active >= 2 > active + step and at > since:
            found.append((since, at))
        active += step
    return found


@pytest.fixture(scope="module")
def real_local() -> Iterator[LocalProcess]:
    lp = start_local("--engine", "pyannote")
    yield lp
    assert stop_local(lp) == 0, "".join(lp.lines[-30:])


def test_real_result_in_the_browser(browser: Any, real_local: LocalProcess, shared_data: Path) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    try:
        c = Console(context.new_page(), real_local).open(real_local.api_key)
        job_id = c.submit_file(
            shared_data / "pyannote_sample_30s.wav", confidence=True, exclusive=True, transcription=True
        )
        c.wait_status("succeeded", timeout_ms=300_000)
        output = real_local.client().job(job_id)["output"]
        speakers = {t["speaker"] for t in output["diarization"]}
        assert len(speakers) == 2  # the recording has two speakers (its reference RTTM)
        assert c.tid("speaker-row").count() == len(speakers)
        assert c.tid("turn").count() == len(output["diarization"])
        # overlapped speech: one bar per stretch where both speakers talk
        assert c.page.locator("[data-testid=overlap-row] .overlap").count() == len(_overlaps(output))
        assert c.tid("confidence-curve").count() == 1
        with c.page.expect_download() as info:
            c.tid("download-rttm").click()
        assert Path(info.value.path()).read_bytes().decode() == to_rttm(output, job_id)
        # the transcript: one line per turn-level item, the words heard; the VTT as the client writes it
        items = output["turnLevelTranscription"]
        assert c.tid("transcript-line").count() == len(items) > 0
        shown = " ".join(c.page.locator("[data-testid=transcript-text]").all_text_contents()).lower()
        assert len(shown.split()) > 20, shown
        with c.page.expect_download() as info:
            c.tid("download-vtt").click()
        assert Path(info.value.path()).read_bytes().decode() == to_vtt(output)
        c.page.wait_for_function(
            "() => document.querySelector('#waveform > div')?.shadowRoot?.querySelector('canvas') != null",
            timeout=30_000,
        )
        if os.environ.get(SCREENSHOT_ENV):
            first = c.tid("speaker-row").first.locator("[data-testid=speaker-name]")
            first.fill("Host")
            first.press("Enter")
            line = c.tid("transcript-line").nth(len(items) // 2)  # plays from there, highlighted
            line.click()
            c.tid("audio").evaluate("a => a.pause()")
            c.page.wait_for_timeout(300)
            c.page.screenshot(path=os.environ[SCREENSHOT_ENV], full_page=True)
        assert not c.csp_violations and not c.page_errors, (c.csp_violations, c.page_errors)
    finally:
        context.close()
