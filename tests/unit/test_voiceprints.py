"""Voiceprint blobs, calibration, matching and comparison (``diarist.domain.voiceprints``): no torch."""

from __future__ import annotations

import base64
import itertools
import math
import random
import struct
import subprocess
import sys
import zlib

import pytest

from diarist.domain.errors import ErrorCode, VoiceprintError, VoiceprintInvalid, VoiceprintModelMismatch
from diarist.domain.voiceprints import (
    CALIBRATION_CENTER,
    DEFAULT_THRESHOLD,
    FORMAT_VERSION,
    MAGIC,
    MAX_DIM,
    MAX_VOICEPRINT_CHARS,
    Voiceprint,
    calibration_fitted,
    compare_voiceprints,
    confidence_from_cosine,
    decode_voiceprint,
    encode_voiceprint,
    log_likelihood_ratio,
    match_speakers,
    score_from_cosine,
    voiceprint_label_problems,
)

MODEL = "campplus-3dspeaker-92f29b94e694"


def _vector(seed: int, dim: int = 192) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0, 1) for _ in range(dim)]


def _blob(model: str = MODEL, dim: int = 192, version: int = FORMAT_VERSION, magic: bytes = MAGIC) -> bytes:
    """A blob built by hand from the documented layout (not with the encoder under test)."""
    vec = _vector(1, dim)
    norm = math.sqrt(sum(x * x for x in vec))
    mid = model.encode()
    body = (
        magic
        + bytes([version, len(mid)])
        + mid
        + struct.pack("<Hf", dim, 12.5)
        + struct.pack(f"<{dim}f", *(x / norm for x in vec))
    )
    return body + struct.pack("<I", zlib.crc32(body))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- blob ---------------------------------------------------------------------------------------------


def test_round_trip_and_documented_layout() -> None:
    text = encode_voiceprint(MODEL, _vector(1), speech_s=12.5)
    assert text == _b64(_blob())  # the encoder writes exactly the documented layout
    vp = decode_voiceprint(text, MODEL)
    assert vp.model == MODEL and vp.dim == 192 and vp.speech_s == 12.5
    assert math.isclose(sum(x * x for x in vp.vector), 1.0, rel_tol=1e-5)
    assert len(text) < 1200 < MAX_VOICEPRINT_CHARS
    assert decode_voiceprint(text[:500] + "\n  " + text[500:]) == vp  # whitespace is ignored


def test_the_largest_dimension_fits_pyannoteais_limit() -> None:
    assert len(encode_voiceprint(MODEL, _vector(2, MAX_DIM))) <= MAX_VOICEPRINT_CHARS


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not a voiceprint!", "not base64"),
        ("aGVsbG8gd29ybGQ", "not base64"),  # pyannoteAI's documented example: unpadded
        ("aGVsbG8gd29ybGQ=", "not a Diarist voiceprint"),  # base64 of "hello world"
        ("A" * (MAX_VOICEPRINT_CHARS + 4), "over the 20000 limit"),
    ],
)
def test_garbage_is_refused_with_a_reason(text: str, match: str) -> None:
    with pytest.raises(VoiceprintInvalid, match=match) as exc:
        decode_voiceprint(text)
    assert exc.value.code == ErrorCode.VOICEPRINT_INVALID


def test_truncated_blob_is_refused() -> None:
    raw = _blob()
    for cut in (5, 20, len(raw) // 2, len(raw) - 4, len(raw) - 1):
        with pytest.raises(VoiceprintInvalid, match="truncated|not base64|not a Diarist"):
            decode_voiceprint(_b64(raw[:cut]))
    text = _b64(raw)
    with pytest.raises(VoiceprintInvalid):  # cut in the base64 text itself
        decode_voiceprint(text[: len(text) - 7])


def test_wrong_magic_version_dimension_checksum_and_values() -> None:
    with pytest.raises(VoiceprintInvalid, match="not a Diarist voiceprint"):
        decode_voiceprint(_b64(_blob(magic=b"XVPR")))
    with pytest.raises(VoiceprintInvalid, match="version 2 is not supported"):
        decode_voiceprint(_b64(_blob(version=2)))
    raw = bytearray(_blob())
    off = 6 + len(MODEL)
    struct.pack_into("<H", raw, off, 191)  # header says 191 values, 192 follow
    with pytest.raises(VoiceprintInvalid, match="longer than its header says"):
        decode_voiceprint(_b64(bytes(raw)))
    struct.pack_into("<H", raw, off, 0)
    with pytest.raises(VoiceprintInvalid, match="dimension 0"):
        decode_voiceprint(_b64(bytes(raw)))
    raw = bytearray(_blob())
    raw[off + 10] ^= 0xFF  # one flipped byte in the vector
    with pytest.raises(VoiceprintInvalid, match="checksum"):
        decode_voiceprint(_b64(bytes(raw)))
    body = bytearray(_blob()[:-4])
    struct.pack_into("<f", body, off + 6, 3.0)  # not unit norm any more, valid checksum
    with pytest.raises(VoiceprintInvalid, match="not a valid embedding"):
        decode_voiceprint(_b64(bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))))


