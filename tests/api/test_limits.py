"""Per-tenant limits through the real API handler against the moto server: requests per minute and
active jobs, defaults vs overrides, the 429s of both dialects with their headers, slots given back
by every way a job ends, tenant isolation, and bad admin input."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from diarist.domain.limits import CLAIM_GRACE_S, Slot
from tests.api.conftest import Api, finish_with_result, small_result
from tests.api.events import multipart_body

pytestmark = pytest.mark.integration

AUDIO = {"url": "https://example.com/a.wav"}
PHONEXIA = "/api/technology/speaker-diarization"
NOW = 1_800_000_010.0  # 10 s into a window: it ends at 1_800_000_060


@pytest.fixture
def limited(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API with default limits of 3 requests per minute and 2 active jobs, its clock fixed."""
    from diarist.settings import load
    from functions.api import deps

    monkeypatch.setenv("DIARIST_REQUESTS_PER_MINUTE_PER_TENANT", "3")
    monkeypatch.setenv("DIARIST_MAX_ACTIVE_JOBS_PER_TENANT", "2")
    monkeypatch.setenv("DIARIST_TENANT_LIMITS_CACHE_TTL_S", "0")
    load.cache_clear()
    deps.reset()
    deps.limits()._clock = lambda: NOW
    deps.limits().rescan_after_s = 0
    yield api
    load.cache_clear()
    deps.reset()


def _set_clock(now: float) -> None:
    from functions.api import deps

    deps.limits()._clock = lambda: now


def _no_rate_limit(monkeypatch: pytest.MonkeyPatch, max_active: int) -> None:
    from diarist.settings import load
    from functions.api import deps

    monkeypatch.setenv("DIARIST_REQUESTS_PER_MINUTE_PER_TENANT", "0")
    monkeypatch.setenv("DIARIST_MAX_ACTIVE_JOBS_PER_TENANT", str(max_active))
    monkeypatch.setenv("DIARIST_TENANT_LIMITS_CACHE_TTL_S", "0")
    load.cache_clear()
    deps.reset()
    deps.limits().rescan_after_s = 0  # every refusal checks the held jobs (tested on its own below)


# --- requests per minute ---------------------------------------------------------------------------


