"""pyOCD flashing and reset: real pyOCD everywhere it runs without hardware; the probe is fake.

The fakes stand in for what needs a board: the probe list, the opened session and the
FileProgrammer (which needs a live target's memory map). They record the call sequence and raise
pyOCD's own exception classes.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import pytest
from intelhex import IntelHex
from pyocd.board.board_ids import BoardInfo
from pyocd.core import exceptions as pe
from pyocd.core.helpers import ConnectHelper
from pyocd.flash import file_programmer
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
from hilrig.flash.firmware import check_firmware
from hilrig.flash.pyocd_backend import (
    ProbeInfo,
    check_fits_flash,
    check_target_type,
    list_probes,
    select_probe,
)
from hilrig.targets.load import parse_target
from hilrig.targets.spec import TargetSpec

STLINK_ID = "0670FF383234424E43074235"
OTHER_ID = "066DFF555051897267233656"
NUCLEO = BoardInfo("NUCLEO-F429ZI", "stm32f429xi", "nucleo_f429zi.bin")
DEBIAN_MICROBIT_HEX = Path("/usr/share/firmware-microbit-micropython/firmware.hex")
MICROBIT = BoardInfo("micro:bit", "nrf51", "l1_microbit.bin")
V124 = RunningIdentity("3.4.0; MicroPython v1.24.0 on 2024-11-29", "NUCLEO_F429ZI", 0x1606)


class FakeProbe:
    """What pyOCD's DebugProbe exposes before it is opened."""

    def __init__(self, unique_id: str, board: BoardInfo | None = NUCLEO) -> None:
        self.unique_id = unique_id
        self.description = "STM32 STLink"
        self.associated_board_info = board


class Rig:
    """The fake bench: attached probes, the sessions pyOCD would open, what programming does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *probes: FakeProbe) -> None:
        self.probes = list(probes)
        self.calls: list[tuple[Any, ...]] = []
        self.open_error: Exception | None = None
        self.program_error: Exception | None = None
        monkeypatch.setattr(
            ConnectHelper, "get_all_connected_probes", staticmethod(self.get_all_connected_probes)
        )
        monkeypatch.setattr(
            ConnectHelper, "session_with_chosen_probe", staticmethod(self.session_with_chosen_probe)
        )
        monkeypatch.setattr(file_programmer, "FileProgrammer", self.file_programmer)

    def get_all_connected_probes(
        self, blocking: bool = True, unique_id: str | None = None, print_wait_message: bool = True
    ) -> list[FakeProbe]:
        self.calls.append(("list", blocking))
        return self._matching(unique_id)

    def _matching(self, unique_id: str | None) -> list[FakeProbe]:
        wanted = (unique_id or "").lower()
        return [p for p in self.probes if wanted in p.unique_id.lower()]

    def session_with_chosen_probe(
        self,
        blocking: bool = True,
        return_first: bool = False,
        unique_id: str | None = None,
        auto_open: bool = True,
        options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> FakeSession | None:
        found = self._matching(unique_id)
        assert return_first and not blocking  # never prompt, never wait
        if not found:
            return None
        self.calls.append(("session", found[0].unique_id, kwargs))
        return FakeSession(self, found[0])

    def file_programmer(self, session: FakeSession, **kwargs: Any) -> FakeProgrammer:
        self.calls.append(("programmer", kwargs["chip_erase"], kwargs["smart_flash"]))
        return FakeProgrammer(self, kwargs["progress"])


class FakeSession:
    def __init__(self, rig: Rig, probe: FakeProbe) -> None:
        self.rig = rig
        self.probe = probe
        self.target = FakeTarget(rig)

    def __enter__(self) -> FakeSession:
        self.rig.calls.append(("open",))
        if self.rig.open_error is not None:
            raise self.rig.open_error
        return self

    def __exit__(self, *exc: object) -> None:
        self.rig.calls.append(("close",))


class FakeTarget:
    def __init__(self, rig: Rig) -> None:
        self.rig = rig

    def reset(self, reset_type: object = None) -> None:
        self.rig.calls.append(("reset",))


class FakeProgrammer:
    def __init__(self, rig: Rig, progress: Any) -> None:
        self.rig = rig
        self.progress = progress

    def program(self, file_or_path: Any, file_format: str | None = None, **kwargs: Any) -> None:
        text = file_or_path.read()
        self.rig.calls.append(("program", file_format, kwargs, len(text)))
        for done in (0.0, 0.5):
            self.progress(done)
        if self.rig.program_error is not None:
            raise self.rig.program_error
        self.progress(1.0)


def stm32(tmp_path: Path, **board: str) -> TargetSpec:
    data = {
        "kind": "serial",
        "name": "stm32",
        "flash": {"tool": "pyocd", "target_type": "stm32f429xi", "flash_size": 2097152},
        "boards": [board or {"probe_id": STLINK_ID, "usb_serial": STLINK_ID}],
    }
    return parse_target(data, tmp_path / "stm32.toml")


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    hexfile = IntelHex()
    hexfile.frombytes(bytes(range(256)) * 16, offset=0x08000000)
    path = tmp_path / "firmware.hex"
    hexfile.write_hex_file(str(path))
    return path


@pytest.fixture
def vcp(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ST-Link's virtual COM port, with the probe's serial number, on the USB bus."""
    port = ListPortInfo("/dev/ttyACM0", skip_link_detection=True)
    port.vid, port.pid, port.serial_number = 0x0483, 0x374B, STLINK_ID
    monkeypatch.setattr(list_ports, "comports", lambda include_links=False: [port])