def test_another_models_voiceprint_is_refused_never_compared() -> None:
    other = _b64(_blob(model="campplus-3dspeaker-000000000000"))
    assert decode_voiceprint(other).model == "campplus-3dspeaker-000000000000"  # well formed
    with pytest.raises(VoiceprintModelMismatch, match="campplus-3dspeaker-000000000000") as exc:
        decode_voiceprint(other, MODEL, field="voiceprints[1].voiceprint")
    assert exc.value.code == ErrorCode.VOICEPRINT_MODEL_MISMATCH
    assert exc.value.field == "voiceprints[1].voiceprint" and str(exc.value).startswith("voiceprints[1]")
    a = decode_voiceprint(_b64(_blob()))
    with pytest.raises(VoiceprintModelMismatch):
        a.cosine(decode_voiceprint(other))
    with pytest.raises(VoiceprintModelMismatch, match=r"voiceprints_b\[0\]"):
        compare_voiceprints([_b64(_blob())], [other])


def test_voiceprint_errors_are_input_errors_for_the_worker() -> None:
    from diarist.domain.errors import AudioInputError

    assert issubclass(VoiceprintError, AudioInputError)
    assert issubclass(VoiceprintInvalid, VoiceprintError) and issubclass(
        VoiceprintModelMismatch, VoiceprintError
    )


def test_create_refuses_unusable_vectors() -> None:
    for bad in ([], [0.0] * 8, [math.nan] * 8, [1.0] * (MAX_DIM + 1)):
        with pytest.raises(ValueError):
            Voiceprint.create(MODEL, bad)
    with pytest.raises(ValueError):
        Voiceprint.create("has spaces", [1.0])


