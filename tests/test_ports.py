"""Serial port discovery: pyserial's list_ports with fake USB devices at the comports() boundary."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from hilrig.boards import ports
from hilrig.boards.ports import PortKind, UsbId, classify
from hilrig.errors import ConfigError, LinkError
from hilrig.targets.load import parse_target
from hilrig.targets.spec import TargetSpec


def usb_port(device: str, vid: int, pid: int, serial: str | None = None) -> ListPortInfo:
    """A pyserial ListPortInfo as list_ports_linux fills it for a USB device."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number = vid, pid, serial
    info.description = f"USB device {vid:04X}:{pid:04X}"
    info.location = "1-1.2:1.0"
    info.hwid = info.usb_info()
    return info


class Bus:
    """The USB bus as comports() sees it; ``plan`` lists what each successive scan returns."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *scans: list[ListPortInfo]) -> None:
        self.scans = list(scans)
        self.count = 0
        monkeypatch.setattr(list_ports, "comports", self.comports)

    def comports(self, include_links: bool = False) -> list[ListPortInfo]:
        self.count += 1
        return self.scans[0] if len(self.scans) == 1 else self.scans.pop(0)


def spec_with(tmp_path: Path, **board: str) -> TargetSpec:
    data = {"kind": "serial", "name": "t", "boards": [board], "serial": {"reenumerates": True}}
    return parse_target(data, tmp_path / "t.toml")


@pytest.mark.parametrize(
    ("vid", "pid", "kind"),
    [
        (0xF055, 0x9802, PortKind.MICROPYTHON),
        (0x2E8A, 0x0005, PortKind.MICROPYTHON),
        (0x303A, 0x4001, PortKind.MICROPYTHON),
        (0x303A, 0x1001, PortKind.ESPRESSIF),
        (0x0483, 0x374B, PortKind.PROBE_VCP),
        (0x0D28, 0x0204, PortKind.PROBE_VCP),
        (0x10C4, 0xEA60, PortKind.USB_UART),
        (0x1A86, 0x7523, PortKind.USB_UART),
        (0x0403, 0x6001, PortKind.USB_UART),
        (0x046D, 0xC52B, PortKind.OTHER),
    ],
)
def test_classify(vid: int, pid: int, kind: PortKind) -> None:
    assert classify(UsbId(vid, pid))[0] is kind


def test_usb_id_parse() -> None:
    assert UsbId.parse("f055:9802") == UsbId(0xF055, 0x9802)
    assert str(UsbId(0x303A, 0x4001)) == "303A:4001"
    with pytest.raises(ConfigError, match="VVVV:PPPP"):
        UsbId.parse("F055-9802")


def test_list_hides_ports_without_usb_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    legacy = ListPortInfo("/dev/ttyS0", skip_link_detection=True)
    Bus(monkeypatch, [legacy, usb_port("/dev/ttyACM0", 0xF055, 0x9802, "206F3")])
    shown = ports.list_serial_ports()
    assert [p.device for p in shown] == ["/dev/ttyACM0"]
    assert shown[0].likely_board and shown[0].kind_name == "MicroPython (stm32/samd)"
    assert len(ports.list_serial_ports(include_all=True)) == 2


def test_resolve_by_usb_serial(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    Bus(
        monkeypatch,
        [
            usb_port("/dev/ttyACM0", 0x0483, 0x374B, "0670FF38"),
            usb_port("/dev/ttyACM1", 0x0483, 0x374B, "066DFF55"),
        ],
    )
    spec = spec_with(tmp_path, usb_serial="066dff55")
    assert ports.resolve_port(spec, spec.boards[0]) == "/dev/ttyACM1"


def test_resolve_by_vid_pid_refuses_two_matches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    Bus(
        monkeypatch,
        [
            usb_port("/dev/ttyACM0", 0x303A, 0x4001, "A"),
            usb_port("/dev/ttyACM1", 0x303A, 0x4001, "B"),
        ],
    )
    spec = spec_with(tmp_path, vid_pid="303A:4001")
    with pytest.raises(ConfigError, match="2 serial ports match .*Set usb_serial"):
        ports.resolve_port(spec, spec.boards[0])


def test_missing_port_times_out_with_a_sentence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    Bus(monkeypatch, [usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60, "0001")])
    spec = spec_with(tmp_path, usb_serial="E6614C31")
    start = time.monotonic()
    with pytest.raises(LinkError) as info:
        ports.resolve_port(spec, spec.boards[0], timeout_s=0.3)
    assert 0.3 <= time.monotonic() - start < 2.0
    message = str(info.value)
    assert "no serial port with USB serial number E6614C31 is attached (waited 0.3 s)" in message
    assert "/dev/ttyUSB0 10C4:EA60 SER=0001 Silicon Labs CP210x" in message


def test_resolve_waits_for_the_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    back = [usb_port("/dev/ttyACM1", 0x303A, 0x4001, "7C:DF")]
    bus = Bus(monkeypatch, [], [], back)
    spec = spec_with(tmp_path, vid_pid="303A:4001")
    assert ports.resolve_port(spec, spec.boards[0], timeout_s=5.0) == "/dev/ttyACM1"
    assert bus.count == 3


def test_reenumeration_waits_for_the_old_port_to_go(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old = [usb_port("/dev/ttyACM0", 0x303A, 0x4001, "7C:DF")]
    new = [usb_port("/dev/ttyACM1", 0x303A, 0x4001, "7C:DF")]
    Bus(monkeypatch, old, old, [], [], new)
    spec = spec_with(tmp_path, usb_serial="7C:DF")
    assert ports.wait_for_reenumeration(spec, spec.boards[0], timeout_s=5.0) == "/dev/ttyACM1"


def test_urls_pass_through(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, port="rfc2217://lab:2217")
    assert ports.resolve_port(spec, spec.boards[0]) == "rfc2217://lab:2217"


def test_device_path_must_exist(pty_port: str, tmp_path: Path) -> None:
    spec = spec_with(tmp_path, port=pty_port)
    assert ports.resolve_port(spec, spec.boards[0]) == pty_port
    gone = spec_with(tmp_path, port="/dev/ttyNOPE9")
    with pytest.raises(LinkError, match="serial port /dev/ttyNOPE9 does not exist"):
        ports.resolve_port(gone, gone.boards[0], timeout_s=0.1)


def test_real_list_ports_runs_here() -> None:
    for port in ports.list_serial_ports(include_all=True):
        assert port.device.startswith("/dev/")