def test_real_pyocd_lists_no_probes_here() -> None:
    probes = list_probes()
    if probes:
        pytest.skip("a debug probe is attached to this machine")
    assert probes == []


def test_real_pyocd_knows_the_target_types(tmp_path: Path) -> None:
    check_target_type(stm32(tmp_path))
    wrong = parse_target(
        {
            "kind": "serial",
            "flash": {"tool": "pyocd", "target_type": "stm32f429zi"},
            "boards": [{"port": "/dev/ttyACM0"}],
        },
        tmp_path / "f429.toml",
    )
    with pytest.raises(ConfigError, match="'stm32f429zi' is not a pyOCD target type.*stm32f429xi"):
        check_target_type(wrong)


def test_flash_sequence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path, vcp: None
) -> None:
    rig = Rig(monkeypatch, FakeProbe(OTHER_ID), FakeProbe(STLINK_ID))
    reports: list[Progress] = []
    result = flash_board(
        stm32(tmp_path),
        stm32(tmp_path).boards[0],
        firmware,
        progress=reports.append,
        records=FlashRecords(tmp_path / "rec"),
    )
    assert result.outcome is FlashOutcome.FLASHED
    session_options = {
        "target_override": "stm32f429xi",
        "frequency": 4_000_000,
        "connect_mode": "halt",
    }
    assert rig.calls == [
        ("list", False),
        ("session", STLINK_ID, session_options),
        ("open",),
        ("programmer", "sector", True),
        ("program", "hex", {}, len(firmware.read_text())),
        ("reset",),
        ("close",),
    ]
    stages = [r.stage for r in reports]
    assert stages[0] is Stage.CONNECT and stages[-1] is Stage.WAIT_PORT
    assert Progress(Stage.WRITE, 0.5) in reports and Stage.RESET in stages


def test_bin_goes_to_the_base_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, vcp: None
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    data = {
        "kind": "serial",
        "flash": {"tool": "pyocd", "target_type": "stm32f429xi", "base_address": 0x08000000},
        "boards": [{"probe_id": STLINK_ID, "usb_serial": STLINK_ID}],
    }
    spec = parse_target(data, tmp_path / "bin.toml")
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"\x00\x10\x02\x20" * 64)
    flash_board(spec, spec.boards[0], path, records=FlashRecords(tmp_path))
    assert ("program", "bin", {"base_address": 0x08000000}, 256) in rig.calls