def test_module_needs_no_numpy_or_torch() -> None:
    code = (
        "import sys; sys.modules['numpy'] = None; import diarist.domain.voiceprints as v; "
        "t = v.encode_voiceprint('m', [1.0, 2.0]); print(v.compare_voiceprints([t], [t, t]).values, "
        "'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "False" and out.startswith("[")


# -- calibration --------------------------------------------------------------------------------------


def test_calibration_is_monotonic_bounded_and_centred() -> None:
    cosines = [i / 500 - 1 for i in range(1001)]
    scores = [score_from_cosine(c) for c in cosines]
    assert all(0.0 <= s <= 100.0 for s in scores)
    assert all(b >= a for a, b in itertools.pairwise(scores))
    ints = [confidence_from_cosine(c) for c in cosines]
    assert all(isinstance(i, int) and 0 <= i <= 100 for i in ints)
    assert all(b >= a for a, b in itertools.pairwise(ints))
    assert score_from_cosine(CALIBRATION_CENTER) == pytest.approx(50.0)
    assert log_likelihood_ratio(CALIBRATION_CENTER) == pytest.approx(0.0)
    assert confidence_from_cosine(1.0) >= 99 and confidence_from_cosine(-1.0) == 0
    assert score_from_cosine(5.0) == score_from_cosine(1.0)  # clamped to [-1, 1]
    assert calibration_fitted(MODEL) and not calibration_fitted("pipeline-embedding-abc")


# -- matching -----------------------------------------------------------------------------------------


def test_not_exclusive_takes_each_speakers_best_label() -> None:
    scores = [[90, 20], [80, 10], [10, 40]]
    assert match_speakers(scores, exclusive=False, threshold=0) == [0, 0, 1]
    assert match_speakers(scores, exclusive=False, threshold=50) == [0, 0, None]


def test_exclusive_is_one_to_one_and_optimal() -> None:
    scores = [[90, 85], [80, 10]]
    # greedy would give speaker 0 -> label 0 and leave speaker 1 with 10; the optimum swaps
    assert match_speakers(scores, exclusive=True, threshold=0) == [1, 0]
    assert match_speakers(scores, exclusive=True, threshold=50) == [1, 0]
    assert match_speakers([[90, 85], [80, 10]], exclusive=True, threshold=86) == [0, None]
    # more speakers than labels: the best speaker per label, the others unmatched
    assert match_speakers([[70], [95], [60]], exclusive=True, threshold=0) == [None, 0, None]
    assert match_speakers([[10, 20, 95]], exclusive=True, threshold=0) == [2]


def test_threshold_is_inclusive_and_zero_matches_everything_possible() -> None:
    assert match_speakers([[50]], threshold=50) == [0]
    assert match_speakers([[49]], threshold=50) == [None]
    assert match_speakers([[0, 0], [0, 0]], exclusive=True, threshold=0) in ([0, 1], [1, 0])
    assert match_speakers([[0]], exclusive=False, threshold=0) == [0]


def test_ties() -> None:
    assert match_speakers([[70, 70]], exclusive=False, threshold=0) == [0]  # the label given first
    tied = [[80, 80], [80, 80]]
    first = match_speakers(tied, exclusive=True, threshold=0)
    assert sorted(first) == [0, 1]  # one each, never both on one label
    assert all(match_speakers(tied, exclusive=True, threshold=0) == first for _ in range(5))  # deterministic
    # equal totals: more matches win over one match
    assert match_speakers([[100, 60], [40, 0]], exclusive=True, threshold=1) == [1, 0]


def test_exclusive_matches_scipys_optimum() -> None:
    np = pytest.importorskip("numpy")
    optimize = pytest.importorskip("scipy.optimize")
    rng = random.Random(7)
    for _ in range(300):
        n, m = rng.randint(1, 8), rng.randint(1, 8)
        thr = rng.choice([0, 30, 50, 70])
        scores = [[rng.randint(0, 100) for _ in range(m)] for _ in range(n)]
        got = match_speakers(scores, exclusive=True, threshold=thr)
        used = [j for j in got if j is not None]
        assert len(used) == len(set(used))
        assert all(j is None or scores[i][j] >= thr for i, j in enumerate(got))
        allowed = np.array([[s if s >= thr else 0 for s in r] for r in scores])
        rows, cols = optimize.linear_sum_assignment(allowed, maximize=True)
        assert sum(scores[i][j] for i, j in enumerate(got) if j is not None) == allowed[rows, cols].sum()


def test_matching_inputs_are_checked() -> None:
    assert match_speakers([], threshold=10) == []
    assert match_speakers([[], []]) == [None, None]
    with pytest.raises(ValueError):
        match_speakers([[1, 2], [3]])
    for bad in (-1, 101):
        with pytest.raises(ValueError):
            match_speakers([[1]], threshold=bad)
    assert 0 <= DEFAULT_THRESHOLD <= 100


# -- labels and comparison ------------------------------------------------------------------------------


def test_label_rules() -> None:
    assert voiceprint_label_problems(["Sam", "Rick"]) == []
    assert voiceprint_label_problems([]) == [(None, "give 1 to 50 voiceprints, not 0")]
    assert [i for i, _ in voiceprint_label_problems([f"x{i}" for i in range(51)])] == [None]
    problems = voiceprint_label_problems(["SPEAKER_00", "speaker_1", "ok", "ok", "", "x" * 101])
    assert [i for i, _ in problems] == [0, 1, 3, 4, 5]


def test_comparison_matrix_rows_are_b_columns_are_a() -> None:
    a = [encode_voiceprint(MODEL, _vector(s)) for s in (1, 2, 3)]
    b = [a[2], encode_voiceprint(MODEL, _vector(9))]
    m = compare_voiceprints(a, b, MODEL)
    assert (m.columns_count, m.rows_count, len(m.values)) == (3, 2, 6)
    same = log_likelihood_ratio(1.0)
    assert m.values[2] == pytest.approx(same, abs=1e-3)  # row 0 (= a[2]) x column 2 (a[2])
    assert max(m.values) == m.values[2] and m.values[2] > 0
    assert all(v < 0 for k, v in enumerate(m.values) if k != 2)  # random vectors: different speakers
    assert compare_voiceprints([], b).values == []
