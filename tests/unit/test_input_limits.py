"""The 1 GiB input limit, at its boundary, everywhere it is enforced: exactly ``MAX_INPUT_BYTES``
is accepted and one byte more refused (the API's HEAD check of ``media://`` uploads, the engine's
S3 HEAD check, its streaming copy and its local-file check), and the engine's default limit is
the service's one constant, not a copy of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from diarist import resources
from diarist.domain.errors import AudioInputError, ErrorCode, ValidationFailed
from diarist.engine.audio import check_file_size
from diarist.engine.fetch import copy_stream_limited, fetch_input
from diarist.engine.options import InputLimits
from diarist.services.inputs import InputResolver
from diarist.settings import ApiSettings

MAX = resources.MAX_INPUT_BYTES


def test_the_engine_default_is_the_service_limit() -> None:
    assert MAX == 1 << 30  # 1 GiB, as documented
    assert InputLimits().max_bytes == MAX
    assert InputLimits().max_duration_s == resources.MAX_INPUT_SECONDS == 24 * 3600


# -- the API: media:// uploads are checked with a HEAD at submission --------------------------------


class HeadOnly:
    """An ``ObjectStore`` whose objects have only a size."""

    def __init__(self, size: int | None) -> None:
        self.size = size

    def head(self, bucket: str, key: str) -> dict[str, Any] | None:
        return None if self.size is None else {"ContentLength": self.size}


def _resolver(size: int | None) -> InputResolver:
    settings = ApiSettings(
        table_name="t", media_bucket="media-b", results_bucket="r", job_queue_url="q", event_bus_name="e"
    )
    return InputResolver(objects=HeadOnly(size), settings=settings)  # type: ignore[arg-type]


def test_media_upload_of_exactly_the_limit_is_accepted_one_byte_more_refused() -> None:
    assert _resolver(MAX).resolve("acme", "media://a.wav", "url") == "s3://media-b/media/acme/a.wav"
    with pytest.raises(ValidationFailed) as err:
        _resolver(MAX + 1).resolve("acme", "media://a.wav", "url")
    assert err.value.errors == [{"field": "url", "message": "media://a.wav is over the 1 GiB input limit"}]
    assert _resolver(1).resolve("acme", "media://a.wav", "url")
    for size in (0, None):
        with pytest.raises(ValidationFailed):
            _resolver(size).resolve("acme", "media://a.wav", "url")


# -- the engine: S3 HEAD, streaming, local files ------------------------------------------------------


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def iter_chunks(self, size: int):  # type: ignore[no-untyped-def]
        for i in range(0, len(self.data), size):
            yield self.data[i : i + size]

    def close(self) -> None:
        pass


class SizedS3:
    """``head_object`` says ``size``; ``get_object`` streams a few bytes (no GiB in a test)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.gets = 0

    def head_object(self, **kw: Any) -> dict[str, Any]:
        return {"ContentLength": self.size}

    def get_object(self, **kw: Any) -> dict[str, Any]:
        self.gets += 1
        return {"Body": Body(b"RIFF0000")}


def test_s3_input_of_exactly_the_limit_is_fetched_one_byte_more_refused_before_download(
    tmp_path: Path,
) -> None:
    at_limit = SizedS3(MAX)
    assert fetch_input("s3://b/a.wav", tmp_path, s3_client=at_limit).read_bytes() == b"RIFF0000"
    over = SizedS3(MAX + 1)
    with pytest.raises(AudioInputError) as err:
        fetch_input("s3://b/a.wav", tmp_path, s3_client=over)
    assert err.value.code == ErrorCode.INPUT_TOO_LARGE and over.gets == 0


@pytest.mark.parametrize("chunk", [1, 7, 1000, 1001])
def test_streaming_copy_stops_one_byte_over_the_limit(tmp_path: Path, chunk: int) -> None:
    limits = InputLimits(max_bytes=1000)
    exact = b"x" * 1000
    chunks = [exact[i : i + chunk] for i in range(0, len(exact), chunk)]
    assert copy_stream_limited(iter(chunks), tmp_path / "ok", limits) == 1000
    more = [*chunks, b"y"]
    with pytest.raises(AudioInputError) as err:
        copy_stream_limited(iter(more), tmp_path / "big", limits)
    assert err.value.code == ErrorCode.INPUT_TOO_LARGE and not (tmp_path / "big").exists()


def test_declared_length_at_the_default_limit(tmp_path: Path) -> None:
    """A Content-Length (https) of exactly 1 GiB is let through to the streaming check; 1 GiB + 1 is
    refused before a byte is read."""
    assert copy_stream_limited(iter([b"RIFF"]), tmp_path / "a", InputLimits(), declared=MAX) == 4
    with pytest.raises(AudioInputError) as err:
        copy_stream_limited(iter([b"RIFF"]), tmp_path / "b", InputLimits(), declared=MAX + 1)
    assert err.value.code == ErrorCode.INPUT_TOO_LARGE


def test_local_file_of_exactly_the_limit_is_accepted_one_byte_more_refused(tmp_path: Path) -> None:
    path = tmp_path / "sparse.wav"
    with path.open("wb") as f:  # sparse: no GiB written
        f.truncate(MAX)
    assert check_file_size(path, InputLimits()) == MAX
    with path.open("r+b") as f:
        f.truncate(MAX + 1)
    with pytest.raises(AudioInputError) as err:
        check_file_size(path, InputLimits())
    assert err.value.code == ErrorCode.INPUT_TOO_LARGE