def test_no_probe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path) -> None:
    rig = Rig(monkeypatch)
    spec = stm32(tmp_path)
    with pytest.raises(FlashError, match="no debug probe attached for board"):
        flash_board(spec, spec.boards[0], firmware, records=FlashRecords(tmp_path))
    assert rig.calls == [("list", False)]


def test_wrong_probe_id_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path
) -> None:
    rig = Rig(monkeypatch, FakeProbe(OTHER_ID))
    spec = stm32(tmp_path)
    with pytest.raises(WrongBoard) as info:
        flash_board(spec, spec.boards[0], firmware, records=FlashRecords(tmp_path))
    assert f"no debug probe with unique ID {STLINK_ID}" in str(info.value)
    assert OTHER_ID in str(info.value)
    assert rig.calls == [("list", False)]


def test_two_probes_unnamed_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID), FakeProbe(OTHER_ID))
    spec = stm32(tmp_path, usb_serial=STLINK_ID)
    with pytest.raises(WrongBoard, match=f"2 debug probes are attached .*{OTHER_ID}.*probe_id"):
        flash_board(spec, spec.boards[0], firmware, records=FlashRecords(tmp_path))
    assert rig.calls == [("list", False)]


def test_probe_on_another_board_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path
) -> None:
    Rig(monkeypatch, FakeProbe("9900000037024e450072801a000000", MICROBIT))
    spec = stm32(tmp_path, usb_serial=STLINK_ID)
    with pytest.raises(WrongBoard, match=r"sits on a micro:bit \(nrf51\), not on the stm32f429xi"):
        flash_board(spec, spec.boards[0], firmware, records=FlashRecords(tmp_path))


