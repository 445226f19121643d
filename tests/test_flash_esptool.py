"""esptool flashing and the ESP hard reset: real esptool where it runs without a chip.

A silent pseudo-terminal stands in for a board whose ROM bootloader never answers, and real
esptool gives up on it exactly as on hardware. For everything past the connect, the esptool.cmds
functions are replaced by fakes that record the call sequence and report progress through
esptool's real logger; the RTS/DTR reset is recorded on a fake pyserial port.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import serial
from esp_pylib.logger import EspLog
from esptool import cmds
from esptool.logger import log as esptool_log
from esptool.util import FatalError
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from hilrig.errors import ConfigError, FlashError, WrongBoard
from hilrig.flash import (
    FlashOutcome,
    FlashRecords,
    Progress,
    RunningIdentity,
    Stage,
    flash_board,
    flash_if_needed,
    hard_reset_for,
)
from hilrig.flash.esptool_backend import EspHardReset, EsptoolFlasher
from hilrig.flash.firmware import check_firmware
from hilrig.targets.load import parse_target
from hilrig.targets.spec import TargetSpec

V124 = RunningIdentity("3.4.0; MicroPython v1.24.0 on 2024-11-29", "ESP32_GENERIC", 0x2606)


def esp_target(tmp_path: Path, port: str, chip: str = "esp32", **extra: Any) -> TargetSpec:
    board: dict[str, Any] = {"port": port, **extra.pop("board", {})}
    flash = {"tool": "esptool", "chip": chip, "offset": 0x1000, "baud": 460800, **extra}
    data = {"kind": "serial", "name": "esp32", "flash": flash, "boards": [board]}
    return parse_target(data, tmp_path / "esp32.toml")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "ESP32_GENERIC-v1.24.0.bin"
    path.write_bytes(b"\xe9\x03\x02\x20" + bytes(range(256)) * 64)
    return path


class FakeEsp:
    """What detect_chip returns: an ESPLoader for one chip, usable as a context manager."""

    def __init__(self, chip: Any, calls: list[tuple[Any, ...]]) -> None:
        self.CHIP_NAME = chip
        self.calls = calls
        self.IS_STUB = False

    def __enter__(self) -> FakeEsp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append(("close",))

    def read_mac(self, mac_type: str = "BASE_MAC") -> tuple[int, ...]:
        return (0x24, 0x0A, 0xC4, 0x12, 0x34, 0x56)

    def change_baud(self, baud: int) -> None:
        self.calls.append(("change_baud", baud))


class Chip:
    """The fake chip behind esptool.cmds: records the calls in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, chip: str = "ESP32") -> None:
        self.chip = chip
        self.calls: list[tuple[Any, ...]] = []
        self.write_error: Exception | None = None
        for name in (
            "detect_chip",
            "run_stub",
            "attach_flash",
            "erase_flash",
            "write_flash",
            "reset_chip",
        ):
            monkeypatch.setattr(cmds, name, getattr(self, name))

    def detect_chip(
        self,
        port: str,
        baud: int,
        connect_mode: str,
        connect_attempts: int = 7,
        trace_enabled: bool = False,
    ) -> FakeEsp:
        self.calls.append(("detect_chip", port, baud, connect_mode))
        esptool_log.print("Connecting....")  # goes to logging, not stdout
        return FakeEsp(self.chip, self.calls)

    def run_stub(self, esp: FakeEsp) -> FakeEsp:
        self.calls.append(("run_stub",))
        esp.IS_STUB = True
        return esp

    def attach_flash(self, esp: FakeEsp) -> None:
        self.calls.append(("attach_flash",))

    def erase_flash(self, esp: FakeEsp) -> None:
        self.calls.append(("erase_flash",))

    def write_flash(self, esp: FakeEsp, addr_data: list[tuple[int, bytes]], **kw: Any) -> None:
        ((offset, data),) = addr_data
        self.calls.append(("write_flash", offset, data))
        with esptool_log.progress(total=len(data), unit="B") as bar:
            bar.update(len(data) // 2)
            if self.write_error is not None:
                raise self.write_error
            bar.update(len(data) - len(data) // 2)

    def reset_chip(self, esp: FakeEsp, reset_mode: str = "hard-reset") -> None:
        self.calls.append(("reset_chip", reset_mode))


def test_flash_sequence(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pty_port: str,
    image: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    chip = Chip(monkeypatch)
    spec = esp_target(tmp_path, pty_port)
    reports: list[Progress] = []
    logger_before = EspLog.instance
    flash_board(
        spec, spec.boards[0], image, progress=reports.append, records=FlashRecords(tmp_path / "rec")
    )
    assert chip.calls == [
        ("detect_chip", pty_port, 115200, "default-reset"),
        ("run_stub",),
        ("change_baud", 460800),
        ("attach_flash",),
        ("write_flash", 0x1000, image.read_bytes()),
        ("reset_chip", "hard-reset"),
        ("close",),
    ]
    assert Progress(Stage.WRITE, 0.5) in reports and Progress(Stage.WRITE, 1.0) in reports
    assert EspLog.instance is logger_before
    assert capfd.readouterr() == ("", "")


def test_erase_first_when_the_target_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pty_port: str, image: Path
) -> None:
    chip = Chip(monkeypatch)
    spec = esp_target(tmp_path, pty_port, erase=True)
    flash_board(spec, spec.boards[0], image, records=FlashRecords(tmp_path))
    names = [call[0] for call in chip.calls]
    assert names.index("attach_flash") < names.index("erase_flash") < names.index("write_flash")


def test_wrong_chip_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pty_port: str, image: Path
) -> None:
    chip = Chip(monkeypatch, chip="ESP32-S3")
    spec = esp_target(tmp_path, pty_port)
    with pytest.raises(WrongBoard) as info:
        flash_board(spec, spec.boards[0], image, records=FlashRecords(tmp_path))
    assert "is an ESP32 in" in str(info.value) and "is an ESP32-S3" in str(info.value)
    assert [call[0] for call in chip.calls] == ["detect_chip", "close"]


def test_wrong_mac_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pty_port: str, image: Path
) -> None:
    chip = Chip(monkeypatch)
    spec = esp_target(tmp_path, pty_port, board={"mac": "24:0a:c4:00:00:01"})
    with pytest.raises(WrongBoard, match="should have MAC 24:0a:c4:00:00:01.*24:0a:c4:12:34:56"):
        flash_board(spec, spec.boards[0], image, records=FlashRecords(tmp_path))
    assert "write_flash" not in [call[0] for call in chip.calls]
    right = esp_target(tmp_path, pty_port, board={"mac": "24-0A-C4-12-34-56"})
    flash_board(right, right.boards[0], image, records=FlashRecords(tmp_path))


