"""Every log line written while the API handles a request about a job carries the job's id and
the tenant's (``observability.job_context`` around the service call)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Api, finish_with_result, small_result

pytestmark = pytest.mark.integration

AUDIO = "https://audio.example.com/call.wav"


class _StderrNow:
    """Writes to ``sys.stderr`` as it is at write time (pytest swaps it for ``capsys``); the log
    handler keeps the stream it was built with otherwise."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@pytest.fixture
def info_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """INFO log lines on the captured stderr (local mode quiets the library loggers when a test
    before this one started it)."""
    from diarist import observability

    for handler in observability.logger.handlers:
        monkeypatch.setattr(handler, "stream", _StderrNow())
    names = (observability.logger.name, *observability.LIBRARY_LOGGERS)
    before = {name: logging.getLogger(name).level for name in names}
    observability.set_level(logging.INFO)
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def _log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _assert_job_scoped(lines: list[dict[str, Any]], job_id: str) -> None:
    assert lines, "nothing was logged: the test would prove nothing"
    for line in lines:
        assert line.get("job_id") == job_id and line.get("tenant_id") == "tenant-a", line


def test_job_scoped_requests_log_the_job_and_tenant_ids(
    api: Api, info_logs: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.api import deps

    capsys.readouterr()

    # a submission: the service logs "job submitted" with the id chosen before the call
    r = api.call("POST", "/v1/diarize", body={"url": AUDIO})
    assert r.status == 200, r.body
    job_id = r.body["jobId"]
    lines = _log_lines(capsys.readouterr().err)
    assert any(line["message"] == "job submitted" for line in lines)
    _assert_job_scoped(lines, job_id)

    # a read: a line the service writes (a stdlib logger under diarist.services) carries both ids
    reader = deps.reader()
    real_output = reader.output

    def logging_output(tenant_id: str, job_id: str) -> Any:
        logging.getLogger("diarist.services.reading").info("reading the job")
        return real_output(tenant_id, job_id)

    monkeypatch.setattr(reader, "output", logging_output)
    finish_with_result(api, job_id, "tenant-a", small_result())
    capsys.readouterr()
    r = api.call("GET", f"/v1/jobs/{job_id}")
    assert r.status == 200 and r.body["status"] == "succeeded"
    lines = _log_lines(capsys.readouterr().err)
    assert [line["message"] for line in lines] == ["reading the job"]
    _assert_job_scoped(lines, job_id)

    # after the request, its keys are gone: a line outside any request has neither the job's id
    # nor the tenant's (local mode serves every tenant from the same few threads)
    logging.getLogger("diarist.services.reading").info("between requests")
    (line,) = _log_lines(capsys.readouterr().err)
    assert "job_id" not in line and "tenant_id" not in line, line
