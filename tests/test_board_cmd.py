"""``hilrig list`` and ``hilrig flash`` through hilrig.cli.main, as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from esptool import cmds
from esptool.logger import log as esptool_log
from pyocd.board.board_ids import BoardInfo
from pyocd.core.helpers import ConnectHelper
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from hilrig.boards.ports import list_serial_ports
from hilrig.cli import main
from hilrig.flash.pyocd_backend import list_probes
from hilrig.targets.find import find_rootdir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HILRIG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def one_sentence(text: str) -> str:
    assert "Traceback" not in text
    assert text.startswith("hilrig: ") and text.count("\n") == 1, text
    return text


def test_list_with_nothing_attached(capsys: pytest.CaptureFixture[str]) -> None:
    if list_probes() or list_serial_ports():
        pytest.skip("a probe or USB serial port is attached to this machine")
    assert main(["list"]) == 0
    assert capsys.readouterr() == ("No debug probes or serial ports attached.\n", "")


class Probe:
    unique_id = "9900000037024e450072801a00000000"
    description = "ARM DAPLink CMSIS-DAP"
    associated_board_info = BoardInfo("micro:bit", "nrf51", "l1_microbit.bin")


def test_list_marks_likely_boards(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vcp = ListPortInfo("/dev/ttyACM0", skip_link_detection=True)
    vcp.vid, vcp.pid, vcp.serial_number = 0x0D28, 0x0204, Probe.unique_id
    vcp.description = "BBC micro:bit CMSIS-DAP"
    mouse = ListPortInfo("/dev/ttyUSB3", skip_link_detection=True)
    mouse.vid, mouse.pid, mouse.description = 0x067B, 0x2303, "USB-Serial Controller"
    ports = [vcp, mouse, ListPortInfo("/dev/ttyS0", skip_link_detection=True)]
    monkeypatch.setattr(list_ports, "comports", lambda include_links=False: ports)
    monkeypatch.setattr(
        ConnectHelper, "get_all_connected_probes", staticmethod(lambda **kw: [Probe()])
    )
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Debug probes (pyOCD):",
        f"  {Probe.unique_id}  ARM DAPLink CMSIS-DAP  micro:bit [nrf51]",
        "Serial ports:",
        f"  /dev/ttyACM0  0D28:0204 SER={Probe.unique_id}  BBC micro:bit CMSIS-DAP  <- DAPLink VCP",
        "  /dev/ttyUSB3  067B:2303  USB-Serial Controller",
    ]
    assert main(["list", "--all"]) == 0
    assert "/dev/ttyS0  no USB IDs" in capsys.readouterr().out


def test_flash_missing_file(
    in_repo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.hex"
    assert main(["flash", "--target", "stm32", str(missing)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    one_sentence(err)
    assert f"firmware file {missing} does not exist" in err
    assert "board REPLACE-WITH-ST-LINK-ID of target stm32" in err


def test_flash_hex_onto_an_esptool_target(
    in_repo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hexfile = tmp_path / "fw.hex"
    hexfile.write_text(":0400000001020304F2\n:00000001FF\n")
    assert main(["flash", "--target", "esp32", str(hexfile)]) == 1
    err = one_sentence(capsys.readouterr().err)
    assert f"{hexfile} is a .hex file, but esptool targets take a .bin" in err
    assert "board /dev/ttyUSB0 of target esp32" in err


def test_flash_a_target_without_flash_section(
    in_repo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["flash", "--target", "unix", str(tmp_path / "x.hex")]) == 1
    assert "has no [flash] section" in one_sentence(capsys.readouterr().err)


def test_flash_an_unknown_target(in_repo: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flash", "--target", "stm33", "fw.hex"]) == 1
    err = one_sentence(capsys.readouterr().err)
    assert "unknown target 'stm33'" in err and "stm32" in err


def test_flash_board_index_out_of_range(
    in_repo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["flash", "--target", "esp32", "--board", "3", str(tmp_path / "f.bin")]) == 1
    assert "target esp32 has 1 board(s)" in one_sentence(capsys.readouterr().err)


def test_flash_with_progress(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pty_port: str,
    capsys: pytest.CaptureFixture[str],
    cache: Path,
) -> None:
    calls: list[str] = []

    class Esp:
        CHIP_NAME = "ESP32"

        def __enter__(self) -> Esp:
            return self

        def __exit__(self, *exc: object) -> None:
            calls.append("close")

        def change_baud(self, baud: int) -> None:
            calls.append(f"change_baud {baud}")

    def write_flash(esp: Esp, addr_data: list[tuple[int, bytes]], **kw: Any) -> None:
        calls.append(f"write_flash {addr_data[0][0]:#x}")
        with esptool_log.progress(total=100) as bar:
            for _ in range(4):
                bar.update(25)

    def detect_chip(port: str, **kw: Any) -> Esp:
        calls.append("detect")
        return Esp()

    monkeypatch.setattr(cmds, "detect_chip", detect_chip)
    monkeypatch.setattr(cmds, "run_stub", lambda esp: esp)
    monkeypatch.setattr(cmds, "attach_flash", lambda esp: calls.append("attach"))
    monkeypatch.setattr(cmds, "write_flash", write_flash)
    monkeypatch.setattr(cmds, "reset_chip", lambda esp, mode: calls.append(mode))
    bench_target(tmp_path, pty_port)
    monkeypatch.chdir(tmp_path)
    assert main(["flash", "--target", "bench", "--no-verify", "fw.bin"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Flashed fw.bin (sha256 ") and out.endswith(
        f"onto board {pty_port} of target bench.\n"
    )
    assert f"{pty_port}: connecting {pty_port}" in err
    assert f"{pty_port}: writing  50%" in err and f"{pty_port}: writing 100%" in err
    assert calls == [
        "detect",
        "change_baud 460800",
        "attach",
        "write_flash 0x1000",
        "hard-reset",
        "close",
    ]
    assert len(list((cache / "flash").glob("*.json"))) == 1


def test_flash_verifies_the_board_answers(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pty_port: str,
    capsys: pytest.CaptureFixture[str],
    cache: Path,
) -> None:
    """After flashing, hilrig asks the board over its REPL; a silent port fails with a sentence."""
    import hilrig.cli.board_cmd as board_cmd

    monkeypatch.setattr(board_cmd, "VERIFY_TIMEOUT_S", 0.5)
    for name in ("detect_chip", "run_stub", "attach_flash", "write_flash", "reset_chip"):
        monkeypatch.setattr(cmds, name, FakeChipCalls(name))
    bench_target(tmp_path, pty_port)
    monkeypatch.chdir(tmp_path)
    assert main(["flash", "--target", "bench", "fw.bin"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"hilrig: flashed fw.bin onto board {pty_port} of target bench, but ")
    assert "does not answer on its REPL afterwards" in err
    assert not list((cache / "flash").glob("*.json"))  # unverified: the next run flashes


class FakeChipCalls:
    """Stands in for one esptool.cmds function; detect_chip returns a chip object."""

    CHIP_NAME = "ESP32"

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self if self.name in ("detect_chip", "run_stub") else None

    def __enter__(self) -> FakeChipCalls:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def change_baud(self, baud: int) -> None:
        pass


def bench_target(tmp_path: Path, port: str) -> None:
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "bench.toml").write_text(
        'kind = "serial"\n[flash]\ntool = "esptool"\nchip = "esp32"\noffset = 0x1000\n'
        f'[[boards]]\nport = "{port}"\n'
    )
    (tmp_path / "fw.bin").write_bytes(b"\xe9" + b"\xff" * 1023)


def test_find_rootdir(tmp_path: Path) -> None:
    (tmp_path / "proj" / "targets").mkdir(parents=True)
    deep = tmp_path / "proj" / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_rootdir(deep) == tmp_path / "proj"
    assert find_rootdir(REPO / "tests") == REPO
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    assert find_rootdir(lonely) in (lonely, *lonely.parents)


def test_importing_the_cli_and_flash_package_loads_no_flashing_tool() -> None:
    code = (
        "import sys, hilrig.cli, hilrig.flash, hilrig.cli.board_cmd\n"
        "hilrig.cli.build_parser()\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'pyocd', 'esptool', 'esp_pylib'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout == "[]\n"
