"""Flash records on disk: when a board needs flashing, atomic writes, the cache directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hilrig.capabilities import Capabilities
from hilrig.flash.records import (
    FlashRecord,
    FlashRecords,
    RunningIdentity,
    board_key,
    cache_dir,
)
from hilrig.targets.spec import BoardSpec

V124 = RunningIdentity("3.4.0; MicroPython v1.24.0 on 2024-11-29", "NUCLEO_F429ZI", 0x1606)
V125 = RunningIdentity("3.4.0; MicroPython v1.25.0 on 2025-04-15", "NUCLEO_F429ZI", 0x1606)


class Asked:
    """A running_identity callable that counts how often the board is asked."""

    def __init__(self, answer: RunningIdentity | None) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> RunningIdentity | None:
        self.calls += 1
        return self.answer


def test_no_record_needs_flash_without_asking(tmp_path: Path) -> None:
    asked = Asked(V124)
    assert FlashRecords(tmp_path).needs_flash("probe-1", "aa", asked)
    assert asked.calls == 0


def test_matching_record_and_identity_skip(tmp_path: Path) -> None:
    records = FlashRecords(tmp_path)
    records.record_flash(FlashRecord("probe-1", "aa", "/fw.hex", V124, "stm32"))
    asked = Asked(V124)
    assert not records.needs_flash("probe-1", "aa", asked)
    assert asked.calls == 1


def test_other_file_needs_flash_without_asking(tmp_path: Path) -> None:
    records = FlashRecords(tmp_path)
    records.record_flash(FlashRecord("probe-1", "aa", "/fw.hex", V124, "stm32"))
    asked = Asked(V124)
    assert records.needs_flash("probe-1", "bb", asked)
    assert asked.calls == 0


@pytest.mark.parametrize("running", [V125, None])
def test_other_or_unknown_identity_needs_flash(
    tmp_path: Path, running: RunningIdentity | None
) -> None:
    records = FlashRecords(tmp_path)
    records.record_flash(FlashRecord("probe-1", "aa", "/fw.hex", V124, "stm32"))
    assert records.needs_flash("probe-1", "aa", Asked(running))


def test_record_without_identity_needs_flash(tmp_path: Path) -> None:
    records = FlashRecords(tmp_path)
    records.record_flash(FlashRecord("probe-1", "aa", "/fw.hex", None, "stm32"))
    assert records.needs_flash("probe-1", "aa", Asked(V124))


def test_record_is_json_written_atomically(tmp_path: Path) -> None:
    records = FlashRecords(tmp_path / "flash")
    path = records.record_flash(FlashRecord("probe-1", "aa", "/fw.hex", V124, "stm32"))
    assert [p.name for p in path.parent.iterdir()] == ["probe-1.json"]  # no temp file left
    data = json.loads(path.read_text())
    assert data["version"] == 1
    assert data["firmware_sha256"] == "aa"
    assert data["identity"] == {
        "sys_version": V124.sys_version,
        "build": "NUCLEO_F429ZI",
        "mpy": 0x1606,
        "banner": "",
    }
    assert data["flashed_at"].endswith("+00:00")
    loaded = records.load("probe-1")
    assert loaded is not None and loaded.identity == V124


def test_corrupt_record_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    records = FlashRecords(tmp_path)
    (tmp_path / "probe-1.json").write_text("{not json")
    assert records.load("probe-1") is None
    assert records.needs_flash("probe-1", "aa", Asked(V124))
    assert "ignoring unreadable flash record" in caplog.text


def test_forget_removes_the_record(tmp_path: Path) -> None:
    records = FlashRecords(tmp_path)
    records.record_flash(FlashRecord("probe-1", "aa", "/fw.hex", V124, "stm32"))
    records.forget("probe-1")
    records.forget("probe-1")  # twice is fine
    assert records.load("probe-1") is None


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HILRIG_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert FlashRecords.default().directory == tmp_path / "c" / "flash"
    monkeypatch.delenv("HILRIG_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "hilrig"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "hilrig"


def test_board_key_prefers_the_most_specific_id() -> None:
    assert board_key(BoardSpec(probe_id="0670FF38", usb_serial="x")) == "probe-0670ff38"
    assert board_key(BoardSpec(usb_serial="E6614C31")) == "usb-e6614c31"
    assert board_key(BoardSpec(port="/dev/ttyUSB0")) == "port-dev_ttyusb0"
    assert board_key(BoardSpec(port="rfc2217://lab:2217")) == "port-rfc2217_lab_2217"
    assert board_key(BoardSpec(vid_pid="303A:4001")) == "vidpid-303a_4001"


def test_identity_from_capabilities() -> None:
    caps = Capabilities(
        platform="pyboard",
        version=(1, 24, 0),
        banner="MicroPython v1.24.0",
        sys_version=V124.sys_version,
        mpy=0x1606,
        build="NUCLEO_F429ZI",
    )
    assert RunningIdentity.from_capabilities(caps) == RunningIdentity(
        V124.sys_version, V124.build, V124.mpy, banner="MicroPython v1.24.0"
    )


def test_a_record_without_a_banner_still_loads(tmp_path: Path) -> None:
    records = FlashRecords(tmp_path)
    path = records.record_flash(FlashRecord("mac-x", "ab" * 32, "/fw.bin", V124))
    data = json.loads(path.read_text())
    del data["identity"]["banner"]  # written before the banner was part of the identity
    path.write_text(json.dumps(data))
    loaded = records.load("mac-x")
    assert loaded is not None and loaded.identity == V124