def test_port_vanishing_mid_flash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pty_port: str, image: Path
) -> None:
    chip = Chip(monkeypatch)
    chip.write_error = serial.SerialException(
        "device reports readiness to read but returned no data "
        "(device disconnected or multiple access on port?)"
    )
    spec = esp_target(tmp_path, pty_port)
    records = FlashRecords(tmp_path / "rec")
    with pytest.raises(FlashError) as info:
        flash_if_needed(spec, spec.boards[0], image, lambda: V124, records=records)
    assert "the serial port went away" in str(info.value)
    assert str(image) in str(info.value) and "of target esp32" in str(info.value)
    assert "reset_chip" not in [call[0] for call in chip.calls]
    assert not (tmp_path / "rec").exists() or not list((tmp_path / "rec").iterdir())


def test_skip_and_reflash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pty_port: str, image: Path
) -> None:
    chip = Chip(monkeypatch)
    spec = esp_target(tmp_path, pty_port)
    records = FlashRecords(tmp_path / "rec")
    board = spec.boards[0]
    assert (
        flash_if_needed(spec, board, image, lambda: V124, records=records).outcome
        is FlashOutcome.FLASHED
    )
    assert (
        flash_if_needed(spec, board, image, lambda: V124, records=records).outcome
        is FlashOutcome.SKIPPED
    )
    assert (
        flash_if_needed(spec, board, image, lambda: V124, force=True, records=records).outcome
        is FlashOutcome.FLASHED
    )
    assert sum(call[0] == "write_flash" for call in chip.calls) == 2