def test_requests_over_the_limit_get_pyannote_429_with_rate_headers(limited: Api) -> None:
    remaining = []
    for _ in range(3):
        r = limited.call("GET", "/v1/test")
        assert r.status == 200, r.body
        assert r.headers["x-ratelimit-limit"] == "3"
        remaining.append(r.headers["x-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]

    r = limited.call("GET", "/v1/test")
    assert r.status == 429
    assert r.body["message"].startswith("rate limit exceeded: 3 requests per minute")
    assert r.body["requestId"]  # pyannoteAI's 429 body
    assert r.headers["retry-after"] == "50"
    assert r.headers["x-ratelimit-reset"] == "1800000060"
    assert r.headers["x-ratelimit-limit"] == "3"
    assert r.headers["x-ratelimit-remaining"] == "0"
    # a refused request is not counted, and the next window admits again
    _set_clock(NOW + 60)
    r = limited.call("GET", "/v1/test")
    assert r.status == 200 and r.headers["x-ratelimit-remaining"] == "2"


def test_phonexia_429_in_phonexia_shape_with_the_same_headers(limited: Api) -> None:
    for _ in range(3):
        assert limited.call("GET", "/v1/test").status == 200
    r = limited.call("GET", f"{PHONEXIA}/00000000-0000-0000-0000-000000000000")
    assert r.status == 429
    assert r.body["type"] == "too_many_requests" and r.body["title"] == "Too Many Requests"
    assert "3 requests per minute" in r.body["detail"][0]
    assert r.headers["retry-after"] == "50" and r.headers["x-ratelimit-reset"] == "1800000060"
    assert r.headers["x-ratelimit-limit"] == "3" and r.headers["x-ratelimit-remaining"] == "0"


def test_request_limits_are_per_tenant_and_overrides_win(limited: Api) -> None:
    from functions.api import deps

    deps.limits().set_limits("tenant-b", requests_per_minute=5)
    for _ in range(3):
        assert limited.call("GET", "/v1/test").status == 200
    assert limited.call("GET", "/v1/test").status == 429
    # tenant-b has its own window and its override (5), not the default (3)
    seen = [limited.call("GET", "/v1/test", token=limited.key_b) for _ in range(6)]
    assert [r.status for r in seen] == [200] * 5 + [429]
    assert seen[0].headers["x-ratelimit-limit"] == "5"
    # an override of 0 lifts the limit; clearing it brings the default back
    deps.limits().set_limits("tenant-a", requests_per_minute=0)
    r = limited.call("GET", "/v1/test")
    assert r.status == 200 and "x-ratelimit-limit" not in r.headers
    deps.limits().set_limits("tenant-a", clear=("requests_per_minute",))
    assert limited.call("GET", "/v1/test").status == 429


def test_error_responses_carry_the_rate_headers_too(limited: Api) -> None:
    r = limited.call("GET", "/v1/jobs/no-such-job")
    assert r.status == 404
    assert r.headers["x-ratelimit-limit"] == "3" and r.headers["x-ratelimit-remaining"] == "2"
    # a request without a valid key is refused before it is counted
    assert limited.call("GET", "/v1/test", token=False).status == 401
    assert limited.call("GET", "/v1/test").headers["x-ratelimit-remaining"] == "1"


# --- active jobs -----------------------------------------------------------------------------------


def test_active_job_limit_429_then_a_finished_job_frees_its_slot(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_rate_limit(monkeypatch, max_active=2)
    first = api.call("POST", "/v1/diarize", body=AUDIO)
    second = api.call("POST", "/v1/diarize", body=AUDIO)
    assert first.status == second.status == 200
    third = api.call("POST", "/v1/diarize", body=AUDIO, headers={"Idempotency-Key": "k-3"})
    assert third.status == 429
    assert third.body["message"].startswith("too many active jobs: at most 2")
    assert third.headers["retry-after"] == "30" and "x-ratelimit-reset" in third.headers
    assert len(api.queue_messages()) == 2  # nothing stored or queued for the refused one
    # another tenant is not affected
    assert api.call("POST", "/v1/diarize", body=AUDIO, token=api.key_b).status == 200
    # the job ends (the worker's write, not the API's): its slot is given back on the next submit
    finish_with_result(api, first.body["jobId"], "tenant-a", small_result())
    again = api.call("POST", "/v1/diarize", body=AUDIO, headers={"Idempotency-Key": "k-3"})
    assert again.status == 200, again.body  # the refused request's Idempotency-Key was released
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 429


def test_every_way_a_job_ends_gives_its_slot_back(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from diarist.adapters.events import EventBridgeBus
    from diarist.services.lifecycle import fail_job
    from functions.api import deps

    _no_rate_limit(monkeypatch, max_active=3)
    ids = [api.call("POST", "/v1/diarize", body=AUDIO).body["jobId"] for _ in range(3)]
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 429
    assert deps.limits().usage("tenant-a").active_jobs == 3
    # cancel; delete (an active job is canceled); a failure handler's fail (sweeper, DLQ, Batch)
    assert api.call("POST", f"/v1/jobs/{ids[0]}/cancel").status == 200
    assert api.call("DELETE", f"/v1/jobs/{ids[1]}?purge=true").status == 200
    events = EventBridgeBus(api.resources.event_bus)
    assert fail_job(api.store, events, ids[2], "worker_lost", "gone") is not None
    assert deps.limits().usage("tenant-a").active_jobs == 0
    fresh = [api.call("POST", "/v1/diarize", body=AUDIO) for _ in range(4)]
    assert [r.status for r in fresh] == [200, 200, 200, 429]
    # a job record that is gone (TTL) holds no slot either, once the claim's grace is over
    api.store.delete(fresh[0].body["jobId"])
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 429
    _set_clock(time.time() + CLAIM_GRACE_S + 1)
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 200


def test_a_slot_claimed_for_a_job_not_written_yet_is_kept_for_the_grace(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.api import deps

    _no_rate_limit(monkeypatch, max_active=1)
    limits = deps.limits()
    now = time.time()
    # another API call claimed the slot and is about to write its job (or died in between)
    assert limits.tenants.claim_slot("tenant-a", Slot("in-flight", int(now)), limit=1)
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 429
    _set_clock(now + CLAIM_GRACE_S - 5)
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 429
    _set_clock(now + CLAIM_GRACE_S + 5)
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 200


def test_a_job_write_that_fails_gives_its_slot_back(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.api import deps

    _no_rate_limit(monkeypatch, max_active=1)

    def refused(job: object) -> None:
        raise RuntimeError("DynamoDB is down")

    with monkeypatch.context() as patch:
        patch.setattr(deps.limits().jobs, "create", refused)
        assert api.call("POST", "/v1/diarize", body=AUDIO).status == 500
    assert deps.limits().tenants.slots("tenant-a") == []
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 200


def test_a_job_write_that_landed_but_answered_an_error_keeps_its_slot(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.api import deps

    _no_rate_limit(monkeypatch, max_active=1)
    store = deps.limits().jobs
    real_create = store.create

    def landed_then_failed(job):  # the write went through, its answer was lost
        real_create(job)
        raise RuntimeError("read timeout")

    with monkeypatch.context() as patch:
        patch.setattr(store, "create", landed_then_failed)
        assert api.call("POST", "/v1/diarize", body=AUDIO).status == 500
    assert len(deps.limits().tenants.slots("tenant-a")) == 1  # the job exists (pending): it counts
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 429


def test_a_job_that_could_not_be_queued_holds_no_slot(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.api import deps

    _no_rate_limit(monkeypatch, max_active=1)

    def down(message: object) -> None:
        raise RuntimeError("SQS is down")

    with monkeypatch.context() as patch:
        patch.setattr(deps.submissions().queue, "send", down)
        assert api.call("POST", "/v1/diarize", body=AUDIO).status == 503
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 200


def test_phonexia_upload_over_the_active_job_limit(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_rate_limit(monkeypatch, max_active=1)
    body, ctype = multipart_body({"file": ("a.wav", "audio/wav", b"RIFF....WAVE")})
    assert api.call("POST", PHONEXIA, body=body, headers={"Content-Type": ctype}).status == 202
    r = api.call("POST", PHONEXIA, body=body, headers={"Content-Type": ctype})
    assert r.status == 429
    assert r.body["type"] == "too_many_requests" and "too many active jobs" in r.body["detail"][0]
    assert r.headers["retry-after"] == "30"


def test_racing_submissions_never_exceed_the_limit(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_rate_limit(monkeypatch, max_active=3)
    statuses: list[int] = []
    lock = threading.Lock()

    def submit() -> None:
        r = api.call("POST", "/v1/diarize", body=AUDIO)
        with lock:
            statuses.append(r.status)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 3 + [429] * 5
    from functions.api import deps

    assert deps.limits().usage("tenant-a").active_jobs == 3


def test_no_limit_means_no_slot_and_no_headers(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.api import deps

    _no_rate_limit(monkeypatch, max_active=0)
    replies = [api.call("POST", "/v1/diarize", body=AUDIO) for _ in range(4)]
    assert all(r.status == 200 and "x-ratelimit-limit" not in r.headers for r in replies)
    assert deps.limits().usage("tenant-a").active_jobs == 0  # not tracked: documented


def test_a_tenant_at_its_limit_rechecks_its_jobs_at_most_every_few_seconds(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.api import deps

    _no_rate_limit(monkeypatch, max_active=1)
    limits = deps.limits()
    limits.rescan_after_s = 3600
    reads = []
    real_get = limits.jobs.get
    monkeypatch.setattr(limits.jobs, "get", lambda job_id: reads.append(job_id) or real_get(job_id))
    held = api.call("POST", "/v1/diarize", body=AUDIO).body["jobId"]
    assert [api.call("POST", "/v1/diarize", body=AUDIO).status for _ in range(5)] == [429] * 5
    assert reads == [held]  # one check; the next refusals within rescan_after_s read nothing
    api.call("POST", f"/v1/jobs/{held}/cancel")
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 429  # freed at the next check ...
    limits.rescan_after_s = 0
    assert api.call("POST", "/v1/diarize", body=AUDIO).status == 200  # ... which comes


# --- the operator's side ---------------------------------------------------------------------------


def test_usage_shows_overrides_defaults_and_counts(limited: Api) -> None:
    from functions.api import deps

    limits = deps.limits()
    limits.set_limits("tenant-a", max_active_jobs=5)
    assert limited.call("POST", "/v1/diarize", body=AUDIO).status == 200
    u = limits.usage("tenant-a")
    assert u.overrides.max_active_jobs == 5 and u.overrides.requests_per_minute is None
    assert u.in_effect.max_active_jobs == 5 and u.in_effect.requests_per_minute == 3
    assert u.active_jobs == 1 and u.requests_this_minute == 1 and u.window_reset_at == 1_800_000_060
    other = limits.usage("tenant-b")
    assert other.active_jobs == 0 and other.requests_this_minute == 0 and other.in_effect.max_active_jobs == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_active_jobs": -1}, "max_active_jobs"),
        ({"max_active_jobs": 5001}, "max_active_jobs"),
        ({"requests_per_minute": -5}, "requests_per_minute"),
        ({"requests_per_minute": 3, "clear": ("requests_per_minute",)}, "requests_per_minute"),
        ({"clear": ("bogus",)}, "bogus"),
    ],
)
def test_bad_limits_are_refused_naming_the_field(api: Api, kwargs: dict, field: str) -> None:
    from diarist.domain.errors import ValidationFailed
    from functions.api import deps

    with pytest.raises(ValidationFailed) as e:
        deps.limits().set_limits("tenant-a", **kwargs)
    assert [x["field"] for x in e.value.errors] == [field]
    with pytest.raises(ValidationFailed) as e:
        deps.limits().usage("no/such tenant")
    assert e.value.errors[0]["field"] == "tenant"