def test_select_probe_accepts_a_probe_without_board_info(tmp_path: Path) -> None:
    generic = ProbeInfo("E6614C311B4F8C2B", "ARM DAPLink CMSIS-DAP")
    spec = stm32(tmp_path, usb_serial="x")
    assert select_probe([generic], spec, spec.boards[0]) is generic


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (pe.TransferFaultError("SWD/JTAG Transfer Fault"), "an SWD transfer failed"),
        (pe.ProbeDisconnected("probe disconnected"), "the debug probe disconnected"),
        (
            pe.FlashProgramFailure("flash program page failure", address=0x08000000),
            "write-protected",
        ),
        (OSError(13, "Access denied (insufficient permissions)"), "udev rules"),
    ],
)
def test_library_errors_become_sentences(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    firmware: Path,
    error: Exception,
    words: str,
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    rig.program_error = error
    records = FlashRecords(tmp_path / "rec")
    spec = stm32(tmp_path)
    with pytest.raises(FlashError) as info:
        flash_board(spec, spec.boards[0], firmware, records=records)
    assert words in str(info.value)
    assert f"flashing {firmware} onto board {STLINK_ID} of target stm32" in str(info.value)
    assert info.value.__cause__ is error
    assert rig.calls[-1] == ("close",)  # the session is closed on the error path
    assert records.load(f"probe-{STLINK_ID.lower()}") is None


def test_probe_error_on_open(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    rig.open_error = pe.ProbeError("Unable to open probe: LIBUSB_ERROR_BUSY")
    spec = stm32(tmp_path)
    with pytest.raises(FlashError, match="ProbeError: Unable to open probe"):
        flash_board(spec, spec.boards[0], firmware, records=FlashRecords(tmp_path))
    assert not any(call[0] == "program" for call in rig.calls)


def test_timeout_stops_programming(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    spec = stm32(tmp_path)
    with pytest.raises(FlashError, match=r"did not finish within 0 s \(stopped while connecting\)"):
        flash_board(spec, spec.boards[0], firmware, timeout_s=0.0, records=FlashRecords(tmp_path))
    assert rig.calls == []


def test_hard_reset_attaches_without_halting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    spec = stm32(tmp_path)
    hard_reset_for(spec, spec.boards[0]).reset(timeout_s=5.0)
    assert rig.calls == [
        ("list", False),
        (
            "session",
            STLINK_ID,
            {"target_override": "stm32f429xi", "frequency": 4_000_000, "connect_mode": "attach"},
        ),
        ("open",),
        ("reset",),
        ("close",),
    ]


def test_hard_reset_translates_transfer_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    rig.open_error = pe.TransferError("No ACK received")
    spec = stm32(tmp_path)
    with pytest.raises(FlashError, match="resetting board .* through its debug probe failed"):
        hard_reset_for(spec, spec.boards[0]).reset(timeout_s=5.0)


class Board:
    """What the capability probe would report; counts the questions."""

    def __init__(self, identity: RunningIdentity | None) -> None:
        self.identity = identity
        self.asked = 0

    def __call__(self) -> RunningIdentity | None:
        self.asked += 1
        return self.identity


def programs(rig: Rig) -> int:
    return sum(1 for call in rig.calls if call[0] == "program")


def test_flash_if_needed_skips_a_board_that_runs_the_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path, vcp: None
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    spec, records, board = stm32(tmp_path), FlashRecords(tmp_path / "rec"), Board(V124)
    first = flash_if_needed(spec, spec.boards[0], firmware, board, records=records)
    assert first.outcome is FlashOutcome.FLASHED and first.identity == V124
    second = flash_if_needed(spec, spec.boards[0], firmware, board, records=records)
    assert second.outcome is FlashOutcome.SKIPPED and second.identity == V124
    assert programs(rig) == 1
    assert board.asked == 2  # once after flashing, once to confirm


def test_flash_if_needed_reflashes_when_identity_differs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path, vcp: None
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    spec, records, board = stm32(tmp_path), FlashRecords(tmp_path / "rec"), Board(V124)
    flash_if_needed(spec, spec.boards[0], firmware, board, records=records)
    board.identity = RunningIdentity("3.4.0; MicroPython v1.25.0", "NUCLEO_F429ZI", 0x1606)
    again = flash_if_needed(spec, spec.boards[0], firmware, board, records=records)
    assert again.outcome is FlashOutcome.FLASHED
    assert programs(rig) == 2


def test_flash_if_needed_force(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path, vcp: None
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    spec, records, board = stm32(tmp_path), FlashRecords(tmp_path / "rec"), Board(V124)
    flash_if_needed(spec, spec.boards[0], firmware, board, records=records)
    forced = flash_if_needed(spec, spec.boards[0], firmware, board, force=True, records=records)
    assert forced.outcome is FlashOutcome.FLASHED
    assert programs(rig) == 2


def test_flash_if_needed_flashes_a_board_that_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, firmware: Path, vcp: None
) -> None:
    from hilrig.errors import LinkError

    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    spec, records = stm32(tmp_path), FlashRecords(tmp_path / "rec")
    flash_if_needed(spec, spec.boards[0], firmware, Board(V124), records=records)
    answers: list[RunningIdentity | Exception] = [LinkError("/dev/ttyACM0 sent nothing"), V124]

    def flaky() -> RunningIdentity | None:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert (
        flash_if_needed(spec, spec.boards[0], firmware, flaky, records=records).outcome
        is FlashOutcome.FLASHED
    )
    assert programs(rig) == 2


def test_flash_if_needed_checks_the_file_before_the_probe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    bad = tmp_path / "firmware.hex"
    bad.write_text("not hex\n")
    spec = stm32(tmp_path)
    with pytest.raises(FlashError, match="not an Intel HEX file"):
        flash_if_needed(spec, spec.boards[0], bad, Board(V124), records=FlashRecords(tmp_path))
    assert rig.calls == []


def test_stream_is_the_checked_bytes(tmp_path: Path, firmware: Path) -> None:
    from hilrig.flash.pyocd_backend import _stream

    spec = stm32(tmp_path)
    stream = _stream(check_firmware(firmware, spec, spec.boards[0]))
    assert isinstance(stream, io.StringIO)
    assert IntelHex(stream).tobinstr() == bytes(range(256)) * 16


def test_hard_reset_waits_for_a_native_usb_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A pyboard-like board reset over SWD drops its own USB port and brings it back."""
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    cdc = ListPortInfo("/dev/ttyACM1", skip_link_detection=True)
    cdc.vid, cdc.pid, cdc.serial_number = 0xF055, 0x9802, "206F3282544B"
    scans: list[list[ListPortInfo]] = [[cdc], [], [], [cdc]]
    monkeypatch.setattr(list_ports, "comports", lambda include_links=False: scans.pop(0))
    data = {
        "kind": "serial",
        "serial": {"reenumerates": True},
        "flash": {"tool": "pyocd", "target_type": "stm32f429xi"},
        "boards": [{"probe_id": STLINK_ID, "usb_serial": "206F3282544B"}],
    }
    spec = parse_target(data, tmp_path / "pyboard.toml")
    hard_reset_for(spec, spec.boards[0]).reset(timeout_s=5.0)
    assert ("reset",) in rig.calls
    assert scans == []  # saw it go, then come back


def elf32(paddr: int, data: bytes) -> bytes:
    """A minimal little-endian ARM ELF file with one PT_LOAD segment."""
    header = b"\x7fELF\x01\x01\x01\x00" + bytes(8)
    header += struct.pack("<HHIIIIIHHHHHH", 2, 40, 1, paddr, 52, 0, 0, 52, 32, 1, 40, 0, 0)
    program = struct.pack("<IIIIIIII", 1, 84, paddr, paddr, len(data), len(data), 5, 4)
    return header + program + data


@pytest.mark.skipif(not DEBIAN_MICROBIT_HEX.is_file(), reason="firmware-microbit-micropython")
def test_firmware_of_another_board_is_refused_before_the_probe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rig = Rig(monkeypatch, FakeProbe(STLINK_ID))
    spec = stm32(tmp_path)
    with pytest.raises(FlashError) as info:
        flash_board(spec, spec.boards[0], DEBIAN_MICROBIT_HEX, records=FlashRecords(tmp_path))
    assert "puts data at 0x00000000-0x0003b88b, outside the flash of board" in str(info.value)
    assert "(stm32f429xi: 0x08000000-0x081fffff)" in str(info.value)
    assert rig.calls == []


@pytest.mark.skipif(not DEBIAN_MICROBIT_HEX.is_file(), reason="firmware-microbit-micropython")
def test_debian_microbit_hex_fits_the_nrf51_with_its_uicr(tmp_path: Path) -> None:
    data = {
        "kind": "serial",
        "flash": {"tool": "pyocd", "target_type": "nrf51"},
        "boards": [{"vid_pid": "0D28:0204"}],
    }
    spec = parse_target(data, tmp_path / "microbit.toml")
    check_fits_flash(
        spec, spec.boards[0], check_firmware(DEBIAN_MICROBIT_HEX, spec, spec.boards[0])
    )


def test_elf_and_bin_ranges_are_checked(tmp_path: Path) -> None:
    spec = stm32(tmp_path)
    good, bad = tmp_path / "firmware.elf", tmp_path / "ram.elf"
    good.write_bytes(elf32(0x08000000, b"\x00\x10\x02\x20" * 4))
    bad.write_bytes(elf32(0x20000000, b"\x00" * 16))
    check_fits_flash(spec, spec.boards[0], check_firmware(good, spec, spec.boards[0]))
    with pytest.raises(FlashError, match="puts data at 0x20000000-0x2000000f"):
        check_fits_flash(spec, spec.boards[0], check_firmware(bad, spec, spec.boards[0]))
    binary = tmp_path / "firmware.bin"
    binary.write_bytes(b"\x00" * 64)  # a .bin goes to the boot memory, 0x08000000 on an STM32
    check_fits_flash(spec, spec.boards[0], check_firmware(binary, spec, spec.boards[0]))