def test_real_esptool_on_a_silent_port(
    tmp_path: Path, pty_port: str, image: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    spec = esp_target(tmp_path, pty_port)
    firmware = check_firmware(image, spec, spec.boards[0])
    flasher = EsptoolFlasher(spec, spec.boards[0], connect_attempts=1)
    with pytest.raises(FlashError) as info:
        flasher.flash(firmware, progress=lambda report: None, timeout_s=30.0)
    message = str(info.value)
    assert "Failed to connect to Espressif device: No serial data received" in message
    assert "hold BOOT while pressing EN/RESET" in message
    assert isinstance(info.value.__cause__, FatalError)
    assert capfd.readouterr() == ("", "")  # esptool's chatter went to logging


def test_real_esptool_on_a_missing_port(tmp_path: Path, image: Path) -> None:
    spec = esp_target(tmp_path, "rfc2217://127.0.0.1:9")
    firmware = check_firmware(image, spec, spec.boards[0])
    with pytest.raises(FlashError, match="Could not open rfc2217://127.0.0.1:9.*close any program"):
        EsptoolFlasher(spec, spec.boards[0]).flash(
            firmware, progress=lambda r: None, timeout_s=30.0
        )


def test_deadline_stops_connect_retries(tmp_path: Path, pty_port: str, image: Path) -> None:
    spec = esp_target(tmp_path, pty_port)
    firmware = check_firmware(image, spec, spec.boards[0])
    start = time.monotonic()
    with pytest.raises(FlashError, match="did not finish within 0.5 s"):
        EsptoolFlasher(spec, spec.boards[0]).flash(firmware, progress=lambda r: None, timeout_s=0.5)
    assert time.monotonic() - start < 3.0  # seven attempts would take about five seconds


def test_unknown_chip_is_a_config_error(tmp_path: Path, pty_port: str, image: Path) -> None:
    spec = esp_target(tmp_path, pty_port, chip="esp33")
    firmware = check_firmware(image, spec, spec.boards[0])
    with pytest.raises(ConfigError, match="'esp33' is not a chip esptool knows.*esp32s3"):
        EsptoolFlasher(spec, spec.boards[0]).flash(firmware, progress=lambda r: None, timeout_s=5.0)


class FakeSerial:
    """A pyserial port that records modem-line changes with their times."""

    def __init__(self, url: str, events: list[tuple[Any, ...]], **kwargs: Any) -> None:
        self.events = events
        self.events.append(("serial_for_url", url, kwargs.get("do_not_open")))
        self._dtr = self._rts = True  # pyserial's defaults: asserted on open

    @property
    def dtr(self) -> bool:
        return self._dtr

    @dtr.setter
    def dtr(self, value: bool) -> None:
        self._dtr = value
        self.events.append(("dtr", value, time.monotonic()))

    @property
    def rts(self) -> bool:
        return self._rts

    @rts.setter
    def rts(self, value: bool) -> None:
        self._rts = value
        self.events.append(("rts", value, time.monotonic()))

    def open(self) -> None:
        self.events.append(("open",))

    def close(self) -> None:
        self.events.append(("close",))


def test_hard_reset_pulses_rts_with_dtr_released(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pty_port: str
) -> None:
    events: list[tuple[Any, ...]] = []
    monkeypatch.setattr(serial, "serial_for_url", lambda url, **kw: FakeSerial(url, events, **kw))
    spec = esp_target(tmp_path, pty_port)
    hard_reset_for(spec, spec.boards[0]).reset(timeout_s=5.0)
    shape = [event[:2] for event in events]
    assert shape == [
        ("serial_for_url", pty_port),
        ("dtr", False),
        ("rts", False),
        ("open",),  # lines released before the port opens
        ("dtr", False),
        ("rts", True),
        ("rts", False),  # EN low for the hold time, IO0 high
        ("close",),
    ]
    assert events[0][2] is True  # do_not_open
    held = events[6][2] - events[5][2]
    assert 0.1 <= held < 0.5


def test_hard_reset_refuses_socket_urls(tmp_path: Path) -> None:
    spec = esp_target(tmp_path, "socket://lab:4000")
    with pytest.raises(FlashError, match="socket:// carries no modem lines; use an rfc2217://"):
        hard_reset_for(spec, spec.boards[0]).reset(timeout_s=1.0)


def test_hard_reset_refuses_micropython_native_usb(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cdc = ListPortInfo("/dev/ttyACM0", skip_link_detection=True)
    cdc.vid, cdc.pid, cdc.serial_number = 0x303A, 0x4001, "7CDFA1E0B0C4"
    monkeypatch.setattr(list_ports, "comports", lambda include_links=False: [cdc])
    data = {
        "kind": "serial",
        "name": "esp32s3",
        "serial": {"reenumerates": True},
        "flash": {"tool": "esptool", "chip": "esp32s3", "offset": 0},
        "boards": [{"vid_pid": "303A:4001"}],
    }
    spec = parse_target(data, tmp_path / "esp32s3.toml")
    reset = hard_reset_for(spec, spec.boards[0])
    assert isinstance(reset, EspHardReset)
    with pytest.raises(FlashError, match="MicroPython's own USB port .*power-cycle"):
        reset.reset(timeout_s=1.0)


def test_esp32s3_blank_chip_is_flashed_on_its_download_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from hilrig.flash.esptool_backend import flash_port

    jtag = ListPortInfo("/dev/ttyACM3", skip_link_detection=True)
    jtag.vid, jtag.pid, jtag.serial_number = 0x303A, 0x1001, "7C:DF:A1:E0:B0:C4"
    monkeypatch.setattr(list_ports, "comports", lambda include_links=False: [jtag])
    data = {
        "kind": "serial",
        "flash": {"tool": "esptool", "chip": "esp32s3", "offset": 0},
        "boards": [{"vid_pid": "303A:4001"}],
    }
    spec = parse_target(data, tmp_path / "esp32s3.toml")
    assert flash_port(spec, spec.boards[0], timeout_s=0.0) == "/dev/ttyACM3"
