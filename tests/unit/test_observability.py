"""``diarist.observability``: the job keys on library modules' log lines, per thread, only inside
``job_context``."""

from __future__ import annotations

import logging
import threading

import pytest

from diarist.observability import job_context, logger, set_level
from tests.logs import at_info, json_lines

LIBRARY = logging.getLogger("diarist.services.example")


def test_a_library_line_inside_job_context_carries_the_job_keys(capfd: pytest.CaptureFixture[str]) -> None:
    with at_info():
        LIBRARY.info("before")
        with job_context("job-1", "tenant-1"):
            LIBRARY.info("inside", extra={"detail": 7})
        LIBRARY.info("after")
    before, inside, after = json_lines(capfd.readouterr().err)
    assert inside["message"] == "inside" and inside["logger"] == "diarist.services.example"
    assert (inside["job_id"], inside["tenant_id"], inside["detail"]) == ("job-1", "tenant-1", 7)
    for line in (before, after):
        assert "job_id" not in line and "tenant_id" not in line


def test_job_keys_are_per_thread(capfd: pytest.CaptureFixture[str]) -> None:
    inside = threading.Event()
    logged = threading.Event()

    def other_thread() -> None:
        inside.wait(5)
        LIBRARY.info("other thread")
        with job_context("job-2", "tenant-2"):
            LIBRARY.info("other job")
        logged.set()

    with at_info():
        thread = threading.Thread(target=other_thread)
        thread.start()
        with job_context("job-1", "tenant-1"):
            inside.set()
            assert logged.wait(5)
            LIBRARY.info("this thread")
        thread.join(5)
    lines = {line["message"]: line for line in json_lines(capfd.readouterr().err)}
    assert "job_id" not in lines["other thread"]
    assert (lines["other job"]["job_id"], lines["other job"]["tenant_id"]) == ("job-2", "tenant-2")
    assert (lines["this thread"]["job_id"], lines["this thread"]["tenant_id"]) == ("job-1", "tenant-1")


def test_nested_contexts_restore_the_outer_job(capfd: pytest.CaptureFixture[str]) -> None:
    with at_info():
        with job_context("outer", "t-outer"):
            with job_context("inner"):
                LIBRARY.info("inner")
            LIBRARY.info("outer again")
        LIBRARY.info("none")
    inner, outer, none = json_lines(capfd.readouterr().err)
    assert inner["job_id"] == "inner" and "tenant_id" not in inner
    assert (outer["job_id"], outer["tenant_id"]) == ("outer", "t-outer")
    assert "job_id" not in none and "tenant_id" not in none


def test_console_lines_are_readable_and_keep_the_job_keys(capfd: pytest.CaptureFixture[str]) -> None:
    handler = logger.registered_handler
    json_formatter = handler.formatter
    try:
        with at_info():
            set_level(logging.INFO, console=True)
            with job_context("job-1", "tenant-1"):
                LIBRARY.warning("look")
    finally:
        handler.setFormatter(json_formatter)
    (line,) = capfd.readouterr().err.splitlines()
    assert line.endswith(" diarist.services.example WARNING look [job_id=job-1 tenant_id=tenant-1]")


def test_under_an_xray_segment_each_job_is_an_annotated_subsegment() -> None:
    """What a traced Lambda invocation records (the suite turns tracing off: turned on here)."""
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core import xray_recorder

    was_enabled = global_sdk_config.sdk_enabled()
    global_sdk_config.set_sdk_enabled(True)
    try:
        segment = xray_recorder.begin_segment("invocation", sampling=1)
        with job_context("job-1", "tenant-1"):
            job = xray_recorder.current_subsegment()
        with job_context("job-2", "tenant-2"):
            other = xray_recorder.current_subsegment()
        assert job is not None and other is not None and job is not other
        assert (job.name, job.parent_id) == ("## job", segment.id)
        assert job.annotations == {"job_id": "job-1", "tenant_id": "tenant-1"}
        assert other.annotations == {"job_id": "job-2", "tenant_id": "tenant-2"}
        assert job.in_progress is False and segment.subsegments == [job, other]
    finally:
        xray_recorder.clear_trace_entities()
        global_sdk_config.set_sdk_enabled(was_enabled)
